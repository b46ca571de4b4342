#!/usr/bin/env bash
# server_polyp_live.sh - `capscreen serve` runs the polyp detector on live
# studies (issue 13): with the default models every ok frame row gets the
# polyp probability and decision, a flagged frame its boxes (in the frame's
# pixels), the study its polyp counter; the frames index the viewer reads
# carries them; a polyp frame that repeats the last kept frame is never
# hidden by the reduced view (a clean repeat is); the rows are the same with
# 1 and 3 analysis threads (two studies at once); a site's polyp_threshold
# flags live frames at it (/metrics and the audit log's server.start entry
# show the threshold in use); a study whose upload spans two restarts at
# another threshold keeps each frame's flag and lists both settings; a
# damaged polyp weights file stops `serve` with the reason. Frames: samples/demo (a clean frame twice, then a frame
# with a pasted polyp three times, samples/README.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

DEMO=$CS_SOURCE_DIR/samples/demo/frames
[ -f "$DEMO/demo-0032p2.jpg" ] || die "samples/demo has no polyp frames (tools/make-demo.sh)"
mkdir -p "$T/frames"
# f01 f02: one clean frame twice; f03..f05: one polyp frame three times;
# f06: the clean frame again (kept: it differs from the polyp frame).
for n in 1 2 6; do ln -s "$DEMO/demo-0031.jpg" "$T/frames/f0$n.jpg"; done
for n in 3 4 5; do ln -s "$DEMO/demo-0032p2.jpg" "$T/frames/f0$n.jpg"; done
"$CAPSCREEN" pack --fps 4 "$T/frames" "$T/s.csfs" >/dev/null 2>"$T/pack.err" || die "pack: $(cat "$T/pack.err")"
# What the CLI's engine says of the polyp frame: the server must agree.
"$CAPSCREEN" analyze "$T/frames" >"$T/cli.json" 2>/dev/null || die "analyze failed"

# import_study DATA LABEL: import s.csfs, print the study id.
import_study() {
    "$CAPSCREEN" study import --data "$1" --label "$2" "$T/s.csfs" >"$T/import.out" 2>"$T/import.err" ||
        die "study import: $(cat "$T/import.err")"
    tail -n 1 "$T/import.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])'
}
# wait_rows DATA STUDY N: wait (bounded) until N frame rows are stored.
wait_rows() {
    local i
    for i in $(seq 1 600); do
        [ "$(python3 - "$1" "$2" "$CS_SOURCE_DIR/tests/integration" <<'EOF2'
import sys
sys.path.insert(0, sys.argv[3])
import store_rows
print(store_rows.query(sys.argv[1], "SELECT COUNT(*) FROM frames WHERE study = ?",
                       (sys.argv[2],))[0][0])
EOF2
)" -ge "$3" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || die "the server exited: $(tail -3 "$T/srv.err")"
        sleep 0.1
    done
    die "study $2 never reached $3 stored frames"
}
# rows DATA STUDY: the study's analysis results, one JSON line per frame.
rows() {
    python3 - "$1" "$2" "$CS_SOURCE_DIR/tests/integration" <<'EOF2'
import json, sys
sys.path.insert(0, sys.argv[3])
import store_rows
for r in store_rows.query(sys.argv[1], "SELECT seq, ok, bleeding_probability, bleeding, polyp,"
                          " polyp_flag, boxes, redundant, mean_rgb FROM frames WHERE study = ?"
                          " ORDER BY seq", (sys.argv[2],)):
    print(json.dumps(r))
EOF2
}

# --- default models, one analysis thread ------------------------------------
D1=$T/d1
mkdir -p "$D1"
echo "pw-reader-0123456789" | "$CAPSCREEN" user add --data "$D1" --name reader --role reader \
    >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
S1=$(import_study "$D1" one)
start_server "$D1" --analysis-threads 1
wait_rows "$D1" "$S1" 6
rows "$D1" "$S1" >"$T/rows1"
python3 - "$T/rows1" "$T/cli.json" <<'EOF2' || fail "polyp fields of the live analysis are wrong"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cli = json.load(open(sys.argv[2]))["frames"]
assert len(rows) == 6, rows
for (seq, ok, bp, bl, pp, pf, boxes, red, rgb), c in zip(rows, cli):
    assert ok == 1 and pp is not None, ("frame %d: no polyp probability" % seq, rows)
    assert abs(pp - c["polyp_probability"]) < 1e-5, (seq, pp, c["polyp_probability"])
    assert pf == int(c["polyp"]), (seq, pf, c["polyp"])
    flagged = pf == 1 or (bl == 1 and len(c["boxes"]) > 0)
    assert (boxes is not None) == flagged, ("boxes stored iff flagged", seq, boxes)
    if boxes:
        b = json.loads(boxes)
        assert b["w"] == c["width"] and b["h"] == c["height"], b
        assert (len(b["p"]) > 0) == (pf == 1) and (len(b["b"]) > 0) == (bl == 1 and len(c["boxes"]) > 0), b
        for x, y, w, h, s in b["p"] + b["b"]:
            assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= b["w"] and y + h <= b["h"], b
            assert 0 <= s <= 1000, b
        if pf:  # the top polyp box is the CLI's, in pixels
            t = c["polyp_boxes"][0]
            assert b["p"][0][:4] == [t["x"], t["y"], t["w"], t["h"]], (b["p"][0], t)
