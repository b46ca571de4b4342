#!/usr/bin/env bash
# server_live_triage.sh - a 60-frame study streamed in several PATCHes to a
# deferred-length upload is analysed as it arrives: GET /api/v1/studies/ID
# reaches 60 analysed frames, the events stream reports progress, and the
# stored study file equals the source byte for byte; each frame row says
# where its JPEG payload lies in the stream, its mean colour and whether it
# is redundant. A damaged record mid upload becomes one frame error (with no
# payload) and the rest is analysed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python
need_curl

pack_frames 60 "$T/s.csfs"
SIZE=$(stat -c %s "$T/s.csfs")
start_server "$T/data" --analysis-threads 2
new_device
AUTH=(-H "Authorization: Bearer $TOKEN")

# The events stream, read in the background for a few seconds.
curl -s -N --max-time 20 -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$SRV_URL/api/v1/studies/$STUDY/events" >"$T/events" 2>/dev/null &
EV_PID=$!

# upload_in_parts FILE PARTS: PATCH the file in PARTS pieces, deferred length.
upload_in_parts() {
    local file=$1 parts=$2 size off=0 i len
    size=$(stat -c %s "$file")
    tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
    expect_code 201 "create a deferred upload"
    for i in $(seq 1 "$parts"); do
        len=$(( i == parts ? size - off : size / parts ))
        slice "$file" "$off" "$len" "$T/part"
        local extra=()
        [ "$i" = "$parts" ] && extra=(-H "Upload-Length: $size")
        http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $off" \
            "${extra[@]}" --data-binary @"$T/part"
        expect_code 204 "PATCH part $i"
        off=$((off + len))
    done
}

