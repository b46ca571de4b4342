#!/usr/bin/env bash
# Goodput of capscreen-uplink through a delayed, lossy link, as a fraction of
# a plain curl upload of the same bytes over the same link, in one run.
#
#   bench/goodput.sh [FRAMES] [LOSS_PERCENT] [RATE] [RTT_MS] [JITTER_MS]
#                    (defaults 2000, 1, 20mbit, 100, 0)
#
# Hub and hospital are network namespaces joined by a veth pair
# (tests/fault/netlab.sh): RTT_MS added to every round trip (+- JITTER_MS)
# and LOSS_PERCENT random packet loss each way by the link emulator
# (tests/fault/linkemu.c, NFQUEUE: this kernel has no sch_netem), the hub's
# uplink capped at RATE (tc htb). Needs root and build/tests/cs-linkemu
# (libnetfilter-queue-dev).
#   plain curl: a tus POST, then one PATCH of the whole packed study
#   uplink:     capscreen-uplink run --finish sending the same frames from a
#               spool, until it exits (the study closed on the server);
#               checked against the bytes the server received
# Each is timed from before its upload is created to its end.
# Extra `capscreen-uplink run` options (e.g. --chunk-bytes 1M) can be given
# in CS_GOODPUT_UPLINK_ARGS. CS_GOODPUT_UPLINK_B=PATH (another build's
# capscreen-uplink, e.g. the previous commit's) is run too, after the
# first, over the same link against the same curl time: a paired
# before/after on a machine whose speed wanders between runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-2000} loss=${2:-1} rate=${3:-20mbit} rtt=${4:-100} jitter=${5:-0}
export CS_BUILD_DIR=$root/build
. "$root/tests/fault/netlab.sh"
work=$(mktemp -d /tmp/capscreen-goodput.XXXXXX)
net=csg$$
token=goodput-admin-token-0123456789
cleanup() { kill "${srv:-}" 2>/dev/null || true; netlab_down $net; rm -rf "$work"; }
trap cleanup EXIT
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
netlab_require_delay
cs=$root/build/capscreen up=$root/build/capscreen-uplink
url=http://10.77.0.2:8080

mkdir -p "$work/spool" "$work/frames"
python3 - "$root/samples/demo/frames" "$work/frames" "$frames" <<'PY'
import os, shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = sorted(os.listdir(src))
for i in range(n):
    shutil.copyfile(os.path.join(src, names[i % len(names)]), os.path.join(dst, "f%06d.jpg" % i))
PY
"$cs" pack --fps 4 "$work/frames" "$work/study.csfs"
bytes=$(stat -c %s "$work/study.csfs")

netlab_up $net
netlab_delay $net "$rtt" "$jitter" "$loss"
netlab_rate $net "$rate" 2>/dev/null
CAPSCREEN_ADMIN_TOKEN=$token ip netns exec $net-hospital "$cs" serve --listen 10.77.0.2:8080 \
  --data "$work/data" >"$work/srv.out" 2>"$work/srv.err" &
