#!/usr/bin/env bash
# Triage speed and memory, end to end, against a plain full-size
# libjpeg-turbo decode of the same frames measured in the same run.
#
#   bench/triage.sh [FRAMES]        (default 50000)
#
# Builds a study of FRAMES frames by cycling through the shared WCEBleedGen
# frames (640x640 JPEG), packs it as a frame-stream file (cached under
# $CS_BENCH_DIR, default /tmp/capscreen-bench), then times:
#   reference  bench-decode-ref: every frame decoded at full size, default
#              libjpeg settings, reading the same stream the same way
#   analyze 1  capscreen analyze --threads 1 (summary to a file)
#   analyze 2  capscreen analyze --threads 2
# and peak RSS of each analyze, plus analyze on the first FRAMES/5 frames
# to show memory does not grow with study length. Each timing runs twice,
# interleaved (reference, 1, 2, reference, 1, 2), and the faster of the two
# counts: other load on the machine only ever slows a run down.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-50000}
shared=${CS_SHARED_DIR:-$root/../shared}/data/wcebleedgen/images
work=${CS_BENCH_DIR:-/tmp/capscreen-bench}
[ -d "$shared" ] || { echo "bench: shared frames not found at $shared" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
cs=$root/build/capscreen ref=$root/build/bench-decode-ref
mkdir -p "$work"

make_study() { # n -> $work/study-n.csfs
  local n=$1 out=$work/study-$1.csfs
  [ -s "$out" ] && return
  local dir; dir=$(mktemp -d "$work/links.XXXXXX")
  mapfile -t src < <(ls "$shared" | sort)
  for ((i = 0; i < n; i++)); do
    ln -s "$shared/${src[i % ${#src[@]}]}" "$dir/$(printf 'f%07d.jpg' "$i")"
  done
  "$cs" pack --fps 4 "$dir" "$out"
  rm -rf "$dir"
}

small=$((frames / 5))
make_study "$frames"
make_study "$small"
study=$work/study-$frames.csfs
cat "$study" >/dev/null  # warm the page cache: measure CPU, not the disk

timed() { # label, command... -> "seconds peak_kib"
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null
  cat "$work/time.txt"
}

ref_fps() { "$ref" "$study" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fps"])'; }
best() { python3 -c 'import sys; print(min(float(a) for a in sys.argv[1:]))' "$@"; }
ref1=$(ref_fps)
read -r t1a m1 < <(timed "$cs" analyze --threads 1 --output "$work/summary1.json" "$study")
read -r t2a m2 < <(timed "$cs" analyze --threads 2 --output "$work/summary2.json" "$study")
ref2=$(ref_fps)
read -r t1b _ < <(timed "$cs" analyze --threads 1 --output "$work/summary1.json" "$study")
read -r t2b _ < <(timed "$cs" analyze --threads 2 --output "$work/summary2.json" "$study")
read -r ts ms < <(timed "$cs" analyze --threads 2 --output "$work/summary-small.json" "$work/study-$small.csfs")
t1=$(best "$t1a" "$t1b") t2=$(best "$t2a" "$t2b")
cmp -s "$work/summary1.json" "$work/summary2.json" || { echo "bench: 1- and 2-thread summaries differ" >&2; exit 1; }

python3 - "$frames" "$ref1" "$ref2" "$t1" "$m1" "$t2" "$m2" "$small" "$ms" <<'PY'
import json, sys, platform, os
n, ref1, ref2, t1, m1, t2, m2, small, ms = sys.argv[1:]
n, small = int(n), int(small)
ref = max(float(ref1), float(ref2))
fps1, fps2 = n / float(t1), n / float(t2)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"study: {n} frames of 640x640 JPEG, {os.cpu_count()} cores, {cpu}")
print(f"reference full-size decode: {ref:8.0f} frames/s (runs: {float(ref1):.0f}, {float(ref2):.0f})")
print(f"analyze --threads 1:        {fps1:8.0f} frames/s  {fps1/ref:4.2f}x reference  peak {int(m1)/1024:.0f} MiB")
print(f"analyze --threads 2:        {fps2:8.0f} frames/s  {fps2/ref:4.2f}x reference  peak {int(m2)/1024:.0f} MiB")
print(f"memory, {small} vs {n} frames (2 threads): {int(ms)/1024:.0f} MiB vs {int(m2)/1024:.0f} MiB")
print(json.dumps({"frames": n, "reference_fps": round(ref, 1), "threads1_fps": round(fps1, 1),
                  "threads2_fps": round(fps2, 1), "threads1_ratio": round(fps1 / ref, 3),
                  "threads2_ratio": round(fps2 / ref, 3), "peak_kib_threads1": int(m1),
                  "peak_kib_threads2": int(m2), "peak_kib_small": int(ms), "small_frames": small}))
PY
