#!/usr/bin/env bash
# fault_uplink.sh - a study of CS_FAULT_FRAMES (default 20,000) frames
# streams from a hub to the hospital over a bad link, and nothing is lost.
#
# Two network namespaces joined by a veth pair (netlab.sh): the uplink runs
# in "hub", the server in "hospital". Faults: a mobile link's round trip of
# 300 ms (+-30 ms of jitter; CS_FAULT_RTT_MS, CS_FAULT_JITTER_MS) and 5%
# packet loss each way for the whole run, by the link emulator cs-linkemu
# (netlab_delay; this kernel has no netem), the link capped at 40 Mbit/s
# (CS_FAULT_RATE), 20 link cuts of 0-1.9 s at random moments, one kill -9
# of the server (restarted) and one kill -9 of the uplink (restarted). The
# uplink runs with its default, adaptive PATCH sizes. Afterwards:
#   - the server's study file parses with no damage and holds frames
#     0..N-1 exactly once, in order;
#   - every frame's bytes equal the file the recorder dropped in the spool;
#   - the server analysed every frame (GET /api/v1/studies/ID);
#   - both emulators carried the traffic to the end (their counters).
# 3.5 minutes on the project's 2-core VM with other builds running, 7 at a
# load average of 15 (about 1 of them the cut phase), so the full 20,000
# frames stay within CI's time.
# Randomness is seeded (CS_FAULT_SEED) so a failure can be replayed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/netlab.sh"
need_python
need_curl
need_uplink
netlab_require_delay

N=${CS_FAULT_FRAMES:-20000}
RANDOM=${CS_FAULT_SEED:-20261125}
NET=csf$(($$ % 100000))
PORT=8080
URL=http://10.77.0.2:$PORT
frames_dir=${CS_SOURCE_DIR}/samples/demo/frames
[ -d "$frames_dir" ] || die "demo frames missing at $frames_dir"

SERVER_PID= UPLINK_PID=
fault_cleanup() {
    [ -z "$UPLINK_PID" ] || kill -KILL "$UPLINK_PID" 2>/dev/null || true
    [ -z "$SERVER_PID" ] || kill -KILL "$SERVER_PID" 2>/dev/null || true
    netlab_down "$NET"
    cs_cleanup
}
trap fault_cleanup EXIT

netlab_up "$NET"
netlab_delay "$NET" "${CS_FAULT_RTT_MS:-300}" "${CS_FAULT_JITTER_MS:-30}" 5
netlab_rate "$NET" "${CS_FAULT_RATE:-40mbit}" 2>/dev/null

# Background processes start through `ip netns exec` directly (it execs
# the command), so $! is the server or uplink itself and kill -9 hits it,
# not a wrapping subshell.
start_hospital() {
    CAPSCREEN_ADMIN_TOKEN="$ADMIN_TOKEN" ip netns exec "$NET-hospital" "$CAPSCREEN" serve \
        --listen "10.77.0.2:$PORT" --data "$T/data" --analysis-threads 2 \
        >>"$T/srv.out" 2>>"$T/srv.err" &
    SERVER_PID=$!
    local i
    for i in $(seq 1 400); do
        [ "$(netlab_hospital "$NET" curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -3 "$T/srv.err")"
        sleep 0.05
    done
    die "server never answered /healthz"
}
start_hub() {
    ip netns exec "$NET-hub" "$UPLINK" run --state "$T/state" --spool "$T/spool" --server "$URL" \
        --status-file "$T/status.json" --finish --backoff-min-ms 100 --backoff-max-ms 2000 \
        --connect-timeout 3 --low-speed 1000:3 --seed "$RANDOM" \
        >>"$T/uplink.out" 2>>"$T/uplink.err" &
    UPLINK_PID=$!
}
# api PATH [curl args]: the admin API, from inside the hospital.
api() { local path=$1; shift; netlab_hospital "$NET" curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "$URL$path"; }

start_hospital
api /api/v1/studies -X POST -d '{"label":"fault test"}' >"$T/study.json"
STUDY=$(json_get "$T/study.json" 'd["study"]')
CODE_=$(json_get "$T/study.json" 'd["enrolment_code"]')
netlab_hub "$NET" "$UPLINK" enrol --server "$URL" --code "$CODE_" --state "$T/state" >/dev/null \
    || die "enrolment over the lossy link failed: $(cat "$T/uplink.err" 2>/dev/null)"

# The recorder: N frames dropped into the spool (write, then rename into
# place), then the end-of-study marker. A copy of each frame's bytes is kept
# by name for the final comparison.
mkdir -p "$T/spool"
python3 - "$frames_dir" "$T/spool" "$N" <<'PY'
import os, sys
src, spool, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
frames = sorted(f for f in os.listdir(src) if f.endswith(".jpg"))
for i in range(n):
    data = open(os.path.join(src, frames[i % len(frames)]), "rb").read()
    tmp = os.path.join(spool, "f%06d.tmp" % i)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(spool, "f%06d.jpg" % i))
