#!/usr/bin/env bash
# cli_summary_shape.sh - the shape and inner consistency of the study summary
# (src/study/summary.c): per-frame keys, redundant runs and their single
# representative, the review ranking, counts and cleansing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_ffmpeg
need_python

D=$T/frames
for i in $(seq 1 50); do printf 'wcb-%04d.jpg\n' "$i"; done | link_frames "$D"
# Ten near-duplicates: one frame from elsewhere in the set (labelled and
# flagged clean: flagged frames each keep a run of their own, checked
# below), re-encoded at JPEG qualities 2..11, named to sort together
# between wcb-0024 and wcb-0025.
for q in $(seq 2 11); do
    ffmpeg -nostdin -v error -i "$WCE_IMAGES/wcb-1600.jpg" -q:v "$q" \
        "$D/$(printf 'wcb-0025-dup%02d.jpg' "$q")" || skip "ffmpeg could not re-encode a JPEG"
done

run_cs "$T/s.json" "$T/e" analyze "$D"
[ "$RC" -eq 0 ] || fail "analyze exited $RC: $(cat "$T/e")"

py_check "$T/s.json" <<'EOF' || fail "summary shape checks failed"
top = ["capscreen_summary", "source", "model", "polyp_model", "frames", "reduced_view",
       "ranked_for_review", "counts", "cleansing", "errors"]
if list(d) != top:
    fail("top-level keys %r, expected %r" % (list(d), top))
frames, runs, ranked, c, cl = d["frames"], d["reduced_view"], d["ranked_for_review"], d["counts"], d["cleansing"]

keys = ["seq", "name", "width", "height", "exposure", "sharpness", "visibility", "bubbles",
        "debris", "dark_lumen", "readable", "bleeding_probability", "bleeding", "boxes",
        "polyp_probability", "polyp", "polyp_boxes", "redundancy"]
for f in frames:
    missing = [k for k in keys if k not in f]
    if missing:
        fail("frame %r lacks %s" % (f.get("name"), missing))
        continue
    r = f["redundancy"]
    if not isinstance(r, dict) or sorted(r) != ["distance_prev", "representative", "run"]:
        fail("frame %s: redundancy %r" % (f["name"], r))
    if not isinstance(f["boxes"], list):
        fail("frame %s: boxes is not a list" % f["name"])
    p = f["bleeding_probability"]
    if not isinstance(p, (int, float)) or not 0 <= p <= 1:
        fail("frame %s: bleeding_probability %r" % (f["name"], p))
    pp = f["polyp_probability"]
    if not isinstance(pp, (int, float)) or not 0 <= pp <= 1:
        fail("frame %s: polyp_probability %r" % (f["name"], pp))
    if (pp >= d["polyp_model"]["threshold"]) != f["polyp"]:
        fail("frame %s: polyp %r does not match probability %r and threshold %r"
             % (f["name"], f["polyp"], pp, d["polyp_model"]["threshold"]))
    # polyp boxes: on flagged frames only, in the frame's pixels
    if not isinstance(f["polyp_boxes"], list) or (f["polyp_boxes"] != []) != f["polyp"]:
        fail("frame %s: polyp_boxes %r for polyp=%r" % (f["name"], f["polyp_boxes"], f["polyp"]))
    for b in f["polyp_boxes"]:
        if not (0 <= b["x"] and 0 <= b["y"] and b["w"] > 0 and b["h"] > 0 and
                b["x"] + b["w"] <= f["width"] and b["y"] + b["h"] <= f["height"]):
            fail("frame %s: polyp box %r outside its %dx%d frame" % (f["name"], b, f["width"], f["height"]))
if len(frames) != 60 or [f.get("seq") for f in frames] != list(range(len(frames))):
    fail("expected 60 frames with seq 0..59, got %d" % len(frames))

# Runs: each reduced_view entry covers frames first..last, all with its run
# id, exactly one of them its representative.
by_seq = {f["seq"]: f for f in frames}
covered = []
for r in runs:
    members = [by_seq[s] for s in range(r["first"], r["last"] + 1) if s in by_seq]
    if r["length"] != r["last"] - r["first"] + 1 or len(members) != r["length"]:
        fail("run %r: length does not match first..last" % r)
    if any(m.get("redundancy", {}).get("run") != r["run"] for m in members):
        fail("run %d: not all of its frames carry run id %d" % (r["run"], r["run"]))
    reps = [m["seq"] for m in members if m.get("redundancy", {}).get("representative")]
    if reps != [r["representative"]]:
        fail("run %d: representatives %r, expected exactly [%r]" % (r["run"], reps, r["representative"]))
    if by_seq.get(r["representative"], {}).get("name") != r["name"]:
        fail("run %d: name %r is not its representative's" % (r["run"], r["name"]))
    covered += range(r["first"], r["last"] + 1)
if covered != list(range(len(frames))):
    fail("reduced_view runs do not tile the frames in order")
# The reduced view never hides a flagged frame: each is its run's
# representative.
hidden = [f["name"] for f in frames if (f.get("bleeding") or f.get("polyp"))
          and not f["redundancy"]["representative"]]
if hidden:
    fail("flagged frames hidden by the reduced view: %r" % hidden)
