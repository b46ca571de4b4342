#!/usr/bin/env bash
# The cross-validation of a recipe change against the shipped recipe, as
# three-draw ensembles per fold (docs/polyp-trials.md, "F's
# cross-validation"): draws that add up across sessions, and each fold's
# scores once its draws are in.
#
#   tools/polyp-cv.sh [SHARED_DATA_DIR] draws FOLD[,FOLD...] [ARM...]
#       Trains every draw of those folds that is not in the store yet:
#       each ARM (default: the fold's arms, below) x --train-seed 13, 14,
#       15. The arms of one fold and seed differ only in their loss
#       weights, so they train in lockstep, one job on one stream of
#       samples (each draw the same bytes as trained alone:
#       train_polyp.py, train_arms), POLYP_JOBS jobs at a time (default
#       2). A draw is trained under build-polyp-cv/ and copied into the
#       store only when complete: STORE/ARM/seedS/foldK.bin (its
#       weights, threshold by training's rule) and STORE/ARM/foldK-seedS.json
#       (its training report). Each job saves its state after every epoch
#       (train_polyp.py --checkpoint, under build-polyp-cv/ckpt-*), so a
#       job stopped by anything (a session's end, a reboot) goes on from
#       its last epoch when the same command runs again on the same
#       machine, with the same bytes. A checkpoint of another arm set for
#       the same fold and seed is removed when that set can never train
#       again (one of its arms is in the store); while it could (none is),
#       `draws` refuses before training anything and names it.
#   tools/polyp-cv.sh [SHARED_DATA_DIR] score FOLD
#       Once the fold's draws are in (each of its arms' three): each arm's
#       three draws combined as the shipped members are (version 4, crop
#       gate 0.1, the threshold by the shipped rule), F's (and N's on
#       fold 3) scored against the shipped recipe's on the same images
#       (train_polyp.py --evaluate --compare),
#       the size bands of both (polyp_size_sensitivity.py), and both in
#       the C engine on the fold's held-out frames (capscreen eval
#       --masks); writes the rule's measures to STORE/score-foldK.json
#       (the full reports stay under build-polyp-cv/score-foldK/).
#   tools/polyp-cv.sh status
#       Where each draw of folds 0-3 stands: in the store, part way (its
#       job's checkpoint folder and the last epoch its log shows), or not
#       started; and which folds are scored.
#   tools/polyp-cv.sh judge-n
#       Once fold 3 is scored: N's bars on it (tools/polyp_cv_verdict.py
#       --judge-n), which decide whether N is worth its other folds.
#   tools/polyp-cv.sh verdict
#       Reads the five folds' measures (folds 0-3 from the store, fold 4
#       from models/polyp-unet.metrics.json) and prints each bar of the
#       rule, met or missed (tools/polyp_cv_verdict.py).
#
# Arms: small = the member recipe (tools/train-polyp.sh --member-recipe,
# shipped since 2026-12-06); balance = the same with
# --source-label-balance frame (F); negatives = the same with
# --source-label-balance negatives (N, a trial that trains beside F's
# fold-3 draws: docs/polyp-trials.md, "N: the label independent of the
# source, polyp frames untouched"). A fold's arms, which `draws` trains,
# `status` lists and `score` scores: small and balance, and on fold 3
# negatives too. STORE is POLYP_CV_STORE, default
# models/cv-draws (committed: the machines keep nothing between sessions;
# README there). Needs the capscreen binary for `score`: CAPSCREEN, default
# build/capscreen (scripts/build.sh).
# POLYP_CV_WORK: where draws train and scores are worked out (default
# build-polyp-cv/, or build-polyp-cv-smoke/ with POLYP_SMOKE=1).
# POLYP_SMOKE=1: smoke draws and scores (a few frames, one epoch; the CI
# check of this path, tests/integration/polyp_cv_smoke.sh), which need
# POLYP_CV_STORE elsewhere than models/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/../shared/data
case ${1:-} in
  draws | score | status | verdict | judge-n | '') ;;
  *) data=$1; shift ;;
esac
store=${POLYP_CV_STORE:-$root/models/cv-draws}
capscreen=${CAPSCREEN:-$root/build/capscreen}
work=${POLYP_CV_WORK:-$root/build-polyp-cv}
smoke=()
if [ "${POLYP_SMOKE:-0}" = 1 ]; then
  # smoke draws (a few frames, one epoch) check this path, never a result:
  # they may not go into the committed store
  [ -n "${POLYP_CV_STORE:-}" ] || {
    echo "polyp-cv: POLYP_SMOKE=1 needs POLYP_CV_STORE (smoke draws never go into models/)" >&2; exit 1; }
  smoke=(--smoke)
  work=${POLYP_CV_WORK:-$root/build-polyp-cv-smoke}
