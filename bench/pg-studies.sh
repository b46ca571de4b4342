#!/usr/bin/env bash
# Worklist and frame fetch with many studies, PostgreSQL against SQLite
# (bench/README.md, "Worklist and frames with 1,000 studies on PostgreSQL").
#
#   bench/pg-studies.sh [STUDIES] [FRAMES_PER_STUDY]   (default 1000 and 500)
#
# For each backend, in the same run: a throwaway PostgreSQL
# (tests/lib/pg.sh) or a SQLite data folder;
#  1. the real path makes one study: `capscreen pack` of FRAMES_PER_STUDY
#     demo frames (samples/demo/frames, repeated in order), `capscreen study
#     import`, analysed by `capscreen serve` (its live analysis);
#  2. bench-clone-studies (bench/clone_studies.c) copies it through the
#     store API until there are STUDIES studies, each with its own upload
#     (a hard link to the template's file) and FRAMES_PER_STUDY frame rows;
#  3. a fresh `capscreen serve` on that store; a reader logs in and, warm,
#     times GET /api/v1/worklist (WL_REQUESTS, default 30), GET
#     /api/v1/studies/{id}/frames (the frame index; INDEX_REQUESTS over
#     random studies, default 60) and GET /api/v1/studies/{id}/frames/{n}.jpg
#     (FRAME_REQUESTS random frames of 50 random studies, default 1000), one
#     keep-alive connection, one request at a time; the server's RSS after
#     start, after the worklist and at the end (and its peak, VmHWM).
# On PostgreSQL it also counts, from PostgreSQL's own statement log, the SQL
# statements one worklist makes, grouped by text: the store calls per study.
# Prints a line per backend and one JSON line. Never fails on a number.
set -euo pipefail
shopt -s inherit_errexit # run() is a command substitution: stop on its errors too
root=$(cd "$(dirname "$0")/.." && pwd)
studies=${1:-1000}
frames=${2:-500}
wl_requests=${WL_REQUESTS:-30}
index_requests=${INDEX_REQUESTS:-60}
frame_requests=${FRAME_REQUESTS:-1000}
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j2 --target capscreen-cli bench-clone-studies >/dev/null
cs=$root/build/capscreen
work=$(mktemp -d /tmp/capscreen-pgstudies.XXXXXX)
chmod 755 "$work"
srv_pid=
. "$root/tests/lib/pg.sh"
pg_start
stop_srv() {
  [ -n "$srv_pid" ] || return 0
  kill -TERM "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  srv_pid=
}
trap 'stop_srv; pg_stop; rm -rf "$work"' EXIT
token=pgstudies-admin-token-0123456789
rss_kib() { awk -v k="${2:-VmRSS}:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The template's frames: the demo frames repeated in order up to $frames.
mkdir "$work/frames"
mapfile -t demo < <(ls "$root/samples/demo/frames" | sort)
for i in $(seq 0 $((frames - 1))); do
  ln -s "$root/samples/demo/frames/${demo[$((i % ${#demo[@]}))]}" "$(printf '%s/f-%06d.jpg' "$work/frames" "$i")"
done
"$cs" pack --fps 4 "$work/frames" "$work/template.csfs" >/dev/null

serve() { # DATA [--db URL]: sets srv_pid and url
  local out=$work/srv.out
  : >"$out"
  CAPSCREEN_ADMIN_TOKEN=$token "$cs" serve --listen 127.0.0.1:0 --data "$@" \
    --analysis-threads 1 >"$out" 2>>"$work/srv.err" &
  srv_pid=$!
  for _ in $(seq 1 600); do
    grep -q listening "$out" 2>/dev/null && break
    kill -0 "$srv_pid" 2>/dev/null || { tail -5 "$work/srv.err" >&2; exit 1; }
    sleep 0.05
  done
  url=http://$(sed -n 's/.*"listening": *"\([^"]*\)".*/\1/p' "$out")
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] && return 0
    sleep 0.05
  done
  echo "pg-studies.sh: the server never answered /healthz" >&2
  exit 1
}

