#!/usr/bin/env bash
# Whole triage, polyp detector included, on a study with realistic
# redundancy, against a plain full-size libjpeg-turbo decode of the same
# frames measured in the same run; and the polyp detector alone.
#
#   bench/polyp-triage.sh [FRAMES]        (default 50000)
#
# Builds (once, cached under $CS_BENCH_DIR, default /tmp/capscreen-bench)
# a frame-stream study of FRAMES 640x640 frames (BENCH_SIDE=320: smaller)
# in runs of 2-12
# near-identical frames (bench/make_redundant_study.py: small shifts,
# brightness changes, re-encoding), plus one of FRAMES/5 frames for memory.
# Then times, twice each and interleaved, keeping the faster:
#   reference  bench-decode-ref: every frame decoded at full size
#   analyze 2  capscreen analyze --threads 2 (and --threads 1)
# with peak RSS, checks the 1- and 2-thread summaries are identical, and
# runs bench-polyp-net (the detector alone: frames/s on one thread, MFLOPs
# per frame, live studies at 4 frames/s one core can serve). From the
# summary it counts the detector's passes in the triage: one a frame, five
# more on a frame read through its crops (a version-4 file, one-pass score
# at or over its crop gate), and a flagged frame's outline passes (three
# mirrors, and the five crops unless already read).
# CAPSCREEN_POLYP_MODEL=FILE benches other polyp weights (default: the
# shipped models/polyp-unet.bin), e.g. a trial with a larger input.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-50000}
shared=${CS_SHARED_DIR:-$root/../shared}/data/wcebleedgen/images
work=${CS_BENCH_DIR:-/tmp/capscreen-bench}
[ -d "$shared" ] || { echo "bench: shared frames not found at $shared" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time" >&2; exit 1; }
/usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null || { echo "bench: needs python3-numpy, python3-pil" >&2; exit 1; }

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j2 --target capscreen-cli bench-decode-ref bench-polyp-net >/dev/null
cs=$root/build/capscreen ref=$root/build/bench-decode-ref
mkdir -p "$work"

make_study() { # n -> $work/redundant-n.csfs
  local n=$1 out=$work/redundant-${BENCH_SIDE:-640}-$1.csfs
  [ -s "$out" ] && return
  local dir; dir=$(mktemp -d "$work/redundant.XXXXXX")
  /usr/bin/python3 "$root/bench/make_redundant_study.py" "$shared" "$dir" "$n"
  "$cs" pack --fps 4 "$dir" "$out"
  rm -rf "$dir"
}
small=$((frames / 5))
make_study "$frames"
make_study "$small"
study=$work/redundant-${BENCH_SIDE:-640}-$frames.csfs
cat "$study" >/dev/null

# wall seconds, peak KiB, CPU seconds (user + sys): on a shared machine the
# CPU time says what the work costs, the wall time what other jobs left
timed() { /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "$@" >/dev/null
          awk '{ print $1, $2, $3 + $4 }' "$work/time.txt"; }
ref_fps() { "$ref" "$study" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fps"])'; }
best() { python3 -c 'import sys; print(min(float(a) for a in sys.argv[1:]))' "$@"; }
ref1=$(ref_fps)
read -r t2a m2 c2 < <(timed "$cs" analyze --threads 2 --output "$work/rsum2.json" "$study")
read -r t1a m1 c1 < <(timed "$cs" analyze --threads 1 --output "$work/rsum1.json" "$study")
ref2=$(ref_fps)
read -r _ _ cref < <(timed "$ref" "$study")
read -r t2b _ _ < <(timed "$cs" analyze --threads 2 --output "$work/rsum2.json" "$study")
read -r ts ms _ < <(timed "$cs" analyze --threads 2 --output "$work/rsum-small.json" "$work/redundant-${BENCH_SIDE:-640}-$small.csfs")
t2=$(best "$t2a" "$t2b") t1=$t1a
cmp -s "$work/rsum1.json" "$work/rsum2.json" || { echo "bench: 1- and 2-thread summaries differ" >&2; exit 1; }
net=$("$root/build/bench-polyp-net" "${CAPSCREEN_POLYP_MODEL:-$root/models/polyp-unet.bin}" 5)

python3 - "$frames" "$ref1" "$ref2" "$t1" "$m1" "$t2" "$m2" "$small" "$ms" "$net" "$work/rsum2.json" "$cref" "$c1" "$c2" <<'PY'
import json, sys, os
n, ref1, ref2, t1, m1, t2, m2, small, ms, net, summ, cref, c1, c2 = sys.argv[1:]
cref, c1, c2 = float(cref), float(c1), float(c2)
n, small, net = int(n), int(small), json.loads(net)
ref = max(float(ref1), float(ref2))
fps1, fps2 = n / float(t1), n / float(t2)
s = json.load(open(summ))
c = s["counts"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
side = os.environ.get("BENCH_SIDE", "640")
print(f"study: {n} frames of {side}x{side} JPEG in runs of 2-12, {os.cpu_count()} cores, {cpu}")
print(f"summary: {c['runs']} runs, {c['polyp_flagged']} polyp-flagged, {c['bleeding_flagged']} bleeding-flagged frames")
print(f"reference full-size decode: {ref:8.0f} frames/s (runs: {float(ref1):.0f}, {float(ref2):.0f})")
print(f"analyze --threads 1:        {fps1:8.0f} frames/s  {fps1/ref:4.2f}x reference  peak {int(m1)/1024:.0f} MiB")
print(f"analyze --threads 2:        {fps2:8.0f} frames/s  {fps2/ref:4.2f}x reference  peak {int(m2)/1024:.0f} MiB")
print(f"CPU seconds for the study: reference {cref:.1f}, analyze 1 thread {c1:.1f}, 2 threads {c2:.1f}"
      f" -> on 2 idle cores analyze would run at {2 * cref / c2:.2f}x the reference")
print(f"memory, {small} vs {n} frames (2 threads): {int(ms)/1024:.0f} MiB vs {int(m2)/1024:.0f} MiB")
print(f"polyp detector alone: {net['fps_one_thread']:.0f} frames/s on one thread "
      f"({net['ms_per_frame']:.2f} ms), {net['mflops_per_frame']:.1f} MFLOPs/frame; "
      f"one core serves {net['live_studies_per_core_at_4fps']:.0f} live studies at 4 frames/s "
      f"(detector only)")
# the detector's passes in the triage, from the summary (docs/engine.md,
# "Polyps", steps 3 and 4); probabilities are printed to 6 digits, so a
# frame within 1e-6 of the gate may be miscounted: a bench figure only
gate = s["polyp_model"].get("crop_gate")
frames = [f for f in s["frames"] if f.get("polyp_probability") is not None]
read = [gate is not None and f["polyp_probability"] >= gate for f in frames]
flag = [bool(f.get("polyp")) for f in frames]
passes = sum(1 + 5 * r + (3 + (0 if r else 5)) * g for r, g in zip(read, flag))
per = passes / max(len(frames), 1)
crop_note = (f"{sum(read)} frames ({100 * sum(read) / max(len(frames), 1):.1f} %) read through "
             f"their crops at gate {gate:.3g}, " if gate is not None else "no crop gate (one pass), ")
print(f"polyp detector in the triage: {per:.2f} passes a frame ({crop_note}{sum(flag)} flagged "
      f"frames outlined), {per * net['mflops_per_frame']:.1f} MFLOPs a frame")
print(json.dumps({"frames": n, "side": int(side), "runs": c["runs"], "reference_fps": round(ref, 1),
                  "threads1_fps": round(fps1, 1), "threads2_fps": round(fps2, 1),
                  "threads1_ratio": round(fps1 / ref, 3), "threads2_ratio": round(fps2 / ref, 3),
                  "peak_kib_threads1": int(m1), "peak_kib_threads2": int(m2),
                  "peak_kib_small": int(ms), "small_frames": small,
                  "cpu_s_reference": cref, "cpu_s_threads1": c1, "cpu_s_threads2": c2,
                  "cpu_ratio_threads2_idle": round(2 * cref / c2, 3),
                  "whole_triage_live_studies_per_core_at_4fps": round(fps1 / 4),
                  "crop_gate": gate, "crop_read_frames": sum(read),
                  "detector_passes_per_frame": round(per, 3),
                  "triage_detector_mflops_per_frame": round(per * net["mflops_per_frame"], 1),
                  "detector": net}))
PY
