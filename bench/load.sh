#!/usr/bin/env bash
# Server load: many hubs uploading at once on loopback (bench/load_hubs.py),
# with the server's CPU and peak memory, at two hub counts so that memory
# per connection can be compared.
#
#   bench/load.sh [HUBS] [SECONDS]     (default 500 hubs, 30 s; also runs HUBS/5)
#
# Each hub PATCHes 2 demo frames (320x320 JPEG, ~15 KB each) every second:
# a small-bowel capsule's rate, analysed live by the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hubs=${1:-500}
seconds=${2:-30}
work=$(mktemp -d /tmp/capscreen-load.XXXXXX)
trap 'kill "${srv:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
cs=$root/build/capscreen
"$cs" pack --fps 4 "$root/samples/demo/frames" "$work/demo.csfs"
ulimit -n 65536 2>/dev/null || ulimit -n 4096

run() { # hubs
  local n=$1 data=$work/data-$1 token=load-admin-token-0123456789
  CAPSCREEN_ADMIN_TOKEN=$token "$cs" serve --listen 127.0.0.1:0 --data "$data" \
    --max-connections $((n + 64)) --analysis-threads 2 >"$work/srv.out" 2>"$work/srv.err" &
  srv=$!
  for _ in $(seq 1 200); do grep -q listening "$work/srv.out" 2>/dev/null && break; sleep 0.05; done
  local url=http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$work/srv.out")
  python3 "$root/bench/load_hubs.py" --url "$url" --admin-token "$token" --stream "$work/demo.csfs" \
    --hubs "$n" --seconds "$seconds" --server-pid "$srv"
  kill -TERM $srv; wait $srv || true
}
small=$(run $((hubs / 5)))
large=$(run "$hubs")
python3 - "$small" "$large" <<'PY'
import json, sys
s, l = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for r in (s, l):
    print(f"{r['hubs']:4d} hubs: {r['patches']} PATCHes, {r['errors']} errors, "
          f"p50 {r['patch_ms_p50']} ms, p99 {r['patch_ms_p99']} ms, max {r['patch_ms_max']} ms; "
          f"server CPU {r['server_cpu_percent']}%, peak RSS {r['server_peak_rss_kib']/1024:.0f} MiB")
per = (l["server_peak_rss_kib"] - s["server_peak_rss_kib"]) / (l["hubs"] - s["hubs"])
print(f"memory per extra connection: {per:.0f} KiB")
print(json.dumps({"small": s, "large": l, "kib_per_connection": round(per, 1)}))
PY
