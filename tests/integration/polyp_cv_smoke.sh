#!/usr/bin/env bash
# polyp_cv_smoke.sh - F's cross-validation (tools/polyp-cv.sh) end to end
# on smoke draws (POLYP_SMOKE=1: a few frames, one epoch):
#   - `draws` trains the two arms of a fold and seed in lockstep, one job
#     (train_polyp.py --source-label-balance off,frame), and each lockstep
#     draw is the same bytes and report as its arm trained alone;
#   - a draw in the store is never trained again, and an arm whose pair
#     is in the store trains alone (the same bytes again);
#   - each job is given its checkpoint (train_polyp.py --checkpoint), a
#     damaged one is set aside, and none is left once the draws are in
#     (resuming itself: train_polyp_resume.sh); one of another arm set
#     that could still resume stops `draws` before anything trains;
#   - fold 3 trains a third arm, N (--source-label-balance negatives),
#     in the same job, and the other two arms keep their bytes;
#   - `score` writes the fold's measures for both arms (and N's on fold
#     3, which `judge-n` judges), and `verdict` gives none while folds
#     are missing (exit 3);
#   - `status` shows each draw in the store, part way or not started,
#     and the folds scored;
#   - train_polyp.py refuses a lockstep list outside --part cv, a list
#     with a repeated or unknown mode, and a wrong count of --metrics files.
# Skips (77) without ../shared or Debian's python3-torch.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_polyp_training
export POLYP_SMOKE=1 POLYP_CV_STORE="$T/store" POLYP_CV_WORK="$T/jobs" POLYP_CACHE="$T/cache"
cv() { "$CS_SOURCE_DIR/tools/polyp-cv.sh" "$CS_SHARED_DIR/data" "$@"; }
recipe=$("$CS_SOURCE_DIR/tools/train-polyp.sh" --member-recipe)
read -r -a recipe <<< "${recipe/--part final /}"
tool() { /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" "$@"; }

# each arm of fold 0, seed 13, trained alone, as the draws were before lockstep
for mode in off frame; do
    tool "${recipe[@]}" --part cv --folds 0 --cv-epochs 1 --train-seed 13 \
        --source-label-balance "$mode" --out "$T/unused.bin" --metrics "$T/alone-$mode.json" \
        --fold-weights "$T/alone-$mode" >/dev/null 2>"$T/alone-$mode.err" \
        || die "fold 0 ($mode alone) failed: $(tail -5 "$T/alone-$mode.err")"
done

expect_in_store() { # fold arm...: each arm's three draws of that fold, weights and report
    local k=$1 arm s
    shift
    for arm in "$@"; do
        for s in 13 14 15; do
            [ -s "$T/store/$arm/seed$s/fold$k.bin" ] && [ -s "$T/store/$arm/fold$k-seed$s.json" ] \
                || fail "no $arm draw of fold $k seed $s in the store"
        done
    done
}

cv draws 0 2>"$T/draws1.err" || die "draws 0 failed: $(tail -5 "$T/draws1.err")"
[ "$(grep -c 'small+balance fold 0 seed 1[345]: training' "$T/draws1.err")" = 3 ] \
    || fail "the arms of each seed did not train as one job: $(cat "$T/draws1.err")"
expect_in_store 0 small balance
cmp -s "$T/alone-off/fold0.bin" "$T/store/small/seed13/fold0.bin" \
    || fail "the lockstep draw of the shipped recipe differs from the one trained alone"
cmp -s "$T/alone-frame/fold0.bin" "$T/store/balance/seed13/fold0.bin" \
    || fail "the lockstep draw of F differs from the one trained alone"
! cmp -s "$T/store/small/seed13/fold0.bin" "$T/store/balance/seed13/fold0.bin" \
    || fail "the two arms trained the same network"
python3 - "$T" <<'PY' || fail "a lockstep draw's report differs from the one trained alone"
import json, sys
t = sys.argv[1]
for mode, arm, other in (("off", "small", "frame"), ("frame", "balance", "off")):
    alone = json.load(open(f"{t}/alone-{mode}.json"))
    step = json.load(open(f"{t}/store/{arm}/fold0-seed13.json"))
    assert step["cv"].pop("lockstep_with") == [other], step["cv"]
    assert "lockstep_with" not in alone["cv"], alone["cv"]
    for d in (alone, step):  # wall time is the only thing that may differ
        d.pop("total_seconds")
        d["cv"].pop("seconds")
    assert alone == step, (mode, alone, step)
    assert step.get("source_label_balance", "off") == mode, step
PY
ok "draws: the two arms of a seed train in lockstep, each the same bytes and report as alone"

sha_before=$(sha256sum "$T/store/balance/seed14/fold0.bin" | cut -d' ' -f1)
cv draws 0 2>"$T/draws2.err" || die "draws 0 again failed: $(tail -5 "$T/draws2.err")"
! grep -q training "$T/draws2.err" || fail "a draw in the store trained again: $(cat "$T/draws2.err")"
[ "$(grep -c ': in the store' "$T/draws2.err")" = 6 ] || fail "not every draw reported in the store"
rm "$T/store/balance/fold0-seed14.json" # a draw without its report is not complete
# a damaged checkpoint where that job keeps its own: named, set aside, removed
# (and one of another arm set for that fold and seed, which can never resume now)
mkdir -p "$T/jobs/ckpt-fold0-seed14-balance" "$T/jobs/ckpt-fold0-seed14-small+balance"
printf 'not a checkpoint\n' > "$T/jobs/ckpt-fold0-seed14-balance/cv0.ckpt"
printf 'not a checkpoint\n' > "$T/jobs/ckpt-fold0-seed14-small+balance/cv0.ckpt"
cv status >"$T/status1.out" 2>&1 || fail "status failed: $(cat "$T/status1.out")"
grep -q '^  balance seed 14: part way: job balance, last epoch in its log none, checkpoints in' \
    "$T/status1.out" || fail "status does not show the draw part way: $(cat "$T/status1.out")"
[ "$(grep -c ': in the store' "$T/status1.out")" = 5 ] || fail "status: not five draws in the store"
# folds 1 and 2 with two arms, fold 3 with three (N beside F)
[ "$(grep -c ': not started' "$T/status1.out")" = 21 ] || fail "status: not folds 1-3 not started"
cv draws 0 2>"$T/draws3.err" || die "draws 0 a third time failed: $(tail -5 "$T/draws3.err")"
grep -q '^polyp-cv: balance fold 0 seed 14: training, checkpoint found' "$T/draws3.err" \
    || fail "the incomplete draw did not train alone from its checkpoint: $(cat "$T/draws3.err")"
grep -q "checkpoint $T/jobs/ckpt-fold0-seed14-balance/cv0.ckpt is not readable" \
    "$T/jobs/fold0-seed14-balance.log" \
    || fail "the job was not given its checkpoint: $(head -3 "$T/jobs/fold0-seed14-balance.log")"
[ ! -e "$T/jobs/ckpt-fold0-seed14-small+balance" ] || fail "another arm set's checkpoint was left"
! ls "$T/jobs"/ckpt-*/*.ckpt >/dev/null 2>&1 || fail "checkpoints left after the draws were written"
[ "$(grep -c training "$T/draws3.err")" = 1 ] || fail "more than that draw trained: $(cat "$T/draws3.err")"
[ "$(sha256sum "$T/store/balance/seed14/fold0.bin" | cut -d' ' -f1)" = "$sha_before" ] \
    || fail "F's seed-14 draw trained alone differs from its lockstep draw"
ok "a draw in the store is kept; an arm whose pair is in the store trains alone, the same bytes"

cv score 0 2>"$T/score.err" || die "score 0 failed: $(tail -5 "$T/score.err")"
cv status >"$T/status2.out" 2>&1 || fail "status failed after the score"
grep -q '^fold 0: scored$' "$T/status2.out" && grep -q '^fold 1:$' "$T/status2.out" \
    || fail "status does not show fold 0 scored: $(head -2 "$T/status2.out")"
[ "$(grep -c ': in the store' "$T/status2.out")" = 6 ] || fail "status: not six draws in the store"
python3 - "$T/store/score-fold0.json" <<'PY' || fail "score-fold0.json incomplete"
import json, sys
s = json.load(open(sys.argv[1]))
for arm in ("small", "balance"):
    a = s[arm] if arm in s else s["arms"][arm]
    for k in ("crop_source_auroc", "capsule_auroc", "dice_tool", "c_dice", "threshold"):
        assert a.get(k) is not None, (arm, k, a)
PY
rc=0
cv verdict >"$T/verdict.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "verdict with folds 1-3 missing: exit $rc, not 3: $(cat "$T/verdict.out")"
ok "score writes both arms' measures; verdict gives none while folds are missing"

expect_refused() { # what the error must say, then the options
    local want=$1
    shift
    if tool "${recipe[@]}" --out "$T/unused.bin" "$@" >/dev/null 2>"$T/refused.err"; then
        fail "accepted: $*"
    elif ! grep -q -- "$want" "$T/refused.err"; then
        fail "no clear error for '$*': $(tail -2 "$T/refused.err")"
    fi
}
expect_refused "goes with --part cv" --part final --source-label-balance off,frame \
    --metrics "$T/r1.json,$T/r2.json"
expect_refused "give as many distinct --metrics" --part cv --folds 0 --cv-epochs 1 \
    --source-label-balance off,frame --metrics "$T/r1.json"
expect_refused "give as many distinct --metrics" --part cv --folds 0 --cv-epochs 1 \
    --source-label-balance off,frame --metrics "$T/r1.json,$T/r1.json"
expect_refused "give as many distinct --metrics" --part cv --folds 0 --cv-epochs 1 \
    --source-label-balance off,frame --metrics "$T/r1.json,$T/r2.json" --fold-weights "$T/fw"
expect_refused "a list of distinct ones" --part cv --source-label-balance off,off \
    --metrics "$T/r1.json,$T/r2.json"
expect_refused "a list of distinct ones" --part cv --source-label-balance frames --metrics "$T/r1.json"
[ ! -e "$T/r1.json" ] && [ ! -e "$T/r2.json" ] || fail "a refused run wrote a metrics file"
ok "train_polyp.py refuses a lockstep list outside --part cv, repeated or unknown modes, a wrong count of files"

# N beside F on fold 3: three arms, one job; the first two are the same
# bytes as the pair trained without the third
tool "${recipe[@]}" --part cv --folds 3 --cv-epochs 1 --train-seed 13 \
    --source-label-balance off,frame --out "$T/unused.bin" \
    --metrics "$T/pair-off.json,$T/pair-frame.json" --fold-weights "$T/pair-off,$T/pair-frame" \
    >/dev/null 2>"$T/pair.err" || die "fold 3 (the pair alone) failed: $(tail -5 "$T/pair.err")"
# a checkpoint of another arm set that could still resume (none of its
# arms in the store): refused before anything trains, and kept
mkdir -p "$T/jobs/ckpt-fold3-seed14-small+balance"
printf 'hours of training\n' > "$T/jobs/ckpt-fold3-seed14-small+balance/cv3.ckpt"
if cv draws 3 2>"$T/refused-ckpt.err"; then fail "draws 3 passed over another job's live checkpoint"; fi
grep -q "ckpt-fold3-seed14-small+balance holds a training of small, balance that is not finished" \
    "$T/refused-ckpt.err" || fail "no clear refusal: $(cat "$T/refused-ckpt.err")"
! grep -q ': training' "$T/refused-ckpt.err" || fail "a draw trained before the refusal: $(cat "$T/refused-ckpt.err")"
[ -s "$T/jobs/ckpt-fold3-seed14-small+balance/cv3.ckpt" ] || fail "the live checkpoint was removed"
rm -r "$T/jobs/ckpt-fold3-seed14-small+balance"
ok "draws refuses, before training, to remove a checkpoint that could still resume"
cv draws 3 2>"$T/draws4.err" || die "draws 3 failed: $(tail -5 "$T/draws4.err")"
[ "$(grep -c 'small+balance+negatives fold 3 seed 1[345]: training' "$T/draws4.err")" = 3 ] \
    || fail "fold 3's three arms did not train as one job a seed: $(cat "$T/draws4.err")"
expect_in_store 3 small balance negatives
cmp -s "$T/pair-off/fold3.bin" "$T/store/small/seed13/fold3.bin" \
    || fail "beside N, the shipped recipe's draw differs from the pair's"
cmp -s "$T/pair-frame/fold3.bin" "$T/store/balance/seed13/fold3.bin" \
    || fail "beside N, F's draw differs from the pair's"
! cmp -s "$T/store/negatives/seed13/fold3.bin" "$T/store/balance/seed13/fold3.bin" \
    || fail "N trained the same network as F"
python3 - "$T/store/negatives/fold3-seed13.json" <<'PY' || fail "N's report does not name its mode"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source_label_balance"] == "negatives", d.get("source_label_balance")
assert d["cv"]["lockstep_with"] == ["off", "frame"], d["cv"]
PY
cv status >"$T/status3.out" 2>&1 || fail "status failed after fold 3's draws"
[ "$(grep -c '^  negatives seed 1[345]: in the store' "$T/status3.out")" = 3 ] \
    || fail "status does not list N's fold-3 draws: $(cat "$T/status3.out")"
ok "fold 3 trains N beside both arms in one job, and leaves their bytes as they were"

cv score 3 2>"$T/score3.err" || die "score 3 failed: $(tail -5 "$T/score3.err")"
python3 - "$T/store/score-fold3.json" <<'PY' || fail "score-fold3.json lacks an arm's measures"
import json, sys
s = json.load(open(sys.argv[1]))
assert sorted(s["arms"]) == ["balance", "negatives", "small"], sorted(s["arms"])
for arm in s["arms"].values():
    for k in ("crop_source_auroc", "capsule_auroc", "dice_tool", "c_dice", "c_specificity"):
        assert arm.get(k) is not None, (k, arm)
PY
cv judge-n >"$T/judge.out" 2>&1 || fail "judge-n failed: $(cat "$T/judge.out")"
[ "$(grep -c '^met - \|^MISSED - ' "$T/judge.out")" = 4 ] \
    || fail "judge-n did not give N's four bars: $(cat "$T/judge.out")"
ok "score scores N beside both arms on fold 3, and judge-n gives its four bars"
cs_finish
