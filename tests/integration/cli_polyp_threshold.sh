#!/usr/bin/env bash
# cli_polyp_threshold.sh - a site's own polyp operating point (issue 13,
# docs/engine.md "A site's own threshold"):
# - `eval --target-specificity S` finds the lowest threshold whose
#   specificity on the labelled frames is >= S, and the sensitivity there;
#   `eval --threshold` at that value gives the same figures;
# - `analyze --polyp-threshold T` flags (and ranks) every frame whose
#   probability is >= T, the probabilities unchanged; the summary records T
#   and the weights' own threshold; the reduced view still shows every
#   polyp frame;
# - bad values are refused with a reason (exit 2), a target without
#   polyp-free frames exit 1.
# Frames: samples/demo (240 capsule frames, 5 with a pasted polyp;
# WCEBleedGen and Kvasir-SEG, CC BY 4.0, samples/README.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
DEMO=$CS_SOURCE_DIR/samples/demo
[ -f "$DEMO/labels.csv" ] || die "samples/demo/labels.csv missing"

# --- the weights' own threshold: the reference run ---------------------------
run_cs "$T/own.json" "$T/own.err" analyze "$DEMO/frames"
[ "$RC" -eq 0 ] || die "analyze exited $RC: $(tail -3 "$T/own.err")"
py_check "$T/own.json" "$CS_SOURCE_DIR/models/polyp-unet.bin" <<'EOF' || fail "default summary header"
import struct
pm = d["polyp_model"]
if pm["threshold"] != pm["weights_threshold"]:
    fail("without --polyp-threshold the threshold in use must be the weights' own: %r" % pm)
# which weights: the file's own CRC (its last 4 bytes) and network count
w = open(sys.argv[2], "rb").read()
want_crc = "%08x" % struct.unpack("<I", w[-4:])[0]
version, count = struct.unpack("<II", w[8:16])
if pm["crc32c"] != want_crc or pm["networks"] != (count if version in (3, 4) else 1):
    fail("header names crc32c %r, %r networks; the file has %s, version %d" %
         (pm["crc32c"], pm["networks"], want_crc, version))
# a version-4 file's crop gate (f32 at byte 20), and no such key before it
gate = struct.unpack("<f", w[20:24])[0] if version == 4 else None
if pm.get("crop_gate") != (None if gate is None else float("%.9g" % gate)):
    fail("header names crop_gate %r; the file's is %r" % (pm.get("crop_gate"), gate))
EOF

# --- eval --target-specificity ------------------------------------------------
run_cs "$T/ev.out" "$T/ev.err" eval --finding polyp --target-specificity 0.9 "$DEMO/frames" \
    "$DEMO/labels.csv"
[ "$RC" -eq 0 ] || fail "eval --target-specificity exited $RC: $(cat "$T/ev.err")"
# T_SITE: the threshold eval chose; checked against the analyze run's own
# probabilities: the lowest threshold that keeps 90 % of the polyp-free
# frames below it.
T_SITE=$(python3 - "$T/ev.out" "$T/own.json" "$DEMO/labels.csv" <<'EOF'
import csv, json, sys
lines = open(sys.argv[1]).read().splitlines()
m = json.loads(lines[-1])
frames = {f["name"]: f["polyp_probability"] for f in json.load(open(sys.argv[2]))["frames"]}
truth = {r["file"]: int(r["polyp"]) for r in csv.DictReader(open(sys.argv[3]))}
t = m["threshold_for_target"]
assert m["target_specificity"] == 0.9, m
assert isinstance(t, float) and 0 < t < 1, m
neg = [frames[f] for f, v in truth.items() if v == 0]
pos = [frames[f] for f, v in truth.items() if v == 1]
# the summary writes 6 significant digits: a score within that of a
# threshold counts as at it
at_or_over = lambda p, thr: p >= thr * (1 - 1e-5)
spec = lambda thr: sum(not at_or_over(p, thr) for p in neg) / len(neg)
sens = lambda thr: sum(at_or_over(p, thr) for p in pos) / len(pos)
assert spec(t) >= 0.9, ("specificity at the chosen threshold", t, spec(t))
lower = [p for p in neg + pos if not at_or_over(p, t)]
# the next lower score would flag more polyp-free frames than the target allows
assert not lower or spec(max(lower)) < 0.9, ("not the lowest threshold", t, max(lower))
assert abs(m["specificity_at_target"] - spec(t)) < 1e-4, (m, spec(t))
assert abs(m["sensitivity_at_target"] - sens(t)) < 1e-4, (m, sens(t))
assert any("--polyp-threshold" in l for l in lines[:-1]), "no hint how to use it"
print(repr(t))
EOF
) || die "eval --target-specificity chose the wrong threshold: $(tail -1 "$T/ev.out")"
ok "eval --target-specificity 0.9: lowest threshold with specificity >= 0.9 ($T_SITE), sensitivity there"

