#!/usr/bin/env bash
# cli_eval_polyp.sh - `capscreen eval --finding polyp DIR LABELS.csv
# [--masks DIR]`: a confusion table, then one JSON object on the last line
# (n, accuracy, sensitivity, specificity, auroc, f1, threshold; with masks
# dice and hit_rate); auroc null when all frames are of one class; a
# positive frame without a mask is reported, not fatal; bad usage exits 2;
# masks found by base name (extension in any case), ambiguous or misshapen
# ones named; wrong directories one clear error; ratios without a
# denominator null; a spreadsheet's CSV reads as a plain one.
# Frames: 20 Kvasir-SEG polyp frames (Jha et al. 2020, HyperKvasir, CC BY
# 4.0) and 20 WCEBleedGen capsule frames (CC BY 4.0) from ../shared.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python
need_ffmpeg
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

# Outline scores count every positive frame with a mask, flagged or not
# (the detector's localisation); flagged_hit_rate only those a reader is
# shown a box on at the threshold. Nothing flagged: flagged_hit_rate 0,
# hit_rate as before, and no sensitivity-like ratio hides behind a 0.
run_cs "$T/out5" "$T/err5" eval --finding polyp --threshold 0.9999 --masks "$KV/masks" \
    "$T/frames" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval --threshold 0.9999 exited $RC: $(cat "$T/err5")"
python3 - "$T/out" "$T/out5" <<'PY' || fail "flagged_hit_rate: $(tail -1 "$T/out") / $(tail -1 "$T/out5")"
import json, sys
a, b = (json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:])
assert 0 < a["flagged_hit_rate"] <= a["hit_rate"], a
assert b["tp"] == 0 and b["fp"] == 0, b
assert b["flagged_hit_rate"] == 0 and b["hit_rate"] > 0, b
assert b["precision"] is None and b["sensitivity"] == 0, b
PY
ok "outline scores: hit_rate over every masked positive frame, flagged_hit_rate over flagged ones"

# all frames clean: sensitivity, precision and f1 cannot be computed (null,
# not 0); specificity can
grep -E ',0,' "$T/labels.csv" | head -6 | { echo "file,polyp"; cut -d, -f1,2; } >"$T/neg.csv"
run_cs "$T/out6" "$T/err6" eval --finding polyp "$T/frames" "$T/neg.csv"
[ "$RC" -eq 0 ] || fail "all-clean eval exited $RC"
tail -1 "$T/out6" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["sensitivity"] is None and m["auroc"] is None and m["n"] == 6, m
assert isinstance(m["specificity"], float) and isinstance(m["accuracy"], float), m' \
    || fail "all-clean output: $(tail -1 "$T/out6")"
ok "one class (clean): sensitivity null, specificity computed"

# masks: extension in any case; two candidates, or a mask of another
# frame's shape, are named on stderr and left out (masks_missing), a
# scaled copy is used
pos=($(grep -E ',1,' "$T/labels.csv" | cut -d, -f1))
mkdir -p "$T/m2"
b0=${pos[0]%.*} b1=${pos[1]%.*} b2=${pos[2]%.*} b3=${pos[3]%.*}
cp "$KV/masks/${pos[0]}" "$T/m2/$b0.JPEG"
cp "$KV/masks/${pos[1]}" "$T/m2/$b1.jpg"
ffmpeg -nostdin -v error -i "$KV/masks/${pos[1]}" "$T/m2/$b1.png" || skip "ffmpeg could not write a PNG"
ffmpeg -nostdin -v error -i "$KV/masks/${pos[2]}" -vf "transpose=1" "$T/m2/$b2.png" \
    || skip "ffmpeg could not write a PNG"
ffmpeg -nostdin -v error -i "$KV/masks/${pos[3]}" -vf "scale=iw/2:ih/2" "$T/m2/$b3.Png" \
    || skip "ffmpeg could not write a PNG"
run_cs "$T/out7" "$T/err7" eval --finding polyp --masks "$T/m2" "$T/frames" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval with odd masks exited $RC: $(cat "$T/err7")"
grep -q "two masks for ${pos[1]}" "$T/err7" || fail "two candidate masks not named: $(cat "$T/err7")"
grep -q "mask $T/m2/$b2.png is" "$T/err7" || fail "rotated mask not refused: $(cat "$T/err7")"
tail -1 "$T/out7" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["n_masks"] == 2 and m["masks_missing"] == 18, m' || fail "odd masks: $(tail -1 "$T/out7")"
ok "masks: any-case extension and scaled copies used; ambiguous or misshapen masks named"

# a wrong frames or masks directory is one clear error before any frame
run_cs "$T/o" "$T/e" eval --finding polyp --masks "$T/no-such" "$T/frames" "$T/labels.csv"
[ "$RC" -eq 1 ] && grep -q "masks directory $T/no-such" "$T/e" && [ "$(nlines "$T/e")" -le 2 ] \
    || fail "missing masks directory: exit $RC $(cat "$T/e")"
run_cs "$T/o" "$T/e" eval --finding polyp --masks "$T/labels.csv" "$T/frames" "$T/labels.csv"
[ "$RC" -eq 1 ] && grep -q "masks directory" "$T/e" || fail "a file as masks directory: exit $RC"
run_cs "$T/o" "$T/e" eval --finding polyp "$T/no-frames" "$T/labels.csv"
[ "$RC" -eq 1 ] && grep -q "frames directory $T/no-frames" "$T/e" && [ "$(nlines "$T/e")" -le 2 ] \
    || fail "missing frames directory: exit $RC $(cat "$T/e")"
ok "wrong directories: one clear error each"

# a spreadsheet's CSV: byte-order mark, quoted header, CRLF, spaces
{ printf '\xef\xbb\xbf"file", "polyp"\r\n'; tail -n +2 "$T/labels.csv" | cut -d, -f1,2 | sed 's/$/\r/'; } >"$T/excel.csv"
run_cs "$T/out8" "$T/err8" eval --finding polyp "$T/frames" "$T/excel.csv"
[ "$RC" -eq 0 ] || fail "spreadsheet CSV exited $RC: $(cat "$T/err8")"
[ "$(tail -1 "$T/out8")" = "$(tail -1 "$T/out2")" ] || fail "spreadsheet CSV gives other metrics"
ok "a spreadsheet's CSV (BOM, quotes, CRLF) reads as the plain one"

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
