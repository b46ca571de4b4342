#!/usr/bin/env bash
# The README's run command: install what is missing, build, and triage the
# demo study (samples/demo) end to end: pack its frames into a frame-stream
# file, as a home hub would send them, then analyse the stream. The summary
# lands in demo-output/summary.json. (Until the server exists, this is the
# main job; see README.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
cs="$root/build/capscreen"
out="$root/demo-output"
mkdir -p "$out"
"$cs" pack --fps 4 --start-us 1764064800000000 "$root/samples/demo/frames" "$out/demo.csfs"
"$cs" analyze --threads "$(nproc)" --output "$out/summary.json" "$out/demo.csfs"
python3 - "$out/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c, cl = s["counts"], s["cleansing"]
print(f"demo study: {c['frames']} frames, {c['analysed']} analysed, {c['failed']} unreadable")
print(f"  readable {c['readable']}, too dark {c['too_dark']}, blurry {c['blurry']}")
print(f"  suspected bleeding: {c['bleeding_flagged']} frames")
print(f"  reduced view: {len(s['reduced_view'])} of {c['frames']} frames "
      f"({c['redundant']} redundant)")
print(f"  cleansing: {cl['grade']} (mean visibility {cl['mean_visibility']:.2f})")
print("  top frames for review:")
for r in s["ranked_for_review"][:5]:
    print(f"    #{r['rank']} {r['name']} p={r['bleeding_probability']:.3f}")
print(f"summary: {sys.argv[1]}")
PY
