#!/usr/bin/env bash
# Rebuild samples/demo from the shared WCEBleedGen frames and Kvasir-SEG
# polyps (see samples/README.md): make-demo.sh [WCEBLEEDGEN_DIR [KVASIR_DIR]].
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/wcebleedgen}
[ -f "$data/labels.csv" ] || { echo "make-demo: no data set at $data" >&2; exit 1; }
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target make-demo >/dev/null
rm -rf "$root/samples/demo"
"$root/build/make-demo" --data "$data" --out "$root/samples/demo"
# A few frames with a Kvasir-SEG polyp pasted in (Debian's python3: PIL, numpy).
kvasir=${2:-$root/../shared/data/kvasir-seg}
/usr/bin/python3 "$root/tools/make_demo_polyps.py" --kvasir "$kvasir" --demo "$root/samples/demo" >/dev/null