run() { # NAME DATA [--db URL]
  local name=$1 data=$2
  shift 2
  trap 'stop_srv' EXIT # this runs in a subshell: its server stops with it
  local t0 tpl
  t0=$(date +%s.%N)
  tpl=$("$cs" study import --data "$data" "$@" --label template "$work/template.csfs" |
    tail -n 1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
  echo "pw-reader-0123456789" | "$cs" user add --data "$data" "$@" --name reader --role reader >/dev/null
  # The live analysis of the template (the real path), then stop.
  serve "$data" "$@"
  local done_=
  for _ in $(seq 1 6000); do
    if curl -s -H "Authorization: Bearer $token" "$url/api/v1/studies/$tpl" |
      /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["progress"]["frames_analysed"] == int(sys.argv[1]) and d["state"] == "complete" else 1)' "$frames" 2>/dev/null; then
      done_=1
      break
    fi
    sleep 0.1
  done
  [ -n "$done_" ] || { echo "pg-studies.sh: $name: the template was not analysed" >&2; exit 1; }
  stop_srv
  local analyse_s
  analyse_s=$(/usr/bin/python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))")
  echo "pg-studies.sh: $name: template of $frames frames imported and analysed in $analyse_s s; cloning to $studies studies (load $(load))" >&2
  "$root/build/bench-clone-studies" --data "$data" "$@" --template "$tpl" --studies "$studies" \
    >"$work/clone-$name.json"
  serve "$data" "$@"
  local rss_start
  rss_start=$(rss_kib "$srv_pid")
  local xact=()
  if [ "$name" = postgresql ]; then xact=(--xact-db "$dbname" --pg-log "$CS_PG_DIR/server.log"); fi
  echo "pg-studies.sh: $name: measuring (load $(load))" >&2
  /usr/bin/python3 "$root/bench/pg_studies_client.py" --url "$url" --pid "$srv_pid" \
    --studies "$studies" --frames "$frames" --wl "$wl_requests" --index "$index_requests" \
    --fetch "$frame_requests" "${xact[@]}" >"$work/client-$name.json"
  local rss_end hwm
  rss_end=$(rss_kib "$srv_pid")
  hwm=$(rss_kib "$srv_pid" VmHWM)
  stop_srv
  /usr/bin/python3 - "$name" "$work/clone-$name.json" "$work/client-$name.json" \
    "$rss_start" "$rss_end" "$hwm" "$analyse_s" "$(load)" <<'PY'
import json, sys
name, clone, client = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
out = {"backend": name, "studies": clone["studies"], "frames_per_study": clone["frames_per_study"],
       "template_import_and_analysis_s": float(sys.argv[7]), "clone_s": clone["fill_s"]}
out.update(client)
out["rss_kib"] = {"after_start": int(sys.argv[4]), **client.pop("rss_kib_mid"),
                  "end": int(sys.argv[5]), "peak": int(sys.argv[6])}
out.pop("rss_kib_mid", None)
out["load_after"] = sys.argv[8]
print(json.dumps(out))
PY
}

load_before=$(load)
dbname=capscreen_bench
psql -X -q -d postgres -c "CREATE DATABASE $dbname"
pg=$(run postgresql "$work/data-pg" --db "postgresql:///$dbname?host=$CS_PG_DIR&port=$CS_PG_PORT")
sq=$(run sqlite "$work/data-sqlite")
/usr/bin/python3 - "$pg" "$sq" "$load_before" "$(nproc)" <<'PY'
import json, sys
rs = [json.loads(x) for x in sys.argv[1:3]]
for r in rs:
    w, i, f, m = r["worklist_ms"], r["index_ms"], r["frame_ms"], r["rss_kib"]
    extra = f"; {r['worklist_statements']['total']} SQL statements per worklist" if "worklist_statements" in r else ""
    print(f"{r['backend']}: {r['studies']} studies x {r['frames_per_study']} frames: "
          f"worklist p50 {w['p50']} / p95 {w['p95']} / p99 {w['p99']} ms ({w['n']} req, "
          f"{r['worklist_bytes']} bytes){extra}; frame index p50 {i['p50']} / p95 {i['p95']} / "
          f"p99 {i['p99']} ms; frame .jpg p50 {f['p50']} / p95 {f['p95']} / p99 {f['p99']} ms "
          f"({f['n']} req, {r['errors']} errors); RSS MiB start {m['after_start'] / 1024:.1f}, "
          f"after worklist {m['after_worklist'] / 1024:.1f}, end {m['end'] / 1024:.1f}, "
          f"peak {m['peak'] / 1024:.1f}")
print(json.dumps({"bench": "pg-studies", "cores": int(sys.argv[4]),
                  "load_before": sys.argv[3], "runs": rs}))
PY
