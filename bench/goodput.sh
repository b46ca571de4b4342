#!/usr/bin/env bash
# Goodput of capscreen-uplink through a lossy link, as a fraction of a plain
# curl upload of the same bytes over the same link, in one run.
#
#   bench/goodput.sh [FRAMES] [LOSS_PERCENT] [RATE]   (default 2000, 1, 20mbit)
#
# Hub and hospital are network namespaces joined by a veth pair
# (tests/fault/netlab.sh): LOSS_PERCENT random packet loss both ways
# (nftables) and the hub's uplink capped at RATE (tc htb). This kernel has no
# sch_netem, so the link has no added delay: the issue's 100 ms RTT cannot be
# reproduced here, only the loss. Needs root.
#   plain curl: one tus PATCH of the whole packed study (curl -T), timed
#   uplink:     capscreen-uplink sending the same frames from a spool, timed
#               from start to "finished" in its status file (polled every
#               50 ms), and checked against the bytes the server received
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-2000} loss=${2:-1} rate=${3:-20mbit}
. "$root/tests/fault/netlab.sh"
netlab_require
work=$(mktemp -d /tmp/capscreen-goodput.XXXXXX)
net=csg$$
token=goodput-admin-token-0123456789
cleanup() { kill "${srv:-}" "${upid:-}" 2>/dev/null || true; netlab_down $net; rm -rf "$work"; }
trap cleanup EXIT
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
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
netlab_loss $net "$loss"
netlab_rate $net "$rate" 2>/dev/null
CAPSCREEN_ADMIN_TOKEN=$token ip netns exec $net-hospital "$cs" serve --listen 10.77.0.2:8080 \
  --data "$work/data" >"$work/srv.out" 2>"$work/srv.err" &
srv=$!
for _ in $(seq 1 200); do grep -q listening "$work/srv.out" 2>/dev/null && break; sleep 0.05; done
study() { ip netns exec $net-hospital curl -s -X POST -H "Authorization: Bearer $token" -d '{}' "$url/api/v1/studies"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Plain curl: one study, one upload of the whole file.
code=$(field "$(study)" enrolment_code)
tok=$(field "$(ip netns exec $net-hub curl -s -X POST -d "{\"code\":\"$code\"}" "$url/api/v1/devices/enrol")" token)
loc=$(ip netns exec $net-hub curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $tok" \
      -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $bytes" "$url/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
t0=$(date +%s.%N)
ip netns exec $net-hub curl -s -f -o /dev/null -X PATCH -H "Authorization: Bearer $tok" \
  -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" -H "Content-Type: application/offset+octet-stream" \
  --data-binary @"$work/study.csfs" "http://10.77.0.2:8080${loc#http://*/}" \
  || { echo "goodput: plain curl upload failed" >&2; exit 1; }
t_curl=$(python3 -c "import time,sys; print(time.time() - float(sys.argv[1]))" "$t0")

# The uplink: another study, the same frames through the spool.
up_study=$(study)
code=$(field "$up_study" enrolment_code)
ip netns exec $net-hub "$up" enrol --server "$url" --code "$code" --state "$work/state" >/dev/null
cp "$work/frames"/*.jpg "$work/spool/" && touch "$work/spool/study.end"
t0=$(date +%s.%N)
ip netns exec $net-hub "$up" run --state "$work/state" --spool "$work/spool" --finish \
  --status-file "$work/status.json" >/dev/null 2>"$work/uplink.err" &
upid=$!
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state",""))' "$work/status.json" 2>/dev/null || true; }
until [ "$(state)" = finished ]; do
  kill -0 $upid 2>/dev/null || { echo "goodput: uplink exited: $(tail -2 "$work/uplink.err")" >&2; exit 1; }
  sleep 0.05
done
t_up=$(python3 -c "import time,sys; print(time.time() - float(sys.argv[1]))" "$t0")
received=$(ip netns exec $net-hospital curl -s -H "Authorization: Bearer $token" \
  "$url/api/v1/studies/$(field "$up_study" study)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["progress"]["bytes_received"])')
[ "$received" -ge "$bytes" ] || { echo "goodput: the server holds $received of $bytes bytes from the uplink" >&2; exit 1; }

python3 - "$bytes" "$t_curl" "$t_up" "$loss" "$rate" "$frames" <<'PY'
import json, sys
b, tc, tu = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"{sys.argv[6]} frames, {b/1e6:.1f} MB, {sys.argv[4]}% loss, {sys.argv[5]} cap, no added delay")
print(f"plain curl: {tc:6.2f} s  {8*b/tc/1e6:6.2f} Mbit/s")
print(f"uplink:     {tu:6.2f} s  {8*b/tu/1e6:6.2f} Mbit/s  ({100*tc/tu:.0f}% of curl)")
print(json.dumps({"bytes": b, "curl_s": round(tc, 3), "uplink_s": round(tu, 3),
                  "uplink_fraction_of_curl": round(tc / tu, 3)}))
PY