# the clean frame is not a polyp, the pasted one is (samples/README.md)
assert rows[0][5] == 0 and all(r[5] == 1 for r in rows[2:5]), [r[4:6] for r in rows]
assert rows[1][7] == 1, "a clean repeat should be redundant: %r" % rows[1]
assert all(r[7] == 0 for r in rows[2:5]), "a polyp frame was hidden as redundant: %r" % rows
EOF2
ok "live polyp results: every frame scored as the CLI scores it, boxes for flagged frames, polyp repeats never redundant"

# The frames index and the counters, as the viewer and the worklist read them.
http POST /api/v1/session -c "$T/r.jar" -d '{"user": "reader", "password": "pw-reader-0123456789"}'
expect_code 200 "reader login"
http GET "/api/v1/studies/$S1/frames" -b "$T/r.jar"
expect_code 200 "frames index"
python3 - "$T/body" "$T/rows1" <<'EOF2' || fail "the frames index lacks or misstates the polyp fields"
import json, sys
d = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
assert d["count"] == 6 and len(d["polyp_p"]) == 6, d
for seq, r in enumerate(rows):
    assert d["polyp_p"][seq] == int(r[4] * 1000 + 0.5), (seq, d["polyp_p"][seq], r[4])
    assert bool(d["flags"][seq] & 64) == bool(r[5]), (seq, d["flags"][seq])
    assert d["flags"][seq] & 128, "has_polyp bit missing at %d" % seq
    assert bool(d["flags"][seq] & 8) == bool(r[7]), seq
    if r[6]:
        assert d["boxes"][str(seq)] == json.loads(r[6]), (seq, d["boxes"].get(str(seq)))
    else:
        assert str(seq) not in d["boxes"], seq
EOF2
http GET /api/v1/worklist -b "$T/r.jar"
expect_code 200 "worklist"
python3 - "$T/body" "$S1" "$T/rows1" <<'EOF2' || fail "the worklist's polyp count is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
n = sum(json.loads(l)[5] for l in open(sys.argv[3]))
s = [s for s in d["studies"] if s["study"] == sys.argv[2]][0]
assert s["counts"]["polyp"] == n and n >= 3, (s["counts"], n)
EOF2
http GET "/api/v1/studies/$S1" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 200 "study JSON"
python3 - "$T/body" "$T/rows1" "$CS_SOURCE_DIR/models/polyp-unet.bin" "$T/cli.json" <<'EOF2' || fail "the study JSON's polyp count or operating point is wrong"
import json, struct, sys
d = json.load(open(sys.argv[1]))
n = sum(json.loads(l)[5] for l in open(sys.argv[2]))
assert d["counts"]["polyp"] == n, (d["counts"], n)
# every frame analysed at one operating point: these weights, their threshold
crc = "%08x" % struct.unpack("<I", open(sys.argv[3], "rb").read()[-4:])[0]
want = json.load(open(sys.argv[4]))["polyp_model"]["weights_threshold"]
p = d["polyp_settings"]
assert len(p) == 1 and d["polyp_settings_total"] == 1 and p[0]["weights_crc32c"] == crc, (p, crc)
assert abs(p[0]["threshold"] - want) < 1e-7 and (p[0]["frames"], p[0]["first_seq"], p[0]["last_seq"]) == (6, 0, 5), p
EOF2
ok "frames index: polyp_p, flag bits 64/128 and boxes by seq; worklist and study JSON count polyps; the study JSON names the one operating point (weights CRC, threshold)"
curl -s "$SRV_URL/metrics" >"$T/metrics1" || fail "GET /metrics"
python3 - "$T/metrics1" "$T/cli.json" <<'EOF2' || fail "/metrics does not show the weights' polyp threshold"
import json, sys
g = [l for l in open(sys.argv[1]) if l.startswith("capscreen_polyp_threshold ")]
want = json.load(open(sys.argv[2]))["polyp_model"]["weights_threshold"]
assert len(g) == 1 and abs(float(g[0].split()[1]) - want) < 1e-5, (g, want)
EOF2
ok "/metrics: capscreen_polyp_threshold is the weights' own by default"
# audit_start FILE WANT_THRESHOLD SITE(0|1): the newest server.start entry
# names the polyp weights by their CRC-32C and the threshold in force.
audit_start() {
    http GET "/api/v1/audit?action=server.start" -H "Authorization: Bearer $ADMIN_TOKEN"
    expect_code 200 "audit query"
    python3 - "$T/body" "$CS_SOURCE_DIR/models/polyp-unet.bin" "$@" <<'EOF2'
import json, re, struct, sys
e = json.load(open(sys.argv[1]))["entries"]
assert e and e[0]["action"] == "server.start" and e[0]["user"] == "", e[:1]
d = e[0]["detail"]
crc = struct.unpack("<I", open(sys.argv[2], "rb").read()[-4:])[0]
assert "polyp-unet.bin crc32c %08x " % crc in d, (d, "%08x" % crc)
t = float(re.search(r"polyp weights \S+ crc32c \w+ threshold (\S+)", d).group(1))
assert abs(t - float(sys.argv[3])) <= 1e-6 * t, (d, sys.argv[3])
assert ("site setting" in d) == (sys.argv[4] == "1"), d
EOF2
}
audit_start "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["polyp_model"]["weights_threshold"])' "$T/cli.json")" 0 ||
    fail "no server.start audit entry with the weights and their own threshold"