fi
py=/usr/bin/python3
seeds=(13 14 15)
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
fail() { echo "polyp-cv: $*" >&2; exit 1; }

arm_balance() { # arm -> its --source-label-balance mode (the arms differ in nothing else)
  case $1 in
    small) echo off ;;
    balance) echo frame ;;
    negatives) echo negatives ;;
    *) fail "unknown arm '$1' (small, balance, negatives)" ;;
  esac
}

fold_arms() { # fold -> the arms `draws` trains by default and `status` lists
  case $1 in
    3) echo small balance negatives ;; # N beside F's last fold (three arms, one job)
    *) echo small balance ;;
  esac
}

recipe() { # the options of every draw beyond --part cv --folds K and the balance
  local r
  r=$("$root/tools/train-polyp.sh" --member-recipe)
  echo "${r/--part final /}" # the cross-validation part replaces the final one
}

in_store() { # fold seed arm: whether that draw is complete in the store
  [ -f "$store/$3/seed$2/fold$1.bin" ] && [ -f "$store/$3/fold$1-seed$2.json" ]
}

pending() { # fold seed arm...: the job name of the arms not in the store ('' if none)
  local k=$1 s=$2 a arms=()
  shift 2
  for a in "$@"; do in_store "$k" "$s" "$a" || arms+=("$a"); done
  (IFS=+; echo "${arms[*]}")
}