srv=$!
for _ in $(seq 1 200); do grep -q listening "$work/srv.out" 2>/dev/null && break; sleep 0.05; done
study() { ip netns exec $net-hospital curl -s -X POST -H "Authorization: Bearer $token" -d '{}' "$url/api/v1/studies"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Both are timed from before the upload is created (tus POST) to the
# answer of the last byte, in nanoseconds by `date`, with no polling.
now_ns() { date +%s%N; }

# Plain curl: one study, one upload of the whole file: a tus POST, then one
# PATCH of all the bytes (two curl commands, as a script would do it).
code=$(field "$(study)" enrolment_code)
tok=$(field "$(ip netns exec $net-hub curl -s -X POST -d "{\"code\":\"$code\"}" "$url/api/v1/devices/enrol")" token)
t0=$(now_ns)
loc=$(ip netns exec $net-hub curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $tok" \
      -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $bytes" "$url/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
ip netns exec $net-hub curl -s -f -o /dev/null -X PATCH -H "Authorization: Bearer $tok" \
  -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" -H "Content-Type: application/offset+octet-stream" \
  --data-binary @"$work/study.csfs" "http://10.77.0.2:8080${loc#http://*/}" \
  || { echo "goodput: plain curl upload failed" >&2; exit 1; }
t_curl=$(( $(now_ns) - t0 ))

# The uplink: another study, the same frames through the spool; `run
# --finish` exits 0 once the study is closed on the server.
up_study=$(study)
code=$(field "$up_study" enrolment_code)
ip netns exec $net-hub "$up" enrol --server "$url" --code "$code" --state "$work/state" >/dev/null
cp "$work/frames"/*.jpg "$work/spool/" && touch "$work/spool/study.end"
t0=$(now_ns)
# shellcheck disable=SC2086  # extra options, split on purpose
ip netns exec $net-hub "$up" run --state "$work/state" --spool "$work/spool" --finish \
  ${CS_GOODPUT_UPLINK_ARGS:-} >/dev/null 2>"$work/uplink.err" \
  || { echo "goodput: uplink failed: $(tail -2 "$work/uplink.err")" >&2; exit 1; }
t_up=$(( $(now_ns) - t0 ))
received() {
  ip netns exec $net-hospital curl -s -H "Authorization: Bearer $token" \
    "$url/api/v1/studies/$(field "$1" study)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["progress"]["bytes_received"])'
}
received=$(received "$up_study")
[ "$received" -ge "$bytes" ] || { echo "goodput: the server holds $received of $bytes bytes from the uplink" >&2; exit 1; }

# The comparison build, the same way (its own study, state and spool).
t_b=0
if [ -n "${CS_GOODPUT_UPLINK_B:-}" ]; then
  b_study=$(study)
  code=$(field "$b_study" enrolment_code)
  mkdir -p "$work/spool_b"
  ip netns exec $net-hub "$CS_GOODPUT_UPLINK_B" enrol --server "$url" --code "$code" --state "$work/state_b" >/dev/null
  cp "$work/frames"/*.jpg "$work/spool_b/" && touch "$work/spool_b/study.end"
  t0=$(now_ns)
  # shellcheck disable=SC2086  # extra options, split on purpose
  ip netns exec $net-hub "$CS_GOODPUT_UPLINK_B" run --state "$work/state_b" --spool "$work/spool_b" --finish \
    ${CS_GOODPUT_UPLINK_ARGS:-} >/dev/null 2>"$work/uplink_b.err" \
    || { echo "goodput: uplink B failed: $(tail -2 "$work/uplink_b.err")" >&2; exit 1; }
  t_b=$(( $(now_ns) - t0 ))
  received=$(received "$b_study")
  [ "$received" -ge "$bytes" ] || { echo "goodput: the server holds $received of $bytes bytes from uplink B" >&2; exit 1; }
fi

python3 - "$bytes" "$t_curl" "$t_up" "$loss" "$rate" "$frames" "$rtt" "$jitter" "${CS_GOODPUT_UPLINK_ARGS:-}" "$t_b" <<'PY'
import json, sys
b, tc, tu = int(sys.argv[1]), int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e9
tb = int(sys.argv[10]) / 1e9
print(f"{sys.argv[6]} frames, {b/1e6:.1f} MB, {sys.argv[7]} ms RTT (+-{sys.argv[8]}), {sys.argv[4]}% loss each way, "
      f"{sys.argv[5]} cap; uplink options: {sys.argv[9] or 'defaults'}")
print(f"plain curl: {tc:6.2f} s  {8*b/tc/1e6:6.2f} Mbit/s")
print(f"uplink:     {tu:6.2f} s  {8*b/tu/1e6:6.2f} Mbit/s  ({100*tc/tu:.0f}% of curl)")
out = {"bytes": b, "rtt_ms": float(sys.argv[7]), "loss_pct": float(sys.argv[4]), "rate": sys.argv[5],
       "curl_s": round(tc, 3), "uplink_s": round(tu, 3), "uplink_fraction_of_curl": round(tc / tu, 3)}
if tb > 0:
    print(f"uplink B:   {tb:6.2f} s  {8*b/tb/1e6:6.2f} Mbit/s  ({100*tc/tb:.0f}% of curl)")
    out.update({"uplink_b_s": round(tb, 3), "uplink_b_fraction_of_curl": round(tc / tb, 3)})
print(json.dumps(out))
PY
