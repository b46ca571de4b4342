#!/usr/bin/python3
"""make_demo_polyps.py - add a few polyp frames to the demo study.

The demo study (samples/demo/frames, WCEBleedGen capsule frames) shows no
polyp. This pastes Kvasir-SEG polyps (with their masks, feathered edges and
the colour shift of tools/train_polyp.py's paste) into clean demo frames and
writes each run of results as demo-NNNNpK.jpg, so that the frame-stream
packer's natural order puts it right after demo-NNNN.jpg. Two
short runs, as a capsule drifting past a polyp would give: one polyp seen in
three frames (moving and growing a little) and another in two. Appends the
new frames to labels.csv with a polyp column (0 for every other frame).

Deterministic: fixed Kvasir frames, fixed positions and sizes, a fixed
seed; PIL and numpy only. Run with Debian's /usr/bin/python3:

    /usr/bin/python3 tools/make_demo_polyps.py --kvasir ../shared/data/kvasir-seg \
        --demo samples/demo

Attribution: Kvasir-SEG and HyperKvasir, CC BY 4.0 (samples/README.md).
"""
import argparse
import csv
import os
import sys

import numpy as np
from PIL import Image, ImageFilter

# (base demo frame, output name, Kvasir-SEG frame, polyp box side px,
# centre x, y) on the 320x320 demo frames. Base frames are clean (labels.csv
# bleeding 0); a run's frames all follow its last base frame, so the polyp
# stays in view for the whole run.
PLAN = [
    ("demo-0030", "demo-0032p1", "cju2zrojo9kcd0878ld2epejq.jpg", 84, 196, 150),
    ("demo-0031", "demo-0032p2", "cju2zrojo9kcd0878ld2epejq.jpg", 96, 180, 160),
    ("demo-0032", "demo-0032p3", "cju2zrojo9kcd0878ld2epejq.jpg", 110, 166, 170),
    ("demo-0170", "demo-0171p1", "cju5wtdu4m0im0871mix0yvc0.jpg", 100, 140, 140),
    ("demo-0171", "demo-0171p2", "cju5wtdu4m0im0871mix0yvc0.jpg", 112, 150, 150),
]
SEED = 20261201
QUALITY = 82


def polyp_cutout(kimg, kmask, target_side, margin, blur):
    """The polyp with its mask and a margin of context, scaled so the
    polyp's box side is target_side: (rgb float, alpha 0..1)."""
    m = kmask >= 128
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        raise SystemExit("make_demo_polyps: a mask without a polyp")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    scale = target_side / max(side, 1)
    mg = int(side * margin)
    h, w = kimg.shape[:2]
    y0, y1, x0, x1 = max(y0 - mg, 0), min(y1 + mg, h), max(x0 - mg, 0), min(x1 + mg, w)
    nw, nh = max(int((x1 - x0) * scale), 4), max(int((y1 - y0) * scale), 4)
    crop = Image.fromarray(kimg[y0:y1, x0:x1]).resize((nw, nh), Image.BILINEAR)
    mcrop = Image.fromarray(kmask[y0:y1, x0:x1]).resize((nw, nh), Image.BILINEAR)
    # soft alpha: the mask grown a little and feathered (as train_polyp.py)
    grow = mcrop.filter(ImageFilter.MaxFilter(3 if nw < 40 else 5))
    alpha = grow.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(crop, np.float32), np.asarray(alpha, np.float32) / 255.0


def paste(bg, rgb, alpha, cx, cy, shift):
    """Blend the cutout into bg centred at (cx, cy), its mean colour moved
    `shift` of the way toward the local background's."""
    h, w = alpha.shape
    s = bg.shape[0]
    x0 = min(max(cx - w // 2, 0), s - w)
    y0 = min(max(cy - h // 2, 0), s - h)
    out = bg.astype(np.float32).copy()
    region = out[y0:y0 + h, x0:x0 + w]
    a = alpha[..., None]
    cm = (rgb * a).sum((0, 1)) / (alpha.sum() + 1e-6)
    bm = region.reshape(-1, 3).mean(0)
    rgb = np.clip(rgb + shift * (bm - cm), 0, 255)
    out[y0:y0 + h, x0:x0 + w] = region * (1 - a) + rgb * a
    return out.astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kvasir", required=True, help="Kvasir-SEG folder (images/, masks/)")
    ap.add_argument("--demo", required=True, help="samples/demo (frames/, labels.csv)")
    a = ap.parse_args()
    rng = np.random.RandomState(SEED)
    labels_path = os.path.join(a.demo, "labels.csv")
    with open(labels_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and "polyp" in rows[0]:
        sys.exit("make_demo_polyps: %s already has a polyp column (run make-demo.sh)" % labels_path)
    by_file = {r["file"]: r for r in rows}
    added = []
    for base, out_name, kfile, side, cx, cy in PLAN:
        brow = by_file.get(base + ".jpg")
        if not brow or brow["bleeding"] != "0":
            sys.exit("make_demo_polyps: %s.jpg is missing or not a clean frame" % base)
        bg = np.asarray(Image.open(os.path.join(a.demo, "frames", base + ".jpg")).convert("RGB"))
        kimg = np.asarray(Image.open(os.path.join(a.kvasir, "images", kfile)).convert("RGB"))
        kmask = np.asarray(Image.open(os.path.join(a.kvasir, "masks", kfile)).convert("L"))
        rgb, alpha = polyp_cutout(kimg, kmask, side, rng.uniform(0.05, 0.15), rng.uniform(1.5, 3.0))
        img = paste(bg, rgb, alpha, cx, cy, rng.uniform(0.3, 0.6))
        name = out_name + ".jpg"
        Image.fromarray(img).save(os.path.join(a.demo, "frames", name), "JPEG", quality=QUALITY)
        added.append({"file": name, "bleeding": "0", "source": "%s+kvasir:%s" % (brow["source"], kfile),
                      "polyp": "1"})
    for r in rows:
        r["polyp"] = "0"
    rows += added
    rows.sort(key=lambda r: (r["file"].split(".")[0][:9], r["file"]))
    with open(labels_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "bleeding", "source", "polyp"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for r in added:
        print(r["file"])


if __name__ == "__main__":
    main()
