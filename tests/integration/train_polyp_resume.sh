#!/usr/bin/env bash
# train_polyp_resume.sh - a polyp training stopped part way goes on from
# its checkpoint with the same bytes (tools/train_polyp.py --checkpoint DIR,
# --stop-at-epoch), on smoke data (a few frames, two or three epochs):
#   - the two arms in lockstep, stopped after epoch 1 and run again: the
#     same weights and report as never stopped, the checkpoints removed;
#   - with the domain head, MixStyle and the level penalty, stopped after
#     epoch 2 (the optimiser's gradients are state: a resume that drops
#     them moves the domain head differently);
#   - killed with SIGKILL once its first checkpoint is written: the rerun
#     goes on from it, the same bytes again;
#   - a checkpoint of another training, or a damaged one, is named and
#     set aside (kept as .set-aside): training starts at epoch 1, the same
#     bytes as a fresh one;
#   - --part all (the final model, then fold 0) stopped in fold 0: the
#     rerun does not train the final model again and goes on in fold 0,
#     every output the same bytes as never stopped;
#   - clear refusals: --stop-at-epoch without --checkpoint or below 1,
#     --checkpoint with --evaluate.
# Skips (77) without ../shared or Debian's python3-torch.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_polyp_training
recipe=$("$CS_SOURCE_DIR/tools/train-polyp.sh" --member-recipe)
read -r -a recipe <<< "${recipe/--part final /}"
tool_cmd=(/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data"
    --cache "$T/cache" --out "$T/unused.bin")
tool() { "${tool_cmd[@]}" "$@"; }
lockstep=("${recipe[@]}" --part cv --folds 0 --cv-epochs 3 --source-label-balance "off,frame")
lock() { # NAME [options]: the lockstep draw of both arms, seed 13 unless given, into $T/NAME-*
    local n=$1
    shift
    tool "${lockstep[@]}" --train-seed 13 --metrics "$T/$n-off.json,$T/$n-frame.json" \
        --fold-weights "$T/$n-off,$T/$n-frame" "$@"
}
same_draws() { # A B: both arms' weights and reports equal, wall time and resume aside
    local m
    for m in off frame; do
        cmp -s "$T/$1-$m/fold0.bin" "$T/$2-$m/fold0.bin" || return 1
    done
    python3 - "$T" "$1" "$2" <<'PY'
import json, sys
t, a, b = sys.argv[1:]
for m in ("off", "frame"):
    docs = [json.load(open(f"{t}/{n}-{m}.json")) for n in (a, b)]
    for d in docs:
        d.pop("total_seconds")
        d["cv"].pop("seconds")
        for f in d["cv"]["folds"]:
            f.pop("resumed_at_epoch", None)
    assert docs[0] == docs[1], (m, docs)
PY
}
resumed_at() { # NAME EPOCH: both reports record the resume at that epoch
    python3 - "$T" "$1" "$2" <<'PY'
import json, sys
t, n, ep = sys.argv[1], sys.argv[2], int(sys.argv[3])
for m in ("off", "frame"):
    f = json.load(open(f"{t}/{n}-{m}.json"))["cv"]["folds"][0]
    assert f.get("resumed_at_epoch") == ep, (m, f.get("resumed_at_epoch"))
PY
}

lock plain 2>"$T/plain.err" || die "the lockstep draw failed: $(tail -5 "$T/plain.err")"
rc=0
lock stop --checkpoint "$T/stop.ck" --stop-at-epoch 1 2>"$T/stop1.err" || rc=$?
[ "$rc" = 3 ] || fail "--stop-at-epoch 1: exit $rc, not 3: $(tail -3 "$T/stop1.err")"
grep -q "stopped after epoch 1 of 3" "$T/stop1.err" || fail "no word of the stop: $(tail -3 "$T/stop1.err")"
[ -s "$T/stop.ck/cv0.ckpt" ] || fail "the stopped training left no checkpoint"
[ ! -e "$T/stop-off/fold0.bin" ] || fail "a stopped training wrote fold weights"
lock stop --checkpoint "$T/stop.ck" 2>"$T/stop2.err" || die "the resumed draw failed: $(tail -5 "$T/stop2.err")"
grep -q "resuming from $T/stop.ck/cv0.ckpt: 1 of 3 epochs done" "$T/stop2.err" \
    || fail "the rerun did not go on from the checkpoint: $(head -3 "$T/stop2.err")"
