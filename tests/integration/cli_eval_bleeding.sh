#!/usr/bin/env bash
# cli_eval_bleeding.sh - `capscreen eval-bleeding DIR LABELS.csv`: a confusion
# table, then the metrics as one JSON object on the last line; unreadable
# frames are reported and left out; a CSV without a bleeding column fails;
# with --masks, the dice and the hit rate of the highest-scoring box.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
PY=/usr/bin/python3
"$PY" -c 'import PIL' 2>/dev/null || skip "Debian's python3-pil is not installed"

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

# The alias names its finding: asked for another, it refuses rather than
# quietly running that detector.
run_cs "$T/out" "$T/err" eval-bleeding --finding polyp "$WCE_IMAGES" "$T/labels.csv"
[ "$RC" -eq 2 ] || fail "eval-bleeding --finding polyp exited $RC, expected 2"
grep -q "eval-bleeding evaluates bleeding only; use 'capscreen eval --finding polyp'" "$T/err" \
    || fail "no clear error for eval-bleeding --finding polyp: $(cat "$T/err")"
[ -s "$T/out" ] && fail "eval-bleeding --finding polyp wrote to stdout: $(cat "$T/out")"
run_cs "$T/out" "$T/err" eval-bleeding --finding bleeding "$WCE_IMAGES" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval-bleeding --finding bleeding exited $RC: $(cat "$T/err")"
ok "eval-bleeding refuses another finding; --finding bleeding is accepted"

# --masks for bleeding: masks drawn from the set's annotated boxes; the
# hit rate is the share of positive frames whose highest-scoring box (not
# the largest, which the summary lists first) has its centre in the mask,
# worked out here from `analyze`'s boxes of the same frames.
mkdir -p "$T/bmasks" "$T/bframes"
"$PY" - "$T/labels.csv" "$WCE_DIR/boxes.csv" "$WCE_IMAGES" "$T/bmasks" "$T/bframes" <<'PY'
import csv, os, sys
from PIL import Image, ImageDraw
labels, boxes, images, masks, frames = sys.argv[1:]
pos = [r["file"] for r in csv.DictReader(open(labels)) if r["bleeding"] == "1"]
by = {}
for r in csv.DictReader(open(boxes)):
    by.setdefault(r["file"], []).append([float(r[k]) for k in ("x_center", "y_center", "width", "height")])
for f in pos:
    w, h = Image.open(os.path.join(images, f)).size
    m = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(m)
    for cx, cy, bw, bh in by.get(f, []):
        d.rectangle([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w - 1, (cy + bh / 2) * h - 1],
                    fill=255)
    m.save(os.path.join(masks, os.path.splitext(f)[0] + ".png"))
    os.symlink(os.path.join(images, f), os.path.join(frames, f))
PY
run_cs "$T/mout" "$T/merr" eval --finding bleeding --masks "$T/bmasks" "$WCE_IMAGES" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval --finding bleeding --masks exited $RC: $(cat "$T/merr")"
run_cs "$T/bsum.json" "$T/berr" analyze "$T/bframes"
[ "$RC" -eq 0 ] || fail "analyze of the bleeding frames exited $RC: $(cat "$T/berr")"
"$PY" - "$T/mout" "$T/bsum.json" "$T/bmasks" <<'PY' || fail "eval's bleeding hit rate is not the highest-scoring box's"
import json, os, sys
from PIL import Image
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
frames = json.load(open(sys.argv[2]))["frames"]
assert m["n_masks"] == 40 and m["masks_missing"] == 0, m
assert 0 <= m["dice"] <= 1, m
assert len(frames) == 40, len(frames)


def hit(box, mask):  # as eval: the centre at the mask's size, clamped
    w, h = mask.size
    cx = min(int((box["x"] + box["w"] / 2) * w), w - 1)
    cy = min(int((box["y"] + box["h"] / 2) * h), h - 1)
    return mask.getpixel((cx, cy)) >= 128


top = largest = 0
for f in frames:
    if not f["boxes"]:
        continue
    mask = Image.open(os.path.join(sys.argv[3], os.path.splitext(f["name"])[0] + ".png")).convert("L")
    best = f["boxes"][0]
    for b in f["boxes"][1:]:  # ties: the larger, listed first
        best = b if b["score"] > best["score"] else best
    top += hit(best, mask)
    largest += hit(f["boxes"][0], mask)
print(f"  bleeding hit rate {m['hit_rate']}: highest-scoring box {top}/40, largest box {largest}/40")
assert abs(m["hit_rate"] - top / 40) < 1e-9, (m["hit_rate"], top, largest)
PY
ok "--masks for bleeding: dice and the hit rate of the highest-scoring box"

# The same where it decides: the set's bleeding frames whose highest-scoring
# box is not their largest, each with a mask of that box alone (the largest
# box's centre outside it). Every one is a hit; the largest box would miss.
mkdir -p "$T/all" "$T/tmasks"
awk -F, 'NR > 1 && $2 == 1 { print $1 }' "$WCE_LABELS" | while read -r f; do ln -s "$WCE_IMAGES/$f" "$T/all/$f"; done
run_cs "$T/all.json" "$T/allerr" analyze "$T/all"
[ "$RC" -eq 0 ] || fail "analyze of the bleeding frames exited $RC: $(cat "$T/allerr")"
"$PY" - "$T/all.json" "$T/tmasks" "$T/top.csv" <<'PY' || fail "could not make the masks of the highest-scoring boxes"
import json, os, sys
from PIL import Image, ImageDraw
frames, masks, labels = json.load(open(sys.argv[1]))["frames"], sys.argv[2], sys.argv[3]
rows = []
for f in frames:
    b = f["boxes"]
    top = max(range(len(b)), key=lambda j: (b[j]["score"], -j)) if b else 0
    if top == 0:
        continue
    w, h = f["width"], f["height"]
    t, first = b[top], b[0]
    rect = [t["x"] * w, t["y"] * h, (t["x"] + t["w"]) * w - 1, (t["y"] + t["h"]) * h - 1]
    cx, cy = (first["x"] + first["w"] / 2) * w, (first["y"] + first["h"] / 2) * h
    if rect[0] - 2 <= cx <= rect[2] + 2 and rect[1] - 2 <= cy <= rect[3] + 2:
        continue  # the largest box's centre inside the mask would not tell the two apart
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).rectangle(rect, fill=255)
    m.save(os.path.join(masks, os.path.splitext(f["name"])[0] + ".png"))
    rows.append(f["name"])
assert len(rows) >= 3, f"only {len(rows)} frames whose highest-scoring box is not their largest"
with open(labels, "w") as out:
    out.write("file,bleeding\n" + "".join(f"{r},1\n" for r in rows))
print(f"  {len(rows)} frames whose highest-scoring box is not their largest")
PY
run_cs "$T/tout" "$T/terr" eval --finding bleeding --masks "$T/tmasks" "$WCE_IMAGES" "$T/top.csv"
[ "$RC" -eq 0 ] || fail "eval --finding bleeding --masks exited $RC: $(cat "$T/terr")"
"$PY" - "$T/tout" "$T/top.csv" <<'PY' || fail "eval did not score the highest-scoring bleeding box: $(tail -1 "$T/tout")"
import json, sys
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
n = len(open(sys.argv[2]).read().splitlines()) - 1
assert m["n_masks"] == n and m["masks_missing"] == 0, (m, n)
assert m["hit_rate"] == 1.0, m["hit_rate"]
PY
ok "--masks for bleeding: where the highest-scoring box is not the largest, it is the one scored"

cs_finish
