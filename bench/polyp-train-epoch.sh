#!/usr/bin/env bash
# Training speed of tools/train_polyp.py against a reference version of it
# measured in the same run: both train the member recipe (seed 13, --part
# final) for EPOCHS epochs at once, one per core, as the members and the
# cross-validation's draws are trained two at a time. Prints each one's
# seconds an epoch (epochs 2..EPOCHS: epoch 1 carries the set-up), their
# ratio, and whether the two gave the same weights (a speed change to the
# tool must not change what it trains).
#
#   bench/polyp-train-epoch.sh [REF_REV] [EPOCHS]
#       REF_REV  a git revision of tools/train_polyp.py (default HEAD~1)
#       EPOCHS   default 4 (about 5 minutes on the 2-core VM)
#
# Work files under $CS_BENCH_DIR (default /tmp/capscreen-bench)/train-epoch.
# The decoded-frame cache is build-polyp-cache/ (made on first use).
# Figures: bench/README.md, "Training speed".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:-HEAD~1}
epochs=${2:-4}
case $epochs in '' | *[!0-9]* | 0 | 1) echo "bench: EPOCHS must be 2 or more" >&2; exit 1 ;; esac
shared=${CS_SHARED_DIR:-$root/../shared}/data
[ -f "$shared/kvasir-seg/labels.csv" ] || { echo "bench: shared frames not found under $shared" >&2; exit 1; }
work=${CS_BENCH_DIR:-/tmp/capscreen-bench}/train-epoch
rm -rf "$work" && mkdir -p "$work/ref/tools" "$work/cur"
git -C "$root" show "$rev:tools/train_polyp.py" > "$work/ref/tools/train_polyp.py"
read -r -a recipe <<< "$("$root/tools/train-polyp.sh" --member-recipe)"
run() { # name tool
  /usr/bin/python3 "$2" --shared "$shared" --cache "$root/build-polyp-cache" --threads 1 \
    "${recipe[@]}" --epochs "$epochs" --train-seed 13 --out "$work/$1/w.bin" \
    --reference "$work/$1/ref.bin" --metrics "$work/$1/m.json" > "$work/$1/log" 2>&1
}
# the cache once, so that neither run pays for it
/usr/bin/python3 -c "import sys; sys.path.insert(0, '$root/tools'); import train_polyp as t; \
t.build_cache('$shared', '$root/build-polyp-cache')" > /dev/null
run ref "$work/ref/tools/train_polyp.py" &
a=$!
run cur "$root/tools/train_polyp.py" &
b=$!
wait $a && wait $b
per_epoch() { # log -> mean seconds of epochs 2..N (the log's running totals)
  grep -o 'epoch [0-9]*/[0-9]* .*([0-9]* s)' "$1" | sed 's/.*(\([0-9]*\) s)/\1/' |
    awk 'NR == 1 { first = $1 } { last = $1; n = NR } END { printf "%.1f", (last - first) / (n - 1) }'
}
r=$(per_epoch "$work/ref/log") c=$(per_epoch "$work/cur/log")
same=false
cmp -s "$work/ref/w.bin" "$work/cur/w.bin" && same=true
echo "reference ($rev): $r s an epoch; current: $c s an epoch; ${epochs} epochs, two at once on $(nproc) cores"
echo "ratio (reference / current): $(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.2f", r / c }')x; the same weights: $same"
printf '{"bench":"polyp-train-epoch","reference":"%s","epochs":%d,"reference_s_per_epoch":%s,"current_s_per_epoch":%s,"same_weights":%s}\n' \
  "$(git -C "$root" rev-parse --short "$rev")" "$epochs" "$r" "$c" "$same"
