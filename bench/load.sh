#!/usr/bin/env bash
# Server load: many hubs uploading at once on loopback (bench/load_hubs.c,
# built as build/bench-load-hubs), the server on one core and the load
# generator on another, at several hub counts so that memory per connection
# can be compared.
#
#   bench/load.sh [HUBS[,HUBS...]] [SECONDS]   (default 200,1000 hubs; 30 s each)
#
# Each hub PATCHes 2 demo frames (320x320 JPEG, ~15 KB each) every second:
# a small-bowel capsule's rate, analysed live by the server. Environment:
# LOAD_SERVER_CPUS (default 0) and LOAD_CLIENT_CPUS (default 1): taskset
# lists; ANALYSIS_THREADS (default 1); LOAD_HUBS_PER_ADDRESS (default 1:
# each hub from its own loopback address, 127.0.0.2 upwards, as real hubs
# come from many addresses and the server limits connections per address).
# LOAD_CLIENT_RT (default 20: SCHED_FIFO priority; 0 for none): on a
# machine shared with other work (builds, tests) this keeps the generator
# from waiting behind it and reporting its own delay as the server's.
# LOAD_SERVER_NICE (default 0): the server's nice; bench/README.md says why
# -10 is not the default. Both need root and are skipped without it.
# Prints one line per run, the memory per connection between the first and
# the last run, and a JSON line with everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
counts=${1:-200,1000}
seconds=${2:-30}
server_cpus=${LOAD_SERVER_CPUS:-0}
client_cpus=${LOAD_CLIENT_CPUS:-1}
work=$(mktemp -d /tmp/capscreen-load.XXXXXX)
trap 'kill "${srv:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target capscreen-cli bench-load-hubs >/dev/null
cs=$root/build/capscreen
"$cs" pack --fps 4 "$root/samples/demo/frames" "$work/demo.csfs" >/dev/null
ulimit -n 65536 2>/dev/null || ulimit -n 4096
server_prio=() client_prio=()
if [ "$(id -u)" = 0 ]; then
  server_prio=(nice -n "${LOAD_SERVER_NICE:-0}")
  [ "${LOAD_CLIENT_RT:-20}" != 0 ] && client_prio=(chrt -f "${LOAD_CLIENT_RT:-20}")
fi

run() { # hubs
  local n=$1 data=$work/data-$1 token=load-admin-token-0123456789
  CAPSCREEN_ADMIN_TOKEN=$token taskset -c "$server_cpus" "${server_prio[@]}" "$cs" serve --listen 127.0.0.1:0 \
    --data "$data" --max-connections $((n + 64)) --analysis-threads "${ANALYSIS_THREADS:-1}" \
    >"$work/srv.out" 2>"$work/srv.err" &
  srv=$!
  for _ in $(seq 1 200); do grep -q listening "$work/srv.out" 2>/dev/null && break; sleep 0.05; done
  local url=http://$(sed -n 's/.*"listening": *"\([^"]*\)".*/\1/p' "$work/srv.out")
  echo "load.sh: $n hubs for $seconds s; uptime:$(uptime | sed 's/.*load average/ load average/')" >&2
  CAPSCREEN_ADMIN_TOKEN=$token taskset -c "$client_cpus" "${client_prio[@]}" "$root/build/bench-load-hubs" \
    --url "$url" --stream "$work/demo.csfs" --hubs "$n" --seconds "$seconds" \
    --hubs-per-address "${LOAD_HUBS_PER_ADDRESS:-1}" --server-pid "$srv" ||
    { cat "$work/srv.err" >&2; exit 1; }
  kill -TERM $srv; wait $srv || true
  srv=
}
results=()
for n in ${counts//,/ }; do
  results+=("$(run "$n")")
done
python3 - "${results[@]}" <<'PY'
import json, sys
rs = [json.loads(a) for a in sys.argv[1:]]
for r in rs:
    c, s = r["client_ms"], r["server_ms"]
    print(f"{r['hubs']:5d} hubs: {r['patches']} PATCHes, {r['errors']} errors; "
          f"client p50 {c['p50']} / p99 {c['p99']} / max {c['max']} ms; "
          f"server p99 in ({s['p99_gt']}, {s['p99_le']}] ms; "
          f"server CPU {r['server_cpu_percent']}%, {r['server_threads']} threads, "
          f"RSS {r['server_rss_kib'] / 1024:.0f} MiB; analysed {r['frames_analysed']} "
          f"of {r['frames_sent']} frames; generator CPU {r['generator_cpu_percent']}%")
out = {"runs": rs}
if len(rs) > 1 and rs[-1]["hubs"] != rs[0]["hubs"]:
    per = (rs[-1]["server_rss_kib"] - rs[0]["server_rss_kib"]) / (rs[-1]["hubs"] - rs[0]["hubs"])
    idle = (rs[-1]["server_rss_kib_connected"] - rs[0]["server_rss_kib_connected"]) / (rs[-1]["hubs"] - rs[0]["hubs"])
    print(f"server memory per extra hub: {idle:.0f} KiB connected before the run (thread, "
          f"libmicrohttpd), {per:.0f} KiB at the end of the run (plus its study's live analysis)")
    out["kib_per_connection"] = round(idle, 1)
    out["kib_per_hub_after_run"] = round(per, 1)
print(json.dumps(out))
PY
