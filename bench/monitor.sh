#!/usr/bin/env bash
# The care team's monitor with many live studies (issue 8: "usable with 50
# live studies"): HUBS hubs stream frames through bench-load-hubs (one
# study each, 2 frames a second) while bench/monitor_probe.py polls GET
# /api/v1/monitor and holds its event stream open.
#
#   bench/monitor.sh [HUBS] [SECONDS]   (default 50 hubs, 30 s)
#
# Prints the probe's JSON line: tiles seen (want HUBS), the monitor's
# latency (p50, p99), events per second, the event size and the largest
# gap between two events (the page promises changes within 2 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hubs=${1:-50}
seconds=${2:-30}
work=$(mktemp -d /tmp/capscreen-monitor.XXXXXX)
trap 'kill "${srv:-}" "${load:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cmake --build "$root/build" -j"$(nproc)" --target capscreen-cli bench-load-hubs >/dev/null
cs=$root/build/capscreen
"$cs" pack --fps 4 "$root/samples/demo/frames" "$work/demo.csfs" >/dev/null
token=monitor-admin-token-0123456789
CAPSCREEN_ADMIN_TOKEN=$token "$cs" serve --listen 127.0.0.1:0 --data "$work/data" \
  >"$work/srv.out" 2>"$work/srv.err" &
srv=$!
for _ in $(seq 1 200); do grep -q listening "$work/srv.out" 2>/dev/null && break; sleep 0.05; done
url=http://$(sed -n 's/.*"listening": *"\([^"]*\)".*/\1/p' "$work/srv.out")
CAPSCREEN_ADMIN_TOKEN=$token "$root/build/bench-load-hubs" --url "$url" --stream "$work/demo.csfs" \
  --hubs "$hubs" --seconds "$((seconds + 10))" --server-pid "$srv" >"$work/load.out" 2>&1 &
load=$!
# Wait (at most 60 s) until every hub's study is on the monitor.
for _ in $(seq 1 600); do
  n=$(curl -s -H "Authorization: Bearer $token" "$url/api/v1/monitor" |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["studies"]))' 2>/dev/null || echo 0)
  [ "$n" -ge "$hubs" ] && break
  sleep 0.1
done
python3 "$root/bench/monitor_probe.py" "$url" "$token" "$seconds" "$hubs"
wait "$load" || { cat "$work/load.out" >&2; exit 1; }
tail -n 1 "$work/load.out" >&2
