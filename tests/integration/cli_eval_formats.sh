#!/usr/bin/env bash
# cli_eval_formats.sh - `capscreen eval --finding polyp --masks` on the
# shapes other people's data sets come in, each against the same frames as
# plain PNG: TIFF frames and masks (CVC-ClinicDB, ETIS-LaribPolypDB; raw,
# LZW, grey, palette and 1-bit) read as the PNGs do; 0/1 masks as 0/255
# ones, grey + alpha ones as plain; a mask that marks nothing is reported,
# not scored; PolypGen's x_mask names, ETIS's p12 for 12; frames in
# subfolders paired with masks by folder; labels written as floats.
# Frames are synthetic (drawn here with Pillow: a pink gradient with vessels,
# and on every other frame a raised, outlined ellipse and its mask), so the
# test needs no shared data.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import PIL' 2>/dev/null || skip "Debian's python3-pil is not installed"

# $T/png: 16 frames f00..f15 (even ones with a polyp), $T/masks: their
# masks (0/255 PNG), $T/names: "name,label" lines.
"$PY" - "$T" <<'PY'
import os, random, sys
from PIL import Image, ImageDraw, ImageFilter
out = sys.argv[1]
rnd = random.Random(7)
os.makedirs(out + "/png"); os.makedirs(out + "/masks")
with open(out + "/names", "w") as names:
    for i in range(16):
        W, H = 384, 288  # CVC-ClinicDB's frame size
        im = Image.new("RGB", (W, H))
        d = ImageDraw.Draw(im)
        for y in range(H):
            d.line([(0, y), (W, y)], fill=(170 + y * 60 // H, 90 + y * 40 // H, 80))
        pos = i % 2 == 0
        m = Image.new("L", (W, H), 0)
        if pos:
            cx, cy, r = rnd.randint(120, 260), rnd.randint(100, 190), rnd.randint(40, 70)
            box = [cx - r, cy - r * 3 // 4, cx + r, cy + r * 3 // 4]
            d.ellipse(box, fill=(200, 120, 110), outline=(120, 50, 40), width=4)
            ImageDraw.Draw(m).ellipse(box, fill=255)
        for _ in range(300):
            x, y = rnd.randrange(W), rnd.randrange(H)
            d.line([(x, y), (x + rnd.randint(-20, 20), y + rnd.randint(-20, 20))],
                   fill=(140, 50, 60))
        im.filter(ImageFilter.GaussianBlur(1.5)).save("%s/png/f%02d.png" % (out, i))
        if pos:
            m.save("%s/masks/f%02d.png" % (out, i))
        names.write("f%02d,%d\n" % (i, pos))
PY
labels() { # labels EXT > CSV
    echo "file,polyp"
    sed "s/,/.$1,/" "$T/names"
}
labels png >"$T/png.csv"
eval_json() { # eval_json NAME FRAMES CSV MASKS: run, keep $T/NAME.{out,err}
    run_cs "$T/$1.out" "$T/$1.err" eval --finding polyp --masks "$4" "$2" "$3"
    [ "$RC" -eq 0 ] || fail "$1: eval exited $RC: $(cat "$T/$1.err")"
}
same_as_png() { # same_as_png NAME: its metrics are the PNG baseline's
    [ "$(tail -1 "$T/$1.out")" = "$(tail -1 "$T/png.out")" ] \
        || fail "$1 gives other metrics than the PNGs:
    png: $(tail -1 "$T/png.out")
    $1: $(tail -1 "$T/$1.out")"
}

eval_json png "$T/png" "$T/png.csv" "$T/masks"
"$PY" - "$T/png.out" <<'PY' || fail "baseline: $(tail -1 "$T/png.out")"
import json, sys
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
# every mask is used. (The shipped detector also finds and outlines the
# drawn polyps, dice about 0.9, but the checks below compare formats, not
# a model: they hold for any detector.)
assert m["n"] == 16 and m["n_masks"] == 8 and m["masks_missing"] == 0, m
assert isinstance(m["dice"], float) and isinstance(m["hit_rate"], float), m
PY
ok "baseline: synthetic PNG frames and masks"

# TIFF frames (even ones raw, odd ones LZW; one grey, one palette) and
# 1-bit TIFF masks, as CVC-ClinicDB and ETIS-LaribPolypDB ship them
"$PY" - "$T" <<'PY'
import glob, os, sys
from PIL import Image
T = sys.argv[1]
os.makedirs(T + "/tif"); os.makedirs(T + "/tifmasks")
for p in sorted(glob.glob(T + "/png/*.png")):
    name = os.path.basename(p)[:-4]
    im = Image.open(p)
    kw = {"compression": "tiff_lzw"} if int(name[1:]) % 2 else {}
    im.save("%s/tif/%s.tif" % (T, name), **kw)
for p in sorted(glob.glob(T + "/masks/*.png")):
    name = os.path.basename(p)[:-4]
    Image.open(p).convert("1").save("%s/tifmasks/%s.tif" % (T, name))
# grey and palette frames: the same pixels as PNGs too, for the baseline
for name, mode in (("f01", "L"), ("f03", "P")):
    im = Image.open("%s/png/%s.png" % (T, name)).convert(mode)
    im.save("%s/tif/%s.tif" % (T, name))
    im.convert("RGB").save("%s/png/%s.png" % (T, name))
PY
eval_json png "$T/png" "$T/png.csv" "$T/masks"
labels tif >"$T/tif.csv"
eval_json tif "$T/tif" "$T/tif.csv" "$T/tifmasks"
same_as_png tif
[ -s "$T/tif.err" ] && fail "TIFF frames: stderr not empty: $(cat "$T/tif.err")"
ok "TIFF frames (raw, LZW, grey, palette) and 1-bit TIFF masks read as the PNGs"

# a TIFF cut short is named as such, not read as half a frame
head -c 20000 "$T/tif/f00.tif" >"$T/tif/cut.tif"
{ echo "file,polyp"; echo "cut.tif,0"; echo "f01.tif,0"; } >"$T/cut.csv"
run_cs "$T/cut.out" "$T/cut.err" eval --finding polyp "$T/tif" "$T/cut.csv"
[ "$RC" -eq 0 ] || fail "cut TIFF: eval exited $RC: $(cat "$T/cut.err")"
grep -q "skipped cut.tif: .*TIFF" "$T/cut.err" || fail "cut TIFF not named: $(cat "$T/cut.err")"
tail -1 "$T/cut.out" | grep -q '"n": 1, "skipped": 1' || fail "cut TIFF: $(tail -1 "$T/cut.out")"
ok "a truncated TIFF is skipped with its reason"
# 0/1 masks (Kvasir-SEG's training copies, PolypGen exports): 1 is the
# finding, as 255 is; not a mask of nothing that scores a miss as dice 1
"$PY" - "$T" <<'PY'
import glob, os, sys
from PIL import Image
T = sys.argv[1]
os.makedirs(T + "/m01")
for p in sorted(glob.glob(T + "/masks/*.png")):
    Image.open(p).point(lambda v: 1 if v >= 128 else 0).save(T + "/m01/" + os.path.basename(p))
PY
eval_json m01 "$T/png" "$T/png.csv" "$T/m01"
same_as_png m01
ok "0/1 masks read as 0/255"

# masks kept in a PNG's alpha (white, transparent off the polyp) read as
# the plain ones: transparency is composited onto black, every time
"$PY" - "$T" <<'PY'
import glob, os, sys
from PIL import Image
T = sys.argv[1]
os.makedirs(T + "/malpha")
for p in sorted(glob.glob(T + "/masks/*.png")):
    m = Image.open(p)
    Image.merge("LA", (Image.new("L", m.size, 255), m)).save(T + "/malpha/" + os.path.basename(p))
PY
eval_json malpha "$T/png" "$T/png.csv" "$T/malpha"
same_as_png malpha
ok "grey + alpha masks read as the plain ones"

# a positive frame whose mask marks nothing (all black) is named and left
# out of dice and hit_rate, as a missing mask is
mkdir -p "$T/mblack"
cp "$T"/masks/*.png "$T/mblack/"
"$PY" -c 'import sys; from PIL import Image; Image.new("L", (384, 288), 0).save(sys.argv[1])' \
    "$T/mblack/f00.png"
eval_json mblack "$T/png" "$T/png.csv" "$T/mblack"
grep -q "no outline score for f00.png: mask .*f00.png marks no finding" "$T/mblack.err" \
    || fail "an empty mask is not named: $(cat "$T/mblack.err")"
tail -1 "$T/mblack.out" | grep -q '"n_masks": 7, "masks_missing": 1' \
    || fail "empty mask counted: $(tail -1 "$T/mblack.out")"
ok "a mask that marks nothing is named and counted in masks_missing"
# PolypGen names a mask x_mask.jpg: found as x.png's; x.png and
# x_mask.png both there is ambiguous, named and left out
mkdir -p "$T/msuffix"
for f in "$T"/masks/*.png; do
    b=$(basename "$f" .png)
    cp "$f" "$T/msuffix/${b}_mask.png"
done
eval_json msuffix "$T/png" "$T/png.csv" "$T/msuffix"
same_as_png msuffix
cp "$T/masks/f02.png" "$T/msuffix/f02.png"
eval_json msuffix2 "$T/png" "$T/png.csv" "$T/msuffix"
grep -q "two masks for f02.png in .*: f02.png and f02_mask.png" "$T/msuffix2.err" \
    || fail "x.png and x_mask.png not named: $(cat "$T/msuffix2.err")"
tail -1 "$T/msuffix2.out" | grep -q '"n_masks": 7, "masks_missing": 1' \
    || fail "ambiguous mask counted: $(tail -1 "$T/msuffix2.out")"
ok "x_mask.png is x.png's mask; both present is ambiguous"

# ETIS-LaribPolypDB as released: numbered TIFF frames 1.tif, masks
# p1.tif; a frame literally named p3 keeps its own mask p3, which is never
# frame 3's
mkdir -p "$T/etis" "$T/etism"
{
    echo "file,polyp"
    while IFS=, read -r name label; do
        n=$((10#${name#f} + 1))
        cp "$T/tif/$name.tif" "$T/etis/$n.tif"
        [ "$label" = 1 ] && cp "$T/tifmasks/$name.tif" "$T/etism/p$n.tif"
        echo "$n.tif,$label"
    done <"$T/names"
} >"$T/etis.csv"
eval_json etis "$T/etis" "$T/etis.csv" "$T/etism"
same_as_png etis
mkdir -p "$T/etis2" "$T/etis2m"
cp "$T/etis/3.tif" "$T/etis/1.tif" "$T/etis2/"
cp "$T/etis/3.tif" "$T/etis2/p3.tif"
cp "$T/etism/p3.tif" "$T/etism/p1.tif" "$T/etis2m/"
printf 'file,polyp\n3.tif,1\np3.tif,1\n1.tif,1\n' >"$T/etis2.csv"
eval_json etis2 "$T/etis2" "$T/etis2.csv" "$T/etis2m"
grep -q "no outline score for 3.tif: no mask" "$T/etis2.err" \
    || fail "frame 3 took frame p3's mask: $(cat "$T/etis2.err")"
tail -1 "$T/etis2.out" | grep -q '"n_masks": 2, "masks_missing": 1' \
    || fail "numbered masks: $(tail -1 "$T/etis2.out")"
ok "numbered frames find their pN masks; another frame's own mask is not taken"

# frames in subfolders (a name with a space, an upper-case extension) with
# one base name: masks laid out as the frames are pair by folder and score
# as the flat pair does; one flat mask for both is named, not used twice
mkdir -p "$T/nest/a" "$T/nest/b dir" "$T/mnest/a" "$T/mnest/b dir" "$T/mflat"
cp "$T/png/f00.png" "$T/nest/a/x.png"
cp "$T/png/f02.png" "$T/nest/b dir/x.PNG"
cp "$T/masks/f00.png" "$T/mnest/a/x.png"
cp "$T/masks/f02.png" "$T/mnest/b dir/x_mask.png"
cp "$T/masks/f00.png" "$T/mflat/x.png"
printf 'file,polyp\na/x.png,1\nb dir/x.PNG,1\n' >"$T/nest.csv"
printf 'file,polyp\nf00.png,1\nf02.png,1\n' >"$T/pair.csv"
eval_json pair "$T/png" "$T/pair.csv" "$T/masks"
eval_json nest "$T/nest" "$T/nest.csv" "$T/mnest"
[ "$(tail -1 "$T/nest.out")" = "$(tail -1 "$T/pair.out")" ] \
    || fail "masks by folder: $(tail -1 "$T/nest.out") vs flat $(tail -1 "$T/pair.out")"
eval_json nestflat "$T/nest" "$T/nest.csv" "$T/mflat"
grep -q "no outline score for b dir/x.PNG: mask .*mflat/x.png could be the mask of any" \
    "$T/nestflat.err" || fail "one mask for two frames not named: $(cat "$T/nestflat.err")"
tail -1 "$T/nestflat.out" | grep -q '"n_masks": 0, "masks_missing": 2' \
    || fail "one mask for two frames used: $(tail -1 "$T/nestflat.out")"
ok "frames in subfolders: masks by folder; one mask for two frames refused"

# a masks folder reached twice (a link back to itself) is indexed once: its
# masks are not each found twice
mkdir -p "$T/mloop"
cp -r "$T/masks" "$T/mloop/sub"
ln -s . "$T/mloop/again"
eval_json mloop "$T/png" "$T/png.csv" "$T/mloop"
same_as_png mloop
ok "a folder linked twice under the masks DIR counts once"

# a CSV as pandas writes a float column: an index first, the file last,
# labels 1.0 and 0.0
{ echo ",polyp,file"; awk -F, '{ printf "%d,%s.0,%s.png\n", NR - 1, $2, $1 }' "$T/names"; } \
    >"$T/pandas.csv"
eval_json pandas "$T/png" "$T/pandas.csv" "$T/masks"
same_as_png pandas
ok "labels written 1.0/0.0, file column last: read as 1/0"
cs_finish
