#!/usr/bin/env bash
# Several servers on one PostgreSQL (bench/README.md, "One server against
# two behind HAProxy"): the same hub load (bench/load_hubs.c) against one
# `capscreen serve` on PostgreSQL, then against two sharing the database and
# the data folder behind Debian's HAProxy (round robin, /healthz checks).
#
#   bench/scale.sh [HUBS] [SECONDS]   (default 200 hubs, 30 s per run)
#
# Each hub PATCHes 2 demo frames a second (as load.sh). Reports per run: the
# client's PATCH p50/p99/max, errors, the ingest throughput (frames the
# servers stored during the run, counted in the database, per second), and
# each server's resident memory when the hubs are connected and at the end.
# PostgreSQL is a throwaway one (tests/lib/pg.sh). Prints a line per run
# and one JSON line. Needs haproxy and postgresql; never fails on a number.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hubs=${1:-200}
seconds=${2:-30}
command -v haproxy >/dev/null || { echo "scale.sh: haproxy not installed" >&2; exit 1; }
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j2 --target capscreen-cli bench-load-hubs >/dev/null
cs=$root/build/capscreen
work=$(mktemp -d /tmp/capscreen-scale.XXXXXX)
pids=()
. "$root/tests/lib/pg.sh"
pg_start
stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; pg_stop; rm -rf "$work"' EXIT
"$cs" pack --fps 4 "$root/samples/demo/frames" "$work/demo.csfs" >/dev/null
ulimit -n 65536 2>/dev/null || ulimit -n 4096
token=scale-admin-token-0123456789
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

serve() { # DB DATA -> prints "pid url"
  local out=$work/srv-$RANDOM.out
  CAPSCREEN_ADMIN_TOKEN=$token CAPSCREEN_DB=$1 "$cs" serve --listen 127.0.0.1:0 --data "$2" \
    --max-connections $((hubs + 64)) --per-ip-connections $((hubs + 64)) \
    --analysis-threads 1 >"$out" 2>>"$work/srv.err" &
  local pid=$!
  for _ in $(seq 1 400); do grep -q listening "$out" 2>/dev/null && break; sleep 0.05; done
  echo "$pid http://$(sed -n 's/.*"listening": *"\([^"]*\)".*/\1/p' "$out")"
}

run() { # SERVERS
  local n=$1 db=capscreen_$1 data=$work/data-$1 url pidlist=() urls=()
  psql -X -q -d postgres -c "CREATE DATABASE $db"
  local dburl="postgresql:///$db?host=$CS_PG_DIR&port=$CS_PG_PORT"
  for i in $(seq 1 "$n"); do
    read -r pid u < <(serve "$dburl" "$data")
    pids+=("$pid"); pidlist+=("$pid"); urls+=("$u")
  done
  url=${urls[0]}
  if [ "$n" -gt 1 ]; then
    local port
    port=$(free_port)
    {
      printf 'global\n    maxconn %d\ndefaults\n    mode http\n    timeout connect 2s\n' $((hubs + 128))
      printf '    timeout client 60s\n    timeout server 60s\n    retries 3\n    option redispatch\n'
      printf 'frontend fe\n    bind 127.0.0.1:%s\n    maxconn %d\n    default_backend be\n' "$port" $((hubs + 128))
      printf 'backend be\n    balance roundrobin\n    option httpchk GET /healthz\n'
      printf '    default-server inter 1s fall 2 rise 1 maxconn %d\n' $((2 * hubs + 128))
      for u in "${urls[@]}"; do printf '    server s%s %s check\n' "$RANDOM" "${u#http://}"; done
    } >"$work/haproxy.cfg"
    haproxy -db -f "$work/haproxy.cfg" >>"$work/haproxy.log" 2>&1 &
    pids+=($!)
    url=http://127.0.0.1:$port
    local up=
    for _ in $(seq 1 200); do curl -sf -o /dev/null "$url/healthz" && { up=1; break; }; sleep 0.05; done
    [ -n "$up" ] || { echo "scale.sh: HAProxy does not answer:" >&2; cat "$work/haproxy.log" >&2; exit 1; }
  fi
  local f0 rss0=() rss1=()
  echo "scale.sh: $n server(s), $hubs hubs for $seconds s; uptime:$(uptime | sed 's/.*load average/ load average/')" >&2
  # The hubs connect (studies, tokens, uploads) before the clock runs; the
  # frames counted are those stored while it runs.
  CAPSCREEN_ADMIN_TOKEN=$token "$root/build/bench-load-hubs" --url "$url" --stream "$work/demo.csfs" \
    --hubs "$hubs" --seconds "$seconds" >"$work/run-$n.json" 2>"$work/run-$n.err" &
  local gen=$!
  # Memory with the hubs connected: sampled once the generator has set up.
  for _ in $(seq 1 1200); do grep -q "the run starts" "$work/run-$n.err" 2>/dev/null && break; kill -0 $gen 2>/dev/null || break; sleep 0.05; done
  f0=$(psql -X -A -t -d "$db" -c "SELECT COALESCE(SUM(n_frames), 0) FROM studies")
  local t0=$(date +%s.%N)
  for p in "${pidlist[@]}"; do rss0+=("$(rss_kib "$p")"); done
  wait $gen || { cat "$work/run-$n.err" >&2; exit 1; }
  local t1=$(date +%s.%N) f1
  f1=$(psql -X -A -t -d "$db" -c "SELECT COALESCE(SUM(n_frames), 0) FROM studies")
  for p in "${pidlist[@]}"; do rss1+=("$(rss_kib "$p")"); done
  stop_all
  /usr/bin/python3 - "$work/run-$n.json" "$n" "$f0" "$f1" "$t0" "$t1" "${rss0[*]}" "${rss1[*]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, f0, f1, t0, t1 = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
out = {"servers": n, "hubs": r["hubs"], "patches": r["patches"], "errors": r["errors"],
       "client_ms": r["client_ms"], "frames_sent": r["frames_sent"],
       "frames_stored_per_s": round((f1 - f0) / max(t1 - t0, 1e-9), 1),
       "rss_kib_connected": [int(x) for x in sys.argv[7].split()],
       "rss_kib_end": [int(x) for x in sys.argv[8].split()]}
print(json.dumps(out))
PY
}

a=$(run 1)
b=$(run 2)
/usr/bin/python3 - "$a" "$b" <<'PY'
import json, sys
rs = [json.loads(x) for x in sys.argv[1:]]
for r in rs:
    c = r["client_ms"]
    print(f"{r['servers']} server(s){' behind HAProxy' if r['servers'] > 1 else ''}: {r['hubs']} hubs, "
          f"{r['patches']} PATCHes, {r['errors']} errors; PATCH p50 {c['p50']} / p99 {c['p99']} / "
          f"max {c['max']} ms; {r['frames_stored_per_s']} frames stored/s ({r['frames_sent']} sent); "
          f"RSS MiB connected {[round(k / 1024) for k in r['rss_kib_connected']]}, "
          f"end {[round(k / 1024) for k in r['rss_kib_end']]}")
print(json.dumps({"runs": rs}))
PY
