#!/usr/bin/env bash
# Reading speed: readers playing the demo study at 40 frames/s on loopback
# (bench/reading.py): p50/p99 of frame and thumbnail requests, stalls (an
# answer later than one frame period), the server's CPU and peak memory;
# and, in the same run, the same pattern against the same JPEG bytes served
# as plain static files (no session, no database) as the reference.
#
#   bench/reading.sh [READERS] [SECONDS] [FPS]     (default 20 readers, 20 s, 40 fps)
#
# Target (issue 4): p99 under 50 ms for frames and thumbnails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
readers=${1:-20}
seconds=${2:-20}
fps=${3:-40}
work=$(mktemp -d /tmp/capscreen-reading.XXXXXX)
trap 'kill "${srv:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
cs=$root/build/capscreen
frames_dir=$root/samples/demo/frames
n=$(ls "$frames_dir" | wc -l)
"$cs" pack --fps 4 "$frames_dir" "$work/demo.csfs" >/dev/null
study=$("$cs" study import --data "$work/data" --label bench "$work/demo.csfs" | tail -n 1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
# The reference: the same bytes as static files of a web folder.
mkdir -p "$work/web/bench-ref"
i=0
for f in $(ls "$frames_dir" | sort -V); do cp "$frames_dir/$f" "$work/web/bench-ref/$i.jpg"; i=$((i + 1)); done
echo "bench-password-0123" | "$cs" user add --data "$work/data" --name bench --role reader >/dev/null
ulimit -n 4096
"$cs" serve --listen 127.0.0.1:0 --data "$work/data" --web-dir "$work/web" \
  >"$work/srv.out" 2>"$work/srv.err" &
srv=$!
for _ in $(seq 1 200); do grep -q listening "$work/srv.out" 2>/dev/null && break; sleep 0.05; done
url=http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$work/srv.out")
# One session per reader (logins are argon2id: made before the clock runs).
: >"$work/cookies"
for r in $(seq 1 "$readers"); do
  curl -s -D - -o /dev/null "$url/api/v1/session" -d '{"user":"bench","password":"bench-password-0123"}' |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(cs_session=[^;]*\).*/\1/p' >>"$work/cookies"
done
# Wait until the study is analysed (the frames' locations are stored then).
for _ in $(seq 1 1200); do
  state=$(curl -s -b "$(head -1 "$work/cookies")" "$url/api/v1/studies/$study" |
          python3 -c 'import json,sys; print(json.load(sys.stdin).get("workflow_state",""))')
  [ "$state" = ready ] && break
  sleep 0.1
done
[ "$state" = ready ] || { echo "the study was not analysed in time" >&2; exit 1; }
python3 "$root/bench/reading.py" --url "$url" --study "$study" --frames "$n" \
  --cookie-file "$work/cookies" --readers "$readers" --seconds "$seconds" --fps "$fps" \
  --ref-prefix /bench-ref/ --server-pid "$srv" >"$work/result.json"
python3 - "$work/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['readers']} readers at {r['fps']:g} frames/s for {r['seconds']:g} s")
for k in ("frame", "thumb", "ref"):
    s = r[k]
    print(f"  {k:5s}: {s['count']:6d} requests, {s['errors']} errors, p50 {s['p50_ms']} ms, "
          f"p99 {s['p99_ms']} ms, max {s['max_ms']} ms, stalls {s['stalls']}")
print(f"  frame p99 / static-file p99 = {r['frame']['p99_ms'] / r['ref']['p99_ms']:.2f}")
print(f"  server CPU {r['server_cpu_s']} s over the frame run, peak RSS {r['server_peak_rss_kib'] // 1024} MiB")
print(json.dumps(r))
PY