! grep -q "epoch 1/3" "$T/stop2.err" || fail "the rerun trained epoch 1 again"
same_draws plain stop || fail "the draws stopped after epoch 1 and resumed differ from the ones never stopped"
resumed_at stop 1 || fail "the reports do not record the resume"
[ ! -e "$T/stop.ck" ] || fail "checkpoints left after the draws were written: $(ls "$T/stop.ck")"
ok "lockstep arms stopped after epoch 1 and resumed: the same bytes and reports, the checkpoints removed"

extra=(--part cv --folds 0 --cv-epochs 3 --train-seed 13 --domain-weight 0.1 --mixstyle 0.5 --level-weight 0.2)
tool "${extra[@]}" --metrics "$T/x.json" --fold-weights "$T/x" 2>"$T/x.err" \
    || die "the domain-head draw failed: $(tail -5 "$T/x.err")"
rc=0
tool "${extra[@]}" --metrics "$T/y.json" --fold-weights "$T/y" --checkpoint "$T/y.ck" \
    --stop-at-epoch 2 2>"$T/y1.err" || rc=$?
[ "$rc" = 3 ] || fail "--stop-at-epoch 2: exit $rc, not 3"
tool "${extra[@]}" --metrics "$T/y.json" --fold-weights "$T/y" --checkpoint "$T/y.ck" 2>"$T/y2.err" \
    || die "the resumed domain-head draw failed: $(tail -5 "$T/y2.err")"
grep -q "2 of 3 epochs done" "$T/y2.err" || fail "the domain-head draw did not resume at epoch 2"
cmp -s "$T/x/fold0.bin" "$T/y/fold0.bin" \
    || fail "with the domain head, MixStyle and the level penalty, the resumed draw differs"
ok "domain head, MixStyle, level penalty: stopped after epoch 2 and resumed, the same bytes"

# a real kill: wait for the first checkpoint, then SIGKILL the python itself
"${tool_cmd[@]}" "${lockstep[@]}" --train-seed 13 --metrics "$T/kill-off.json,$T/kill-frame.json" \
    --fold-weights "$T/kill-off,$T/kill-frame" --checkpoint "$T/kill.ck" 2>"$T/kill1.err" &
pid=$!
trap 'kill -KILL "$pid" 2>/dev/null || true; cs_cleanup' EXIT
first_or_gone() { test -s "$T/kill.ck/cv0.ckpt" || ! kill -0 "$pid" 2>/dev/null; }
wait_until 300 "the first checkpoint" first_or_gone
kill -KILL "$pid" 2>/dev/null || true
rc=0
wait "$pid" 2>/dev/null || rc=$?
[ "$rc" = 137 ] || die "the training ended before the kill (exit $rc): nothing to resume"
lock kill --checkpoint "$T/kill.ck" 2>"$T/kill2.err" || die "the draw after the kill failed: $(tail -5 "$T/kill2.err")"
grep -q "resuming from $T/kill.ck/cv0.ckpt" "$T/kill2.err" \
    || fail "the draw after the kill did not resume: $(head -3 "$T/kill2.err")"
same_draws plain kill || fail "the draws killed and resumed differ from the ones never stopped"
ok "killed with SIGKILL after its first checkpoint: the rerun goes on from it, the same bytes"

# a checkpoint of another training (another --train-seed) is set aside
rc=0
lock seed14 --train-seed 14 --checkpoint "$T/other.ck" --stop-at-epoch 1 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "seed 14 stopped after epoch 1: exit $rc, not 3"
lock other --checkpoint "$T/other.ck" 2>"$T/other.err" || die "the draw beside a foreign checkpoint failed"
grep -q "checkpoint $T/other.ck/cv0.ckpt is of another training (it differs in: .*seed.*set aside" \
    "$T/other.err" || fail "a foreign checkpoint was not named: $(head -3 "$T/other.err")"