upload_in_parts "$T/s.csfs" 5
wait_analysed "$STUDY" 60
cp "$T/body" "$T/study.json"
py_check "$T/study.json" <<'EOF2' || fail "study state checks failed"
p, c = d["progress"], d["counts"]
if d["state"] != "complete": fail("state %r, expected complete" % d["state"])
if p["frames_analysed"] != 60 or p["frames_received"] != 60: fail("progress %r" % p)
if c["analysed"] != 60 or c["failed"] != 0 or d["errors"]: fail("counts %r errors %r" % (c, d["errors"]))
if p["last_frame_time_us"] != 59 * 250000: fail("last frame time %r" % p["last_frame_time_us"])
if p["bytes_received"] != p["bytes_analysed"]: fail("bytes %r" % p)
EOF2
ID=${UPLOAD##*/}
cmp "$T/s.csfs" "$T/data/uploads/$ID.bin" || fail "the stored study file differs from the source"
ok "60 frames in 5 PATCHes: all analysed, state complete, study file identical"

# frame_rows STUDY: the study's frame rows, one "seq ok payload_offset
# payload_len mean_rgb redundant" line each, read from the store beside the
# running server (store_rows.py: SQLite or PostgreSQL).
frame_rows() {
    python3 - "$T/data" "$1" "$CS_SOURCE_DIR/tests/integration" <<'EOF2'
import sys
sys.path.insert(0, sys.argv[3])
import store_rows
for r in store_rows.query(sys.argv[1], "SELECT seq, ok, payload_offset, payload_len, mean_rgb,"
                          " redundant FROM frames WHERE study = ? ORDER BY seq", (sys.argv[2],)):
    print(*r)
EOF2
}
frame_rows "$STUDY" >"$T/rows"
python3 - "$T/rows" "$T/data/uploads/$ID.bin" "$CS_SOURCE_DIR/tests/integration" <<'EOF2' \
    || fail "per-frame workstation columns are wrong"
import sys
sys.path.insert(0, sys.argv[3])
import csfs
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
stream = open(sys.argv[2], "rb").read()
payloads = [p for _, p in csfs.records([sys.argv[2]])]
assert len(rows) == 60 == len(payloads), (len(rows), len(payloads))
for (seq, ok, off, n, rgb, red), p in zip(rows, payloads):
    assert stream[off:off + n] == p, "frame %d: payload at %d+%d is not the record's" % (seq, off, n)
    assert ok and 0 < rgb <= 0xFFFFFF, (seq, ok, rgb)
    assert red in (0, 1), (seq, red)
assert rows[0][5] == 0, "the first frame is redundant"
EOF2
ok "frame rows: payload offsets point at each record's JPEG, mean colours set, first frame kept"
# The polyp detector runs live too: every ok frame has its probability,
# boxes only where a finding is flagged, and no flagged frame is redundant
# (server_polyp_live.sh checks the values against the CLI and across
# thread counts).
python3 - "$T/data" "$STUDY" "$CS_SOURCE_DIR/tests/integration" <<'EOF2' || fail "polyp columns of the live analysis are wrong"
import json, sys
sys.path.insert(0, sys.argv[3])
import store_rows
rows = store_rows.query(sys.argv[1], "SELECT seq, polyp, polyp_flag, bleeding, boxes, redundant"
                        " FROM frames WHERE study = ? AND ok = 1 ORDER BY seq", (sys.argv[2],))
assert len(rows) == 60, len(rows)
for seq, p, pf, bl, boxes, red in rows:
    assert p is not None and 0.0 <= p <= 1.0, (seq, p)
    assert pf in (0, 1), (seq, pf)
    assert not (red and (pf or bl)), "flagged frame %d is redundant" % seq
    if boxes is not None:
        b = json.loads(boxes)
        assert (pf and b["p"]) or (bl and b["b"]), (seq, pf, bl, b)
    else:
        assert not pf, "polyp frame %d has no boxes" % seq
EOF2
ok "polyp columns: every ok frame scored, boxes only for flagged frames, no flagged frame redundant"

# Rows an older server wrote (a flagged frame marked redundant) must not
# hide the frame: the frame index never reports a flagged frame redundant,
# so no reduced view drops it. Frames 10 and 11 planted as bleeding and as
# polyp frames marked redundant, frame 12 as a plain redundant one.
python3 - "$T/data" "$STUDY" "$CS_SOURCE_DIR/tests/integration" <<'EOF2' || fail "could not plant the old rows"
import sys
sys.path.insert(0, sys.argv[3])
import store_rows
for seq, bl, pf in ((10, 1, 0), (11, 0, 1), (12, 0, 0)):
    store_rows.execute(sys.argv[1], "UPDATE frames SET redundant = 1, bleeding = ?, polyp_flag = ?"
                       " WHERE study = ? AND seq = ?", (bl, pf, sys.argv[2], seq))
EOF2
http GET "/api/v1/studies/$STUDY/frames" -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "GET frames: $CODE $(cat "$T/body")"
python3 - "$T/body" <<'EOF2' || fail "the frame index hides a flagged frame from the reduced view"
import json, sys
flags = json.load(open(sys.argv[1]))["flags"]
BLEEDING, REDUNDANT, POLYP = 4, 8, 64
assert flags[10] & BLEEDING and not flags[10] & REDUNDANT, ("bleeding frame", flags[10])
assert flags[11] & POLYP and not flags[11] & REDUNDANT, ("polyp frame", flags[11])
assert flags[12] & REDUNDANT, ("a plain redundant frame lost its mark", flags[12])
EOF2
ok "the frame index never marks a flagged frame redundant, whatever an older row says"

# --- a damaged record mid-upload ---------------------------------------------
python3 - "$T/s.csfs" "$T/bad.csfs" <<'EOF2'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
pos = -1
for _ in range(31):                 # the 30th record's magic
    pos = b.find(b"CSFR", pos + 1)
b[pos + 100] ^= 0x5A                 # a byte in its payload
open(sys.argv[2], "wb").write(b)
EOF2
new_device
AUTH=(-H "Authorization: Bearer $TOKEN")
upload_in_parts "$T/bad.csfs" 3
wait_analysed "$STUDY" 60
py_check "$T/body" <<'EOF2' || fail "damaged-record checks failed"
c = d["counts"]
if c["analysed"] != 59 or c["failed"] != 1: fail("counts %r" % c)
if len(d["errors"]) != 1 or d["errors"][0]["reason_code"] != "checksum_mismatch": fail("errors %r" % d["errors"])
if d["state"] != "complete": fail("state %r" % d["state"])
EOF2
frame_rows "$STUDY" >"$T/rows"
awk '$2 == 0 && ($4 != 0 || $6 != 0) { bad = 1 } $2 == 1 && $4 == 0 { bad = 1 }
     END { exit bad }' "$T/rows" \
    || fail "the damaged frame has a payload or is redundant, or a good one has none: $(cat "$T/rows")"
[ "$(awk '$2 == 0' "$T/rows" | wc -l)" = 1 ] || fail "expected one failed frame row"
ok "a damaged record is one frame error; the other 59 are analysed"

for i in $(seq 1 100); do   # the last event may trail the last GET a little
    grep -q '"frames_analysed":60' "$T/events" && break
    sleep 0.1
done
kill "$EV_PID" 2>/dev/null || true
wait "$EV_PID" 2>/dev/null || true
grep -q '^event: progress' "$T/events" || fail "the events stream sent no progress event"
grep '^data: ' "$T/events" | tail -n 1 | sed 's/^data: //' >"$T/last-event.json"
[ "$(json_get "$T/last-event.json" 'd["progress"]["frames_analysed"]')" = 60 ] \
    || fail "the last progress event does not show 60 frames"
ok "server-sent events: progress events up to 60 analysed frames"

# A hub that misbehaves (server_tus_hostile.py): the store and the study
# stream after each case, on SQLite and on PostgreSQL.
pack_frames 8 "$T/h.csfs"
python3 "$(dirname "$0")/server_tus_hostile.py" "$SRV_URL" "$ADMIN_TOKEN" "$T/data" "$T/h.csfs" \
    || fail "hostile hub cases"
cs_finish