ok "audit: server.start names the polyp weights (CRC-32C) and the threshold in force"
stop_server

# --- 3 analysis threads, two studies at once: the same rows ---------------
D3=$T/d3
mkdir -p "$D3"
own_store "$D3"
A=$(import_study "$D3" a)
B=$(import_study "$D3" b)
start_server "$D3" --analysis-threads 3
wait_rows "$D3" "$A" 6
wait_rows "$D3" "$B" 6
rows "$D3" "$A" >"$T/rowsA"
rows "$D3" "$B" >"$T/rowsB"
cmp -s "$T/rows1" "$T/rowsA" && cmp -s "$T/rows1" "$T/rowsB" ||
    fail "rows differ between 1 and 3 analysis threads: $(diff "$T/rows1" "$T/rowsA" | head -5)"
ok "1 vs 3 analysis threads (two studies at once): identical frame rows, polyp fields and boxes included"
stop_server

# --- a site's own threshold (polyp_threshold) flags live frames at it -------
# Just under the clean frame's probability: the clean frames are flagged
# too, the probabilities unchanged; /metrics and the log say which runs.
T_LOW=$(python3 -c 'import json,sys; print("%.9g" % (json.load(open(sys.argv[1]))["frames"][0]["polyp_probability"] * 0.99))' "$T/cli.json")
D5=$T/d5
mkdir -p "$D5"
own_store "$D5"
S5=$(import_study "$D5" site)
start_server "$D5" --polyp-threshold "$T_LOW"
wait_rows "$D5" "$S5" 6
rows "$D5" "$S5" >"$T/rows5"
curl -s "$SRV_URL/metrics" >"$T/metrics5" || fail "GET /metrics"
python3 - "$T/rows5" "$T/rows1" "$T/metrics5" "$T_LOW" <<'EOF2' || fail "live frames are not flagged at the site threshold"
import json, sys
site = [json.loads(l) for l in open(sys.argv[1])]
own = [json.loads(l) for l in open(sys.argv[2])]
t = float(sys.argv[4])
assert [r[4] for r in site] == [r[4] for r in own], "the probabilities moved"
assert all(r[5] == int(r[4] >= t) for r in site), [(r[4], r[5]) for r in site]
assert own[0][5] == 0 and site[0][5] == 1, "the clean frame should be flagged at %g: %r" % (t, site[0])
g = [l for l in open(sys.argv[3]) if l.startswith("capscreen_polyp_threshold ")]
assert len(g) == 1 and abs(float(g[0].split()[1]) - t) < 1e-6 * t, (g, t)
EOF2
http GET "/api/v1/studies/$S5" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 200 "study JSON at the site threshold"
python3 - "$T/body" "$T_LOW" <<'EOF2' || fail "the study JSON does not name the site threshold its frames were flagged at"
import json, struct, sys
p = json.load(open(sys.argv[1]))["polyp_settings"]
t = struct.unpack("<f", struct.pack("<f", float(sys.argv[2])))[0]  # the float in force
assert len(p) == 1 and p[0]["threshold"] == t and p[0]["frames"] == 6, (p, t)
EOF2
grep -q "polyp threshold .*site setting" "$T/srv.err" || fail "serve did not log the site threshold"
audit_start "$T_LOW" 1 || fail "the server.start audit entry does not record the site threshold"
ok "serve --polyp-threshold $T_LOW: live frames flagged at it, probabilities unchanged, shown on /metrics, in the study JSON and in the log"
stop_server