[ -s "$T/other.ck/cv0.ckpt.set-aside" ] || fail "the foreign checkpoint was not kept aside"
same_draws plain other || fail "beside a foreign checkpoint, the draws differ from fresh ones"
mkdir "$T/bad.ck"
printf 'not a checkpoint\n' > "$T/bad.ck/cv0.ckpt"
lock bad --checkpoint "$T/bad.ck" 2>"$T/bad.err" || die "the draw beside a damaged checkpoint failed"
grep -q "checkpoint $T/bad.ck/cv0.ckpt is not readable" "$T/bad.err" || fail "a damaged checkpoint was not named"
same_draws plain bad || fail "beside a damaged checkpoint, the draws differ from fresh ones"
ok "a checkpoint of another training or a damaged one is named and set aside; training starts at epoch 1"

all=("${recipe[@]}" --part all --folds 0 --cv-epochs 2 --train-seed 13 --reference "$T/ref.bin")
tool "${all[@]}" --metrics "$T/all1.json" --fold-weights "$T/all1" 2>"$T/all1.err" \
    || die "--part all failed: $(tail -5 "$T/all1.err")"
cp "$T/unused.bin" "$T/all1.bin"
cp "$T/ref.bin" "$T/all1-ref.bin"
rc=0
tool "${all[@]}" --metrics "$T/all2.json" --fold-weights "$T/all2" --checkpoint "$T/all.ck" \
    --stop-at-epoch 1 2>"$T/all2a.err" || rc=$?
[ "$rc" = 3 ] || fail "--part all stopped in fold 0: exit $rc, not 3"
[ -s "$T/all.ck/final.ckpt" ] && [ -s "$T/all.ck/cv0.ckpt" ] \
    || fail "not both trainings' checkpoints kept: $(ls "$T/all.ck")"
tool "${all[@]}" --metrics "$T/all2.json" --fold-weights "$T/all2" --checkpoint "$T/all.ck" \
    2>"$T/all2b.err" || die "--part all resumed failed: $(tail -5 "$T/all2b.err")"
grep -q "resuming from $T/all.ck/final.ckpt: 1 of 1 epochs done" "$T/all2b.err" \
    || fail "the finished final model was not taken from its checkpoint: $(head -3 "$T/all2b.err")"
grep -q "resuming from $T/all.ck/cv0.ckpt: 1 of 2 epochs done" "$T/all2b.err" \
    || fail "fold 0 did not go on from its checkpoint"
! grep -q "final epoch 1/1\|cv0 epoch 1/2" "$T/all2b.err" || fail "the rerun trained a finished epoch again"
cmp -s "$T/unused.bin" "$T/all1.bin" && cmp -s "$T/ref.bin" "$T/all1-ref.bin" \
    && cmp -s "$T/all1/fold0.bin" "$T/all2/fold0.bin" \
    || fail "--part all stopped and resumed: weights differ from the run never stopped"
[ ! -e "$T/all.ck" ] || fail "checkpoints left after the command wrote everything: $(ls "$T/all.ck")"
ok "--part all stopped in fold 0: the final model not trained again, fold 0 goes on, the same bytes"

expect_refused() { # what the error must say, then the options
    local want=$1
    shift
    if tool "$@" >/dev/null 2>"$T/refused.err"; then
        fail "accepted: $*"
    elif ! grep -q -- "$want" "$T/refused.err"; then
        fail "no clear error for '$*': $(tail -2 "$T/refused.err")"
    fi
}
expect_refused "goes with --checkpoint" --part cv --metrics "$T/r.json" --stop-at-epoch 1
expect_refused "takes N >= 1" --part cv --metrics "$T/r.json" --checkpoint "$T/r.ck" --stop-at-epoch 0
expect_refused "goes with training" --evaluate "$T/unused.bin" --metrics "$T/r.json" --checkpoint "$T/r.ck"
[ ! -e "$T/r.json" ] && [ ! -e "$T/r.ck" ] || fail "a refused run wrote a file"
ok "refused: --stop-at-epoch without --checkpoint or below 1, --checkpoint with --evaluate"
cs_finish