open(os.path.join(spool, "study.end"), "w").close()
PY
start_hub

# The fault schedule: 20 cuts; the server dies after the 7th, the uplink
# after the 14th. Each wait is bounded by the test's own deadline.
deadline=$((SECONDS + ${CS_FAULT_TIMEOUT:-1500}))
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state",""))' "$T/status.json" 2>/dev/null || true; }
cuts=0
for cut in $(seq 1 20); do
    [ "$(state)" = finished ] && die "the upload finished after $cuts cuts: too short for the fault schedule (raise CS_FAULT_FRAMES or lower CS_FAULT_RATE)"
    sleep "0.$((RANDOM % 9 + 1))"
    netlab_cut "$NET"
    sleep "$((RANDOM % 2)).$((RANDOM % 10))"
    netlab_mend "$NET"
    cuts=$cut
    if [ "$cut" = 7 ]; then
        kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
        kill -0 "$SERVER_PID" 2>/dev/null && die "the server survived kill -9"
        start_hospital
        echo "fault: server killed and restarted after cut 7"
    fi
    if [ "$cut" = 14 ]; then
        kill -KILL "$UPLINK_PID"; wait "$UPLINK_PID" 2>/dev/null || true
        kill -0 "$UPLINK_PID" 2>/dev/null && die "the uplink survived kill -9"
        start_hub
        echo "fault: uplink killed and restarted after cut 14"
    fi
done
echo "fault: $cuts link cuts done; waiting for the upload to finish"
until [ "$(state)" = finished ]; do
    [ $SECONDS -lt $deadline ] || die "upload not finished in time; status: $(cat "$T/status.json")"
    kill -0 "$UPLINK_PID" 2>/dev/null || { wait "$UPLINK_PID" || true; [ "$(state)" = finished ] && break; die "uplink exited: $(tail -5 "$T/uplink.err")"; }
    sleep 0.2
done
until api "/api/v1/studies/$STUDY" >"$T/final.json" &&
      [ "$(json_get "$T/final.json" 'd["progress"]["frames_analysed"]')" -ge "$N" ]; do
    [ $SECONDS -lt $deadline ] || die "analysis incomplete: $(head -c 400 "$T/final.json")"
    sleep 0.2
done

# The study file: the server's uploads for this study, joined in creation
# order ("n" is the creation sequence), read strictly record by record.
python3 - "$T/data" "$STUDY" "$frames_dir" "$N" "$CS_LIB_DIR" <<'PY' || fail "study file check failed"
import hashlib, os, sqlite3, sys
data, study, frames_dir, n, lib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, lib)
import csfs
db = sqlite3.connect(os.path.join(data, "capscreen.db"))
ids = [r[0] for r in db.execute("SELECT id FROM uploads WHERE study = ? ORDER BY n", (study,))]
if not ids:
    sys.exit("no uploads recorded for study %s" % study)
frames = sorted(f for f in os.listdir(frames_dir) if f.endswith(".jpg"))
want = [hashlib.sha256(open(os.path.join(frames_dir, f), "rb").read()).digest() for f in frames]
seen = []
try:
    for idx, payload in csfs.records([os.path.join(data, "uploads", u + ".bin") for u in ids]):
        if hashlib.sha256(payload).digest() != want[idx % len(want)]:
            sys.exit("frame %d: bytes differ from the spooled frame" % idx)
        seen.append(idx)
except ValueError as e:
    sys.exit(str(e))
if seen != list(range(n)):
    dup = len(seen) - len(set(seen))
    missing = sorted(set(range(n)) - set(seen))[:5]
    sys.exit("frames not exactly once in order: %d records, %d duplicates, missing %s" % (len(seen), dup, missing))
print("study file: %d uploads, %d frames 0..%d exactly once, bytes identical" % (len(ids), n, n - 1))
PY
py_check "$T/final.json" <<PY || fail "analysis check failed"
p = d["progress"]
if p["frames_analysed"] != $N or p["frames_received"] != $N: fail("progress %r" % p)
if d["counts"]["failed"] != 0: fail("frames failed analysis: %r" % d.get("errors"))
PY
netlab_emu_stats "$NET" >"$T/emu.json"
py_check "$T/emu.json" <<'PY' || fail "link emulator check failed"
for side in ("hub", "hospital"):
    e = d[side]
    q = e["queues"][0]
    print("emulator (%s receives): %d packets, %d dropped as loss, %d verdicts for packets gone with a cut, kernel drops %d/%d"
          % (side, q["received"], q["lost"], e["verdicts_refused"], q["queue_dropped"], q["user_dropped"]))
    if e["delay_ms"] <= 0 or q["received"] < 10000: fail("%s: the emulator did not carry the run: %r" % (side, e))
PY
ok "$N frames through ${CS_FAULT_RTT_MS:-300} ms RTT, 5% loss, 20 link cuts, a server and an uplink kill -9: exactly once, identical, all analysed"
cs_finish
