#!/usr/bin/env bash
# Throughput of the cross-validation's draws trained in lockstep
# (tools/train_polyp.py --source-label-balance off,frame: both arms of a
# fold and seed on one stream of samples, drawn once) against one arm
# trained alone, measured in the same run: the two jobs train fold 0 of
# the member recipe (seed 13) for EPOCHS epochs at once, one per core, as
# tools/polyp-cv.sh runs its jobs. Prints each job's seconds an epoch
# (epochs 2..EPOCHS: epoch 1 carries the set-up), the draws a core trains
# per hour either way and their ratio, and whether the lockstep job's
# `off` network is the same bytes as the one trained alone (it must be:
# lockstep may change only the speed, never a draw).
#
#   bench/polyp-train-lockstep.sh [EPOCHS]
#       EPOCHS   default 4 (about 6 minutes on the 2-core VM: each job
#                also scores its networks on fold 0 once trained)
#
# Work files under $CS_BENCH_DIR (default /tmp/capscreen-bench)/train-lockstep.
# The decoded-frame cache is build-polyp-cache/ (made on first use).
# Figures: bench/README.md, "Training speed".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
epochs=${1:-4}
case $epochs in '' | *[!0-9]* | 0 | 1) echo "bench: EPOCHS must be 2 or more" >&2; exit 1 ;; esac
shared=${CS_SHARED_DIR:-$root/../shared}/data
[ -f "$shared/kvasir-seg/labels.csv" ] || { echo "bench: shared frames not found under $shared" >&2; exit 1; }
work=${CS_BENCH_DIR:-/tmp/capscreen-bench}/train-lockstep
rm -rf "$work" && mkdir -p "$work/alone" "$work/lockstep"
recipe=$("$root/tools/train-polyp.sh" --member-recipe)
read -r -a recipe <<< "${recipe/--part final /}"
run() { # name balance metrics fold-weights
  /usr/bin/python3 "$root/tools/train_polyp.py" --shared "$shared" --cache "$root/build-polyp-cache" \
    --threads 1 "${recipe[@]}" --part cv --folds 0 --cv-epochs "$epochs" --train-seed 13 \
    --source-label-balance "$2" --metrics "$3" --fold-weights "$4" \
    --out "$work/$1/w.bin" > "$work/$1/log" 2>&1
}
# the cache once, so that neither run pays for it
/usr/bin/python3 -c "import sys; sys.path.insert(0, '$root/tools'); import train_polyp as t; \
t.build_cache('$shared', '$root/build-polyp-cache')" > /dev/null
run alone off "$work/alone/m.json" "$work/alone/off" &
a=$!
run lockstep off,frame "$work/lockstep/off.json,$work/lockstep/frame.json" \
  "$work/lockstep/off,$work/lockstep/frame" &
b=$!
wait $a && wait $b
per_epoch() { # log -> mean seconds of epochs 2..N (the log's running totals; one line per
  # epoch: a lockstep log's [off] lines, which close each of its epochs' first network)
  grep -E "^cv0 (\[off\] )?epoch [0-9]+/" "$1" | sed 's/.*(\([0-9]*\) s)$/\1/' |
    awk 'NR == 1 { first = $1 } { last = $1; n = NR } END { printf "%.1f", (last - first) / (n - 1) }'
}
s1=$(per_epoch "$work/alone/log") s2=$(per_epoch "$work/lockstep/log")
same=false
cmp -s "$work/alone/off/fold0.bin" "$work/lockstep/off/fold0.bin" && same=true
per_hour() { awk -v n="$1" -v s="$2" -v e=168 'BEGIN { printf "%.2f", n * 3600 / (s * e) }'; }
echo "alone: $s1 s an epoch (one network); lockstep: $s2 s an epoch (two networks); ${epochs} epochs, two jobs at once on $(nproc) cores"
echo "draws a core trains an hour (168 epochs): alone $(per_hour 1 "$s1"), lockstep $(per_hour 2 "$s2")"
echo "ratio (lockstep / alone): $(awk -v a="$s1" -v l="$s2" 'BEGIN { printf "%.2f", 2 * a / l }')x; the same off network: $same"
printf '{"bench":"polyp-train-lockstep","epochs":%d,"alone_s_per_epoch":%s,"lockstep_s_per_epoch":%s,"same_weights":%s}\n' \
  "$epochs" "$s1" "$s2" "$same"
