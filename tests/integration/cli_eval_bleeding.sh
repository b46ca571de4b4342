#!/usr/bin/env bash
# cli_eval_bleeding.sh - `capscreen eval-bleeding DIR LABELS.csv`: a confusion
# table, then the metrics as one JSON object on the last line; unreadable
# frames are reported and left out; a CSV without a bleeding column fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python

# 80 frames, 40 of each class, spread over the set; an extra column that the
# command must ignore.
{
    echo "file,bleeding,group,reader_note"
    awk -F, 'NR > 1 && $2 == 1 && NR % 7 == 0 && n++ < 40 { print $1 "," $2 "," $3 ",seen" }' "$WCE_LABELS"
    awk -F, 'NR > 1 && $2 == 0 && NR % 7 == 0 && n++ < 40 { print $1 "," $2 "," $3 ",seen" }' "$WCE_LABELS"
} >"$T/labels.csv"
[ "$(nlines "$T/labels.csv")" -eq 81 ] || die "could not pick 80 labelled frames"

check_metrics() { # check_metrics STDOUT N
    python3 - "$1" "$2" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
n_want = int(sys.argv[2])
bad = []
try:
    m = json.loads(lines[-1])
except Exception as e:
    print("  last line is not JSON (%s): %r" % (e, lines[-1] if lines else None), file=sys.stderr)
    sys.exit(1)
for k in ("n", "accuracy", "sensitivity", "specificity", "auroc", "f1"):
    if k not in m:
        bad.append("key %s missing" % k)
if m.get("n") != n_want:
    bad.append("n = %r, expected %d" % (m.get("n"), n_want))
for k in ("accuracy", "sensitivity", "specificity", "auroc", "f1"):
    v = m.get(k)
    if not isinstance(v, (int, float)) or not 0 <= v <= 1:
        bad.append("%s = %r, not a number in [0, 1]" % (k, v))
if all(k in m for k in ("tp", "fp", "tn", "fn")):
    tp, fp, tn, fn = m["tp"], m["fp"], m["tn"], m["fn"]
    if tp + fp + tn + fn != m.get("n"):
        bad.append("tp+fp+tn+fn = %d, not n" % (tp + fp + tn + fn))
    elif isinstance(m.get("accuracy"), (int, float)) and abs(m["accuracy"] - (tp + tn) / m["n"]) > 1e-3:
        bad.append("accuracy %r is not (tp+tn)/n" % m["accuracy"])
    # The table before the JSON shows the same counts.
    for row, a, b in (("actual bleeding", tp, fn), ("actual clean", fp, tn)):
        hit = [l for l in lines[:-1] if l.strip().startswith(row)]
        if not hit or hit[0].split()[-2:] != [str(a), str(b)]:
            bad.append("table row %r does not show %d %d: %r" % (row, a, b, hit))
if len(lines) < 2:
    bad.append("no confusion table before the JSON line")
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

run_cs "$T/out" "$T/err" eval-bleeding "$WCE_IMAGES" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval-bleeding exited $RC: $(cat "$T/err")"
if ! check_metrics "$T/out" 80; then
    fail "eval-bleeding output on 80 frames (stdout below)"
    sed 's/^/    | /' "$T/out" >&2
fi
ok "80 frames: table, then metrics JSON with n = 80"

# A CSV naming a missing file: reported on stderr, left out.
{
    head -n 1 "$T/labels.csv"
    echo "wcb-missing-9999.jpg,1,0,seen"
    sed -n '2,80p' "$T/labels.csv"
} >"$T/labels_missing.csv"
run_cs "$T/out" "$T/err" eval-bleeding "$WCE_IMAGES" "$T/labels_missing.csv"
[ "$RC" -eq 0 ] || fail "eval-bleeding with a missing frame exited $RC: $(cat "$T/err")"
grep -q "wcb-missing-9999.jpg" "$T/err" || fail "the missing frame is not reported on stderr: $(cat "$T/err")"
check_metrics "$T/out" 79 || fail "eval-bleeding with a missing frame: wrong output"
ok "missing frame reported and left out (n = 79)"

# No bleeding column: non-zero, one line.
printf 'file,label,group\nwcb-0001.jpg,0,1\n' >"$T/nobleed.csv"
run_cs "$T/out" "$T/err" eval-bleeding "$WCE_IMAGES" "$T/nobleed.csv"
[ "$RC" -ne 0 ] || fail "eval-bleeding without a bleeding column exited 0"
expect_one_line "$T/err" "CSV without a bleeding column" || true
grep -q "bleeding" "$T/err" || fail "the reason does not name the missing column: $(cat "$T/err")"
[ -s "$T/out" ] && fail "eval-bleeding without a bleeding column wrote to stdout: $(cat "$T/out")"
ok "CSV without a bleeding column -> exit $RC, one line"

cs_finish