if not any(f.get("bleeding") or f.get("polyp") for f in frames):
    fail("no flagged frame among the 60: the check above checked nothing")

dups = [f for f in frames if "-dup" in f["name"]]
dup_runs = {f["redundancy"]["run"] for f in dups if "redundancy" in f}
if len(dups) != 10 or len(dup_runs) != 1:
    fail("the 10 near-duplicates fall into runs %r, expected one run" % sorted(dup_runs))
else:
    run = [r for r in runs if r["run"] in dup_runs]
    if not run or run[0]["length"] < 8:
        fail("near-duplicate run %r, expected length >= 8" % run)
    elif sum(1 for f in frames if f["redundancy"]["run"] in dup_runs and f["redundancy"]["representative"]) != 1:
        fail("near-duplicate run has not exactly one representative")

# Ranking: descending priority (frames flagged for bleeding or a polyp
# first, 1 + their flagged probability; then the highest probability),
# ranks 1..n, values match the frames.
def priority(f):
    flagged = [f[k + "_probability"] for k in ("bleeding", "polyp") if f[k]]
    return 1 + max(flagged) if flagged else max(f["bleeding_probability"], f["polyp_probability"])
probs = [x["priority"] for x in ranked]
if probs != sorted(probs, reverse=True):
    fail("ranked_for_review is not sorted by priority descending: %r" % probs)
for x in ranked:
    f = by_seq.get(x["seq"], {})
    if abs(priority(f) - x["priority"]) > 1e-5 or f.get("polyp") != x["polyp"] or \
            f.get("polyp_probability") != x["polyp_probability"]:
        fail("ranked entry %r: priority or polyp fields do not match frame %r" % (x, f.get("name")))
        break
if [x["rank"] for x in ranked] != list(range(1, len(ranked) + 1)):
    fail("ranks are not 1..n")
if len(ranked) != min(200, c["analysed"]):
    fail("ranked_for_review has %d entries, expected min(200, analysed)" % len(ranked))
for x in ranked:
    f = by_seq.get(x["seq"], {})
    if f.get("name") != x["name"] or f.get("bleeding_probability") != x["bleeding_probability"]:
        fail("ranked entry %r does not match frame %r" % (x, f.get("name")))
        break

# Counts add up.
if c["analysed"] + c["failed"] != c["frames"] or c["frames"] != len(frames):
    fail("counts do not add up: %r (frames listed: %d)" % (c, len(frames)))
if c["runs"] != len(runs):
    fail("counts.runs %d != len(reduced_view) %d" % (c["runs"], len(runs)))
if c["redundant"] != sum(r["length"] - 1 for r in runs):
    fail("counts.redundant %d != sum(length - 1)" % c["redundant"])
if c["bleeding_flagged"] != sum(1 for f in frames if f.get("bleeding")):
    fail("counts.bleeding_flagged does not match the frames")
if c["polyp_flagged"] != sum(1 for f in frames if f.get("polyp")):
    fail("counts.polyp_flagged does not match the frames")
# The reduced view never hides a finding: the representative of a run
# carries every finding flagged in it.
for r in runs:
    members = [by_seq[s] for s in range(r["first"], r["last"] + 1)]
    rep = by_seq[r["representative"]]
    for k in ("bleeding", "polyp"):
        if any(m.get(k) for m in members) and not rep.get(k):
            fail("run %d holds a %s frame but its representative is not one" % (r["run"], k))
if c["readable"] != sum(1 for f in frames if f.get("readable")):
    fail("counts.readable does not match the frames")
if c["failed"] != len(d["errors"]):
    fail("counts.failed %d != len(errors) %d" % (c["failed"], len(d["errors"])))

# Cleansing.
mv = cl.get("mean_visibility")
if not isinstance(mv, (int, float)) or not 0 <= mv <= 1:
    fail("cleansing.mean_visibility %r not in [0, 1]" % mv)
if cl.get("grade") not in ("excellent", "good", "fair", "poor"):
    fail("cleansing.grade %r" % cl.get("grade"))
EOF
ok "summary shape: keys, runs, one representative each, ranking, counts, cleansing"

# --top larger than any study ranks every analysed frame ("rank them all"):
# the ranking grows with the frames seen, it is not allocated for N up front
# (which failed with "cannot start summary: Cannot allocate memory").
run_cs "$T/all.json" "$T/e" analyze --top 2147483647 "$D"
[ "$RC" -eq 0 ] || fail "analyze --top 2147483647 exited $RC: $(cat "$T/e")"
py_check "$T/all.json" "$T/s.json" <<'EOF' || fail "--top 2147483647: ranking checks failed"
every = d["ranked_for_review"]
top200 = json.load(open(sys.argv[2]))["ranked_for_review"]
if len(every) != d["counts"]["analysed"]:
    fail("ranked %d frames, expected all %d analysed" % (len(every), d["counts"]["analysed"]))
if every[:len(top200)] != top200:
    fail("the first entries differ from the default --top ranking")
if [r["rank"] for r in every] != list(range(1, len(every) + 1)):
    fail("ranks are not 1..n")
EOF
ok "--top 2147483647 ranks every analysed frame"

cs_finish
