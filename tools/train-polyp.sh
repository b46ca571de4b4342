#!/usr/bin/env bash
# Retrain the polyp detector from the shared Kvasir-SEG and WCEBleedGen
# frames: the shipped model, then grouped 5-fold cross-validation at its
# setting (fold 4 is the shipped model; --part final|cv and --folds run
# parts). Writes models/polyp-unet.bin (weights + threshold),
# models/polyp-unet.metrics.json and the C test vector
# tests/data/polyp-ref.bin. Single thread, seeded, deterministic.
#   tools/train-polyp.sh [SHARED_DATA_DIR] [extra train_polyp.py options]
# (later options win: a trial such as --input-side 128 should pass its own
# --out, --metrics and --reference so as not to replace the shipped files)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}
shift || true
for d in kvasir-seg wcebleedgen; do
  [ -f "$data/$d/labels.csv" ] || { echo "train-polyp: no $d/labels.csv under $data" >&2; exit 1; }
done
/usr/bin/python3 -c 'import torch, numpy, PIL' 2>/dev/null || {
  echo "train-polyp: needs python3-torch, python3-numpy, python3-pil (Debian packages)" >&2; exit 1; }
exec /usr/bin/python3 "$root/tools/train_polyp.py" --shared "$data" \
  --cache "$root/build-polyp-cache" --threads 1 \
  --out "$root/models/polyp-unet.bin" --metrics "$root/models/polyp-unet.metrics.json" \
  --reference "$root/tests/data/polyp-ref.bin" "$@"