check_checkpoints() { # fold seed arm...: refuse to pass over another job's live checkpoint
  # draw() removes the checkpoint of another arm set for this fold and
  # seed. That is right when the set can never train again (one of its
  # arms is in the store, so `draws` never forms it), and wrong when it
  # can: it is hours of training, possibly running now.
  local k=$1 s=$2 name c other a last
  shift 2
  name=$(pending "$k" "$s" "$@")
  [ -n "$name" ] || return 0
  for c in "$work/ckpt-fold$k-seed$s-"*; do
    if [ ! -e "$c" ] || [ "$c" = "$work/ckpt-fold$k-seed$s-$name" ]; then continue; fi
    other=${c#"$work/ckpt-fold$k-seed$s-"}
    for a in ${other//+/ }; do in_store "$k" "$s" "$a" && continue 2; done
    last=$(grep -o 'epoch [0-9]*/[0-9]*' "$work/fold$k-seed$s-$other.log" 2>/dev/null | tail -1) || true
    echo "polyp-cv: fold $k seed $s: $c holds a training of ${other//+/, } that is not finished" \
      "(last in its log: ${last:-no epoch}), and this command would train ${name//+/, } instead and" \
      "remove it. Finish that one first (draws $k ${other//+/ }), or remove the folder to discard it." >&2
    return 1
  done
}

draw() { # fold seed arm...: trains the arms' draws not in the store, in lockstep
  local k=$1 s=$2 a
  shift 2
  local arms=() modes=() metrics=() dirs=()
  for a in "$@"; do
    if in_store "$k" "$s" "$a"; then
      echo "polyp-cv: $a fold $k seed $s: in the store" >&2
      continue
    fi
    arms+=("$a")
    modes+=("$(arm_balance "$a")")
    mkdir -p "$work/$a"
    rm -rf "$work/$a/seed$s/fold$k.bin" "$work/$a/fold$k-seed$s.json"
    metrics+=("$work/$a/fold$k-seed$s.json")
    dirs+=("$work/$a/seed$s")
  done
  [ ${#arms[@]} -gt 0 ] || return 0
  local name log
  name=$(IFS=+; echo "${arms[*]}")
  log=$work/fold$k-seed$s-$name.log
  local ckpt=$work/ckpt-fold$k-seed$s-$name c
  # checked again here, not only when the command started: another command
  # may have started a job for this fold and seed since
  check_checkpoints "$k" "$s" "${arms[@]}" || return 1
  for c in "$work/ckpt-fold$k-seed$s-"*; do # another arm set's: never resumed now (check_checkpoints)
    [ "$c" = "$ckpt" ] || [ ! -e "$c" ] || rm -rf "$c"
  done
  if compgen -G "$ckpt/*.ckpt" > /dev/null; then
    # the tool goes on from it if it is this very training's, else says why not
    echo "polyp-cv: $name fold $k seed $s: training, checkpoint found: $ckpt (log: $log), $(date -u +%H:%M) UTC" >&2
  else
    echo "polyp-cv: $name fold $k seed $s: training (log: $log), $(date -u +%H:%M) UTC" >&2
    : > "$log"
  fi
  echo "polyp-cv: started $(date -u +%FT%TZ)" >> "$log"
  # shellcheck disable=SC2046 # the recipe's options are words
  # a smoke training cross-validates only when given --cv-epochs
  "$root/tools/train-polyp.sh" "$data" --part cv --folds "$k" $(recipe) \
    --source-label-balance "$(IFS=,; echo "${modes[*]}")" ${smoke[@]+"${smoke[@]}" --cv-epochs 1} \
    --train-seed "$s" --metrics "$(IFS=,; echo "${metrics[*]}")" \
    --fold-weights "$(IFS=,; echo "${dirs[*]}")" \
    --out "$work/net-$k-$s.bin" --reference "$work/ref-$k-$s.bin" --checkpoint "$ckpt" \
    >> "$log" 2>&1 || {
    echo "polyp-cv: $name fold $k seed $s failed; the end of its log:" >&2
    tail -5 "$log" >&2
    return 1
  }
  local i w j
  for i in "${!arms[@]}"; do
    a=${arms[$i]}
    if [ ! -f "${dirs[$i]}/fold$k.bin" ] || [ ! -f "${metrics[$i]}" ]; then
      echo "polyp-cv: $a fold $k seed $s: the training wrote no fold weights or report ($work/$a)" >&2
      return 1
    fi
    w=$store/$a/seed$s/fold$k.bin j=$store/$a/fold$k-seed$s.json
    mkdir -p "$store/$a/seed$s"
    cp "${dirs[$i]}/fold$k.bin" "$w.partial" && mv "$w.partial" "$w" || return 1
    # the report last: a draw with its report in the store is complete
    cp "${metrics[$i]}" "$j.partial" && mv "$j.partial" "$j" || return 1
    echo "polyp-cv: $a fold $k seed $s: done, $(date -u +%H:%M) UTC" >&2
  done
}

members() { # arm fold -> its three draws, comma-separated (--evaluate)
  echo "$store/$1/seed13/fold$2.bin,$store/$1/seed14/fold$2.bin,$store/$1/seed15/fold$2.bin"
}

cmd_draws() {
  [ $# -ge 1 ] || usage
  local folds=$1 arms given jobs=${POLYP_JOBS:-2} pids=() failed=0
  shift
  given=("$@")
  case $jobs in '' | *[!0-9]* | 0) fail "POLYP_JOBS must be a whole number >= 1" ;; esac
  for a in "${given[@]}"; do arm_balance "$a" > /dev/null; done
  for k in ${folds//,/ }; do
    case $k in [0-3]) ;; *) fail "fold '$k': folds 0-3 (fold 4 is the final model's)" ;; esac
  done
  for k in ${folds//,/ }; do # before anything trains
    arms=("${given[@]}")
    # shellcheck disable=SC2207 # the arms are words
    [ ${#arms[@]} -gt 0 ] || arms=($(fold_arms "$k"))
    for s in "${seeds[@]}"; do check_checkpoints "$k" "$s" "${arms[@]}" || exit 1; done
  done
  for k in ${folds//,/ }; do
    arms=("${given[@]}")
    # shellcheck disable=SC2207 # the arms are words
    [ ${#arms[@]} -gt 0 ] || arms=($(fold_arms "$k"))
    for s in "${seeds[@]}"; do
      draw "$k" "$s" "${arms[@]}" &
      pids+=($!)
      if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
      fi
    done
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ $failed = 0 ] || fail "a draw failed (the others are in the store)"
}

cmd_status() {
  local k s a c job log last missing state
  for k in 0 1 2 3; do
    if [ -f "$store/score-fold$k.json" ]; then echo "fold $k: scored"; else echo "fold $k:"; fi
    for s in "${seeds[@]}"; do
      missing=()
      for a in $(fold_arms "$k"); do
        if [ -f "$store/$a/seed$s/fold$k.bin" ] && [ -f "$store/$a/fold$k-seed$s.json" ]; then
          echo "  $a seed $s: in the store"
        else
          missing+=("$a")
        fi
      done
      [ ${#missing[@]} -gt 0 ] || continue
      # the job that `draws` runs for the arms missing, as it names it
      job=$(IFS=+; echo "${missing[*]}")
      c=$work/ckpt-fold$k-seed$s-$job log=$work/fold$k-seed$s-$job.log
      state="not started"
      if compgen -G "$c/*.ckpt" > /dev/null; then
        last=$(grep -o 'epoch [0-9]*/[0-9]*' "$log" 2>/dev/null | tail -1) || true
        last=${last#epoch }
        state="part way: job $job, last epoch in its log ${last:-none}, checkpoints in $c"
      fi
      for a in "${missing[@]}"; do echo "  $a seed $s: $state"; done
    done
  done
}

cmd_score() {
  [ $# -eq 1 ] || usage
  local k=$1 d=$work/score-fold$1 arm
  case $k in [0-3]) ;; *) fail "fold '$k': folds 0-3 (fold 4 is recorded in the metrics file)" ;; esac
  [ -x "$capscreen" ] || fail "no capscreen binary at $capscreen (scripts/build.sh, or set CAPSCREEN)"
  local arms trials
  # shellcheck disable=SC2207 # the arms are words
  arms=($(fold_arms "$k"))
  trials=("${arms[@]:1}") # every arm but the shipped recipe's, scored against it
  for arm in "${arms[@]}"; do
    for s in "${seeds[@]}"; do
      [ -f "$store/$arm/fold$k-seed$s.json" ] ||
        fail "fold $k: the $arm draw of seed $s is not in the store yet (tools/polyp-cv.sh draws $k)"
    done
  done
  mkdir -p "$d"
  echo "polyp-cv: fold $k: the shipped recipe's ensemble, $(date -u +%H:%M) UTC" >&2
  "$root/tools/train-polyp.sh" "$data" --evaluate "$(members small "$k")" "${smoke[@]}" --fold "$k" --crop-gate 0.1 \
    --out "$d/small.bin" --reference "$d/small-ref.bin" --metrics "$d/small-eval.json" > "$d/small-eval.log" 2>&1 ||
    fail "fold $k: the shipped recipe's ensemble failed ($d/small-eval.log)"
  for arm in "${trials[@]}"; do
    echo "polyp-cv: fold $k: $arm's ensemble against it, $(date -u +%H:%M) UTC" >&2
    "$root/tools/train-polyp.sh" "$data" --evaluate "$(members "$arm" "$k")" "${smoke[@]}" --fold "$k" --crop-gate 0.1 \
      --compare "$d/small.bin" --out "$d/$arm.bin" --reference "$d/$arm-ref.bin" \
      --metrics "$d/$arm-eval.json" > "$d/$arm-eval.log" 2>&1 ||
      fail "fold $k: $arm's ensemble failed ($d/$arm-eval.log)"
  done
  for arm in "${arms[@]}"; do
    echo "polyp-cv: fold $k: $arm's size bands, $(date -u +%H:%M) UTC" >&2
    $py "$root/tools/polyp_size_sensitivity.py" --shared "$data" --cache "${POLYP_CACHE:-$root/build-polyp-cache}" \
      --weights "$d/$arm.bin" --fold "$k" "${smoke[@]}" --metrics "$d/$arm-size.json" > "$d/$arm-size.log" 2>&1 ||
      fail "fold $k: size bands of $arm failed ($d/$arm-size.log)"
  done
  rm -rf "$d/heldout"
  $py "$root/tools/train_polyp.py" --shared "$data" --cache "${POLYP_CACHE:-$root/build-polyp-cache}" \
    --metrics "$d/heldout.json" --write-heldout "$d/heldout" --fold "$k" > "$d/heldout.log" 2>&1 ||
    fail "fold $k: writing the held-out frames failed ($d/heldout.log)"
  for arm in "${arms[@]}"; do
    echo "polyp-cv: fold $k: $arm in the C engine, $(date -u +%H:%M) UTC" >&2
    "$capscreen" eval --finding polyp --polyp-model "$d/$arm.bin" "$d/heldout/frames" \
      "$d/heldout/labels.csv" --masks "$d/heldout/masks" > "$d/$arm-c.out" 2>&1 ||
      fail "fold $k: capscreen eval of $arm failed ($d/$arm-c.out)"
  done
  $py "$root/tools/polyp_cv_verdict.py" --fold-summary "$d" --fold "$k" --out "$store/score-fold$k.json"
}

case ${1:-} in
  draws) shift; cmd_draws "$@" ;;
  status) shift; [ $# -eq 0 ] || usage; cmd_status ;;
  score) shift; cmd_score "$@" ;;
  verdict) shift; exec $py "$root/tools/polyp_cv_verdict.py" --store "$store" \
    --metrics "$root/models/polyp-unet.metrics.json" "$@" ;;
  judge-n) shift; [ $# -eq 0 ] || usage
    exec $py "$root/tools/polyp_cv_verdict.py" --judge-n "$store/score-fold3.json" ;;
  *) usage ;;
esac
