#!/usr/bin/env bash
# The bleeding model is reproducible and meets its targets: retraining from
# the shared frames with tools' defaults gives grouped-CV AUROC >= 0.99,
# sensitivity >= 0.97 at specificity >= 0.95, a re-encoding (336 px, q70)
# accuracy drop under 2 points, and a model byte-identical to models/.
set -euo pipefail
data="$CS_SHARED_DIR/data/wcebleedgen"
if [ ! -f "$data/labels.csv" ]; then
  echo "SKIP: shared data set not found at $data (set CS_SHARED_DIR)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CS_BUILD_DIR/train-bleeding" --data "$data" --threads 2 --out "$tmp/model.json" \
  --metrics "$tmp/metrics.json" >/dev/null
python3 - "$tmp/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
oof, re = m["out_of_fold"], m["out_of_fold_reencoded_336_q70"]
print(f"out-of-fold AUROC {oof['auroc']:.4f}, sensitivity at spec>=0.95 "
      f"{oof['sensitivity_at_specificity_0.95']:.4f}, re-encode drop "
      f"{m['reencode_accuracy_drop_points']:.2f} points")
assert m["grouped_by"] == "group" and m["folds"] == 5, m
assert oof["n"] == 1952, oof["n"]
assert oof["auroc"] >= 0.99, f"AUROC {oof['auroc']} < 0.99"
assert oof["sensitivity_at_specificity_0.95"] >= 0.97, oof
assert m["reencode_accuracy_drop_points"] < 2.0, m["reencode_accuracy_drop_points"]
assert re["auroc"] >= 0.99, re
PY
if cmp -s "$tmp/model.json" "$CS_SOURCE_DIR/models/bleeding-xgb.json"; then
  echo "retrained model is byte-identical to models/bleeding-xgb.json"
else
  echo "FAIL: retrained model differs from models/bleeding-xgb.json (run tools/train-bleeding.sh and commit)"
  exit 1
fi
