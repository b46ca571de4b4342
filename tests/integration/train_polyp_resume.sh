#!/usr/bin/env bash
# train_polyp_resume.sh - a polyp training stopped part way goes on from
# its checkpoint with the same bytes (tools/train_polyp.py --checkpoint,
# --stop-at-epoch), on smoke data (a few frames, three epochs):
#   - the two arms in lockstep, stopped after epoch 1 and run again: the
#     same weights and report as never stopped, the checkpoint removed;
#   - with the domain head, MixStyle and the level penalty, stopped after
#     epoch 2 (the optimiser's gradients are state: a resume that drops
#     them moves the domain head differently);
#   - killed with SIGKILL once its first checkpoint is written: the rerun
#     goes on from it, the same bytes again;
#   - a checkpoint of another training, or a damaged one, is named and
#     set aside: training starts at epoch 1, the same bytes as a fresh one;
#   - the final model (--part final) with a checkpoint: the same bytes as
#     without, the checkpoint removed;
#   - clear refusals: --stop-at-epoch without --checkpoint, --checkpoint
#     with --evaluate.
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
lock stop --checkpoint "$T/stop.ckpt" --stop-at-epoch 1 2>"$T/stop1.err" || rc=$?
[ "$rc" = 3 ] || fail "--stop-at-epoch 1: exit $rc, not 3: $(tail -3 "$T/stop1.err")"
grep -q "stopped after epoch 1 of 3" "$T/stop1.err" || fail "no word of the stop: $(tail -3 "$T/stop1.err")"
[ -s "$T/stop.ckpt" ] || fail "the stopped training left no checkpoint"
[ ! -e "$T/stop-off/fold0.bin" ] || fail "a stopped training wrote fold weights"
lock stop --checkpoint "$T/stop.ckpt" 2>"$T/stop2.err" || die "the resumed draw failed: $(tail -5 "$T/stop2.err")"
grep -q "resuming from $T/stop.ckpt: 1 of 3 epochs done" "$T/stop2.err" \
    || fail "the rerun did not go on from the checkpoint: $(head -3 "$T/stop2.err")"
! grep -q "epoch 1/3" "$T/stop2.err" || fail "the rerun trained epoch 1 again"
same_draws plain stop || fail "the draws stopped after epoch 1 and resumed differ from the ones never stopped"
resumed_at stop 1 || fail "the reports do not record the resume"
[ ! -e "$T/stop.ckpt" ] || fail "the checkpoint is left after the draws were written"
ok "lockstep arms stopped after epoch 1 and resumed: the same bytes and reports, the checkpoint removed"

extra=(--part cv --folds 0 --cv-epochs 3 --train-seed 13 --domain-weight 0.1 --mixstyle 0.5 --level-weight 0.2)
tool "${extra[@]}" --metrics "$T/x.json" --fold-weights "$T/x" 2>"$T/x.err" \
    || die "the domain-head draw failed: $(tail -5 "$T/x.err")"
rc=0
tool "${extra[@]}" --metrics "$T/y.json" --fold-weights "$T/y" --checkpoint "$T/y.ckpt" \
    --stop-at-epoch 2 2>"$T/y1.err" || rc=$?
[ "$rc" = 3 ] || fail "--stop-at-epoch 2: exit $rc, not 3"
tool "${extra[@]}" --metrics "$T/y.json" --fold-weights "$T/y" --checkpoint "$T/y.ckpt" 2>"$T/y2.err" \
    || die "the resumed domain-head draw failed: $(tail -5 "$T/y2.err")"
grep -q "2 of 3 epochs done" "$T/y2.err" || fail "the domain-head draw did not resume at epoch 2"
cmp -s "$T/x/fold0.bin" "$T/y/fold0.bin" \
    || fail "with the domain head, MixStyle and the level penalty, the resumed draw differs"
ok "domain head, MixStyle, level penalty: stopped after epoch 2 and resumed, the same bytes"

# a real kill: wait for the first checkpoint, then SIGKILL
"${tool_cmd[@]}" "${lockstep[@]}" --train-seed 13 --metrics "$T/kill-off.json,$T/kill-frame.json" \
    --fold-weights "$T/kill-off,$T/kill-frame" --checkpoint "$T/kill.ckpt" 2>"$T/kill1.err" &
pid=$! # the python itself, so the kill stops the training
wait_until 300 "the first checkpoint" test -s "$T/kill.ckpt"
kill -KILL "$pid" 2>/dev/null || true
rc=0
wait "$pid" 2>/dev/null || rc=$?
[ "$rc" = 137 ] || fail "the training ended before the kill (exit $rc): nothing was resumed"
lock kill --checkpoint "$T/kill.ckpt" 2>"$T/kill2.err" || die "the draw after the kill failed: $(tail -5 "$T/kill2.err")"
grep -q "resuming from $T/kill.ckpt" "$T/kill2.err" || fail "the draw after the kill did not resume: $(head -3 "$T/kill2.err")"
same_draws plain kill || fail "the draws killed and resumed differ from the ones never stopped"
ok "killed with SIGKILL after its first checkpoint: the rerun goes on from it, the same bytes"

# a checkpoint of another training (another --train-seed) is set aside
rc=0
lock seed14 --train-seed 14 --checkpoint "$T/other.ckpt" --stop-at-epoch 1 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "seed 14 stopped after epoch 1: exit $rc, not 3"
lock other --checkpoint "$T/other.ckpt" 2>"$T/other.err" || die "the draw beside a foreign checkpoint failed"
grep -q "checkpoint $T/other.ckpt is of another training (it differs in: .*seed" "$T/other.err" \
    || fail "a foreign checkpoint was not named: $(head -3 "$T/other.err")"
same_draws plain other || fail "beside a foreign checkpoint, the draws differ from fresh ones"
printf 'not a checkpoint\n' > "$T/bad.ckpt"
lock bad --checkpoint "$T/bad.ckpt" 2>"$T/bad.err" || die "the draw beside a damaged checkpoint failed"
grep -q "checkpoint $T/bad.ckpt is not readable" "$T/bad.err" || fail "a damaged checkpoint was not named"
same_draws plain bad || fail "beside a damaged checkpoint, the draws differ from fresh ones"
ok "a checkpoint of another training or a damaged one is named and set aside; training starts at epoch 1"

tool --part final --metrics "$T/f1.json" 2>"$T/f1.err" || die "the smoke final model failed"
cp "$T/unused.bin" "$T/final-plain.bin"
tool --part final --metrics "$T/f2.json" --checkpoint "$T/final.ckpt" 2>"$T/f2.err" \
    || die "the smoke final model with a checkpoint failed: $(tail -5 "$T/f2.err")"
cmp -s "$T/unused.bin" "$T/final-plain.bin" || fail "a checkpoint changed the final model's bytes"
[ ! -e "$T/final.ckpt" ] || fail "the final model's checkpoint is left after its weights were written"
ok "--part final with a checkpoint: the same bytes, the checkpoint removed"

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
expect_refused "takes N >= 1" --part cv --metrics "$T/r.json" --checkpoint "$T/r.ckpt" --stop-at-epoch 0
expect_refused "goes with training" --evaluate "$T/unused.bin" --metrics "$T/r.json" --checkpoint "$T/r.ckpt"
[ ! -e "$T/r.json" ] && [ ! -e "$T/r.ckpt" ] || fail "a refused run wrote a file"
ok "refused: --stop-at-epoch without --checkpoint or below 1, --checkpoint with --evaluate"
cs_finish