run_cs "$T/ev2.out" "$T/ev2.err" eval --finding polyp --threshold "$T_SITE" "$DEMO/frames" \
    "$DEMO/labels.csv"
[ "$RC" -eq 0 ] || fail "eval --threshold $T_SITE exited $RC: $(cat "$T/ev2.err")"
python3 - "$T/ev.out" "$T/ev2.out" <<'EOF' || fail "eval at the chosen threshold disagrees"
import json, sys
a = json.loads(open(sys.argv[1]).read().splitlines()[-1])
b = json.loads(open(sys.argv[2]).read().splitlines()[-1])
assert abs(b["specificity"] - a["specificity_at_target"]) < 1e-4, (a, b)
assert abs(b["sensitivity"] - a["sensitivity_at_target"]) < 1e-4, (a, b)
assert abs(b["auroc"] - a["auroc"]) < 1e-9, (a, b)
EOF
ok "eval --threshold at that value: the same sensitivity and specificity"

# --- analyze --polyp-threshold -------------------------------------------------
run_cs "$T/site.json" "$T/site.err" analyze --polyp-threshold "$T_SITE" "$DEMO/frames"
[ "$RC" -eq 0 ] || die "analyze --polyp-threshold exited $RC: $(tail -3 "$T/site.err")"
py_check "$T/site.json" "$T/own.json" "$T_SITE" <<'EOF' || fail "analyze --polyp-threshold"
own = json.load(open(sys.argv[2]))
t = float(sys.argv[3])
import struct
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
pm, opm = d["polyp_model"], own["polyp_model"]
# 9 digits in the header: the float in force reads back as itself
if f32(pm["threshold"]) != f32(t) or pm["weights_threshold"] != opm["weights_threshold"]:
    fail("header %r, wanted threshold %r and the weights' %r" % (pm, t, opm["weights_threshold"]))
fr, ofr = d["frames"], own["frames"]
if [f["polyp_probability"] for f in fr] != [f["polyp_probability"] for f in ofr]:
    fail("the probabilities moved with the threshold")
# 6 significant digits in the summary: leave out scores within that of t
wrong = [f["seq"] for f in fr if abs(f["polyp_probability"] - t) > 1e-5 * t
         and f["polyp"] != (f["polyp_probability"] >= t)]
if wrong:
    fail("frames not flagged at the site threshold: %r" % wrong[:10])
flagged = {f["seq"] for f in fr if f["polyp"]}
if len(flagged) <= sum(f["polyp"] for f in ofr):
    fail("the lower site threshold flagged no more frames (%d)" % len(flagged))
if d["counts"]["polyp_flagged"] != len(flagged):
    fail("counts.polyp_flagged %r != %d" % (d["counts"]["polyp_flagged"], len(flagged)))
if any(not fr[s]["polyp_boxes"] for s in flagged):
    fail("a flagged frame without polyp boxes")
ranked = [r["seq"] for r in d["ranked_for_review"] if r["polyp"]]
if set(ranked) != flagged:
    fail("ranked_for_review's polyp frames %r != flagged %r" % (sorted(ranked), sorted(flagged)))
by_run = {}
for f in fr:
    by_run.setdefault(f["redundancy"]["run"], []).append(f)
for r in d["reduced_view"]:
    members = by_run[r["run"]]
    if any(m["polyp"] for m in members) and not fr[r["representative"]]["polyp"]:
        fail("run %r hides a polyp frame: its representative is not flagged" % r["run"])
