#!/usr/bin/env bash
# Retrain the bleeding model from the shared WCEBleedGen frames: grouped 5-fold
# cross-validation, then the final model on all frames. Writes
# models/bleeding-xgb.json and models/bleeding-xgb.metrics.json.
# Deterministic: the same data, seed and thread count give the same model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/wcebleedgen}
[ -f "$data/labels.csv" ] || { echo "train-bleeding: no data set at $data" >&2; exit 1; }
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target train-bleeding >/dev/null
"$root/build/train-bleeding" --data "$data" --threads 2 \
  --out "$root/models/bleeding-xgb.json" --metrics "$root/models/bleeding-xgb.metrics.json"
