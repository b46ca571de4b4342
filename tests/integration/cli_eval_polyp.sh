#!/usr/bin/env bash
# cli_eval_polyp.sh - `capscreen eval --finding polyp DIR LABELS.csv
# [--masks DIR]`: a confusion table, then one JSON object on the last line
# (n, accuracy, sensitivity, specificity, auroc, f1, threshold; with masks
# dice and hit_rate); auroc null when all frames are of one class; a
# positive frame without a mask is reported, not fatal; bad usage exits 2.
# Frames: 20 Kvasir-SEG polyp frames (Jha et al. 2020, HyperKvasir, CC BY
# 4.0) and 20 WCEBleedGen capsule frames (CC BY 4.0) from ../shared.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python
KV="$CS_SHARED_DIR/data/kvasir-seg"
[ -f "$KV/labels.csv" ] || skip "Kvasir-SEG not found at $KV"

mkdir -p "$T/frames"
{
    echo "file,polyp,source"
    awk -F, 'NR > 1 && NR % 50 == 0 { print $1 }' "$KV/labels.csv" | head -20 | while read -r f; do
        ln -s "$KV/images/$f" "$T/frames/$f"
        echo "$f,1,kvasir"
    done
    awk -F, 'NR > 1 && NR % 97 == 0 { print $1 }' "$WCE_LABELS" | head -20 | while read -r f; do
        ln -s "$WCE_IMAGES/$f" "$T/frames/$f"
        echo "$f,0,capsule"
    done
} >"$T/labels.csv"
[ "$(nlines "$T/labels.csv")" -eq 41 ] || die "could not pick 40 frames"

check() { # check STDOUT N WANT_MASKS
    python3 - "$@" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
n_want, masks = int(sys.argv[2]), sys.argv[3] == "1"
bad = []
m = json.loads(lines[-1])
for k in ("n", "accuracy", "sensitivity", "specificity", "auroc", "f1", "threshold"):
    if k not in m:
        bad.append("key %s missing" % k)
if m.get("n") != n_want:
    bad.append("n = %r, expected %d" % (m.get("n"), n_want))
if masks:
    for k in ("dice", "hit_rate"):
        v = m.get(k)
        if not isinstance(v, (int, float)) or not 0 <= v <= 1:
            bad.append("%s = %r" % (k, v))
elif "dice" in m:
    bad.append("dice without --masks")
tp, fp, tn, fn = m["tp"], m["fp"], m["tn"], m["fn"]
if tp + fp + tn + fn != m["n"]:
    bad.append("counts do not add up to n")
for row, a, b in (("actual polyp", tp, fn), ("actual clean", fp, tn)):
    hit = [l for l in lines[:-1] if l.strip().startswith(row)]
    if not hit or hit[0].split()[-2:] != [str(a), str(b)]:
        bad.append("table row %r does not show %d %d: %r" % (row, a, b, hit))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

run_cs "$T/out" "$T/err" eval --finding polyp --masks "$KV/masks" "$T/frames" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval exited $RC: $(cat "$T/err")"
check "$T/out" 40 1 || fail "eval --masks output"
# the detector separates polyp frames from capsule frames, and finds the
# polyp in most of them (a sanity bound, far below the model card's figures)
tail -1 "$T/out" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["auroc"] >= 0.8 and m["hit_rate"] >= 0.6 and m["dice"] >= 0.3, m' \
    || fail "weak results: $(tail -1 "$T/out")"
ok "eval --finding polyp --masks: table, metrics, dice and hit rate"

# no masks: no outline scores
run_cs "$T/out2" "$T/err2" eval --finding polyp "$T/frames" "$T/labels.csv"
[ "$RC" -eq 0 ] && check "$T/out2" 40 0 || fail "eval without --masks"
ok "eval without masks"

# one class only: auroc is null, the rest still prints
grep -E ',1,' "$T/labels.csv" | head -5 | { echo "file,polyp"; cut -d, -f1,2; } >"$T/pos.csv"
run_cs "$T/out3" "$T/err3" eval --finding polyp "$T/frames" "$T/pos.csv"
[ "$RC" -eq 0 ] || fail "one-class eval exited $RC"
tail -1 "$T/out3" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["auroc"] is None and m["n"] == 5 and m["sensitivity"] is not None, m' \
    || fail "one-class output: $(tail -1 "$T/out3")"
ok "one class: auroc null"

# a positive frame without a mask: said on stderr, counted, not fatal
mkdir -p "$T/masks"
for f in $(grep -E ',1,' "$T/labels.csv" | head -4 | cut -d, -f1); do
    ln -s "$KV/masks/$f" "$T/masks/$f"
done
run_cs "$T/out4" "$T/err4" eval --finding polyp --masks "$T/masks" "$T/frames" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval with missing masks exited $RC"
grep -q "no outline score" "$T/err4" || fail "missing masks not reported on stderr"
tail -1 "$T/out4" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["n_masks"] == 4 and m["masks_missing"] == 16, m' || fail "mask counts: $(tail -1 "$T/out4")"
ok "missing masks reported"

# usage errors
run_cs "$T/o" "$T/e" eval --finding tumour "$T/frames" "$T/labels.csv"
[ "$RC" -eq 2 ] && grep -q "finding" "$T/e" || fail "unknown finding: exit $RC"
run_cs "$T/o" "$T/e" eval "$T/frames" "$T/labels.csv"
[ "$RC" -eq 2 ] || fail "no --finding: exit $RC"
echo "file,bleeding" >"$T/wrong.csv"
run_cs "$T/o" "$T/e" eval --finding polyp "$T/frames" "$T/wrong.csv"
[ "$RC" -eq 1 ] && grep -q "'polyp'" "$T/e" || fail "labels without a polyp column: exit $RC $(cat "$T/e")"
ok "usage errors"
cs_finish