# --- a server restarted mid-study at another threshold ----------------------
# One live study over tus, its upload cut between records twice: frames 0-1
# analysed at the weights' own threshold, the server restarted with
# --polyp-threshold T_LOW for frames 2-3, then restarted without it for 4-5
# (A, B, A). Each frame keeps the flag it was stored with; the study JSON
# lists both settings in frame order, A's span around B's.
D7=$T/d-restart
mkdir -p "$D7"
own_store "$D7"
start_server "$D7"
new_device
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
expect_code 201 "create a deferred upload"
S7=$STUDY
patch_records "$T/s.csfs" 0 1
wait_rows "$D7" "$S7" 2
stop_server
start_server "$D7" --polyp-threshold "$T_LOW"
patch_records "$T/s.csfs" 2 3
wait_rows "$D7" "$S7" 4
stop_server
start_server "$D7"
patch_records "$T/s.csfs" 4 5
wait_rows "$D7" "$S7" 6
rows "$D7" "$S7" >"$T/rows7"
http GET "/api/v1/studies/$S7" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 200 "study JSON at two settings"
python3 - "$T/body" "$T/rows7" "$T/rows1" "$T_LOW" "$T/cli.json" <<'EOF2' || fail "a study analysed across restarts at two thresholds is not listed as two settings"
import json, struct, sys
d = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
own = [json.loads(l) for l in open(sys.argv[3])]
f32 = lambda x: struct.unpack("<f", struct.pack("<f", float(x)))[0]  # the float in force
low = f32(sys.argv[4])
weights = f32(json.load(open(sys.argv[5]))["polyp_model"]["weights_threshold"])
assert [r[4] for r in rows] == [r[4] for r in own], "the probabilities moved across restarts"
# each frame flagged at the threshold in force when it was analysed
at = [weights, weights, low, low, weights, weights]
assert [r[5] for r in rows] == [int(r[4] >= t) for r, t in zip(rows, at)], [(r[4], r[5]) for r in rows]
p = d["polyp_settings"]
assert d["polyp_settings_total"] == 2 and len(p) == 2, d
got = [(e["threshold"], e["frames"], e["first_seq"], e["last_seq"]) for e in p]
assert got == [(weights, 4, 0, 5), (low, 2, 2, 3)], got
assert p[0]["weights_crc32c"] == p[1]["weights_crc32c"], p
EOF2
ok "a study analysed across two restarts (threshold A, then $T_LOW, then A): each frame flagged at the threshold in force, the study JSON lists the two settings in frame order"
stop_server
for bad in 0 1.5 x; do
    set +e
    timeout 30 "$CAPSCREEN" serve --listen 127.0.0.1:0 --data "$T/d6" --polyp-threshold "$bad" \
        >"$T/t.out" 2>"$T/t.err"
    RC=$?
    set -e
    [ "$RC" = 2 ] && grep -q polyp_threshold "$T/t.err" || fail "serve --polyp-threshold $bad: exit $RC $(cat "$T/t.err")"
done
ok "serve refuses a polyp threshold outside (0, 1) with the reason"

# --- a damaged polyp weights file stops serve with the reason --------------
POLYP=$CS_SOURCE_DIR/models/polyp-unet.bin
[ -f "$POLYP" ] || die "no models/polyp-unet.bin"
python3 - "$POLYP" "$T/bad.bin" <<'EOF2'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0xFF
open(sys.argv[2], "wb").write(b)
EOF2
set +e
timeout 30 "$CAPSCREEN" serve --listen 127.0.0.1:0 --data "$T/d4" --polyp-model "$T/bad.bin" \
    >"$T/bad.out" 2>"$T/bad.err"
RC=$?
set -e
[ "$RC" != 0 ] && [ "$RC" != 124 ] || fail "serve with damaged polyp weights: exit $RC"
grep -q "bad.bin" "$T/bad.err" || fail "the error does not name the weights file: $(cat "$T/bad.err")"
grep -q listening "$T/bad.out" && fail "serve listened with damaged polyp weights"
ok "damaged polyp weights: serve exits $RC: $(head -c 160 "$T/bad.err")"
cs_finish