EOF
ok "analyze --polyp-threshold: flags, counts, ranking and reduced view at the site threshold"

# --- the printed threshold reproduces the same flags, at any target --------
# eval's threshold is a frame's own score: read back (eval --threshold,
# analyze --polyp-threshold) it must flag that frame too, as the engine
# compares floats.
for S in 0.5 0.6 0.8 0.95 0.99; do
    run_cs "$T/t.out" "$T/t.err" eval --finding polyp --target-specificity "$S" "$DEMO/frames" \
        "$DEMO/labels.csv"
    [ "$RC" -eq 0 ] || { fail "eval --target-specificity $S exited $RC"; continue; }
    TS=$(tail -1 "$T/t.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["threshold_for_target"])')
    run_cs "$T/t2.out" "$T/t2.err" eval --finding polyp --threshold "$TS" "$DEMO/frames" \
        "$DEMO/labels.csv"
    run_cs "$T/t.json" "$T/t3.err" analyze --polyp-threshold "$TS" "$DEMO/frames"
    python3 - "$T/t.out" "$T/t2.out" "$T/t.json" "$S" <<'EOF' || fail "target $S: threshold $TS read back flags other frames"
import json, sys
a = json.loads(open(sys.argv[1]).read().splitlines()[-1])
b = json.loads(open(sys.argv[2]).read().splitlines()[-1])
d = json.load(open(sys.argv[3]))
s = float(sys.argv[4])
assert a["specificity_at_target"] >= s, a
assert abs(b["specificity"] - a["specificity_at_target"]) < 1e-4, (a, b)
assert abs(b["sensitivity"] - a["sensitivity_at_target"]) < 1e-4, (a, b)
assert d["counts"]["polyp_flagged"] == b["tp"] + b["fp"], (d["counts"], b)
EOF
done
ok "targets 0.5-0.99: the printed threshold, read back by eval and analyze, flags the same frames"

# --- bad input --------------------------------------------------------------
for bad in 0 1 1.5 -0.1 0.5x abc "" nan inf +0.5 " 0.5" 0x.8 0.99999999 1e-50; do
    run_cs "$T/o" "$T/e" analyze --polyp-threshold "$bad" "$DEMO/frames"
    [ "$RC" -eq 2 ] && grep -q -- "--polyp-threshold" "$T/e" ||
        fail "analyze --polyp-threshold '$bad': exit $RC, $(cat "$T/e")"
    expect_one_line "$T/e" "analyze --polyp-threshold '$bad'" || true
done
run_cs "$T/o" "$T/e" eval --finding polyp --threshold 0 "$DEMO/frames" "$DEMO/labels.csv"
[ "$RC" -eq 2 ] && grep -q "(0, 1)" "$T/e" || fail "eval --finding polyp --threshold 0: exit $RC"
for bad in nan "" -0.5 1.5 0x.8; do
    run_cs "$T/o" "$T/e" eval --finding bleeding --threshold "$bad" "$DEMO/frames" "$DEMO/labels.csv"
    [ "$RC" -eq 2 ] && grep -q -- "--threshold must be" "$T/e" ||
        fail "eval --threshold '$bad': exit $RC, $(cat "$T/e")"
done
for bad in 1.5 -1 x; do
    run_cs "$T/o" "$T/e" eval --finding polyp --target-specificity "$bad" "$DEMO/frames" \
        "$DEMO/labels.csv"
    [ "$RC" -eq 2 ] && grep -q -- "--target-specificity" "$T/e" ||
        fail "--target-specificity '$bad': exit $RC, $(cat "$T/e")"
done
grep ',1$' "$DEMO/labels.csv" | { echo "file,bleeding,source,polyp"; cat; } >"$T/pos.csv"
run_cs "$T/o" "$T/e" eval --finding polyp --target-specificity 0.9 "$DEMO/frames" "$T/pos.csv"
[ "$RC" -eq 1 ] && grep -q "without the finding" "$T/e" ||
    fail "a target with no polyp-free frames: exit $RC, $(cat "$T/e")"
ok "bad thresholds and targets refused with the reason"
cs_finish
