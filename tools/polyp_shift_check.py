#!/usr/bin/python3
"""polyp_shift_check.py - does the engine's polyp outline hold when frames
look as another hospital's might? (models/MODEL_CARD-polyp.md, "Another
hospital's frame geometry and look").

The issue's colonoscopy check is on another hospital's frames, which the
project does not have. What can be measured is how the C engine's outline
(`capscreen eval --finding polyp --masks`: Dice and hit rate) moves when
the frames it was validated on are changed in the ways another hospital's
frames are known to differ: frame size, a black surround, a round field,
colour balance, exposure, JPEG quality and focus. Each variant changes the
frame and its mask by the same geometry, so the polyp is the same polyp;
what moves is only how the engine sees it. It is a stress test on the same
hospital's polyps, not a measure of another hospital.

Input is any folder that `capscreen eval --masks` reads (frames, a
LABELS.csv with a `polyp` column, a mask per positive frame of the same
base name, PNG or JPEG); only the positive frames are used.
`train_polyp.py --write-heldout DIR` writes the held-out fold-4 folder the
model card quotes. Every variant, the control `reencoded` included, is
written as JPEG quality 95 unless it is itself a JPEG quality, so that
re-encoding is not mistaken for the variant's effect: read each variant
against `reencoded`.

    polyp_shift_check.py --frames DIR --labels CSV --masks DIR --work DIR
        --metrics OUT.json [--capscreen BIN] [--model W.bin]
        [--variants a,b,...]

Deterministic (no random draw). Exit status 0 when every variant was
measured; 1 with a message naming the frame or variant otherwise.
"""

import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scale_to(long_side):
    def f(img, mask):
        w, h = img.size
        s = long_side / max(w, h)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        return img.resize(size, Image.BICUBIC), mask.resize(size, Image.NEAREST), 95
    return f


def surround(share):
    """A black border of `share` of each side around the frame (a scope whose
    image sits inside a larger black video frame)."""
    def f(img, mask):
        w, h = img.size
        pw, ph = int(w * share), int(h * share)
        big = Image.new("RGB", (w + 2 * pw, h + 2 * ph))
        big.paste(img, (pw, ph))
        bigm = Image.new("L", big.size)
        bigm.paste(mask, (pw, ph))
        return big, bigm, 95
    return f


def letterbox(img, mask):
    """The frame centred in a 16:9 black canvas (a 4:3 scope shown on HD)."""
    w, h = img.size
    cw = max(w, round(h * 16 / 9))
    big = Image.new("RGB", (cw, h))
    big.paste(img, ((cw - w) // 2, 0))
    bigm = Image.new("L", big.size)
    bigm.paste(mask, ((cw - w) // 2, 0))
    return big, bigm, 95


def letterbox_text(img, mask):
    """letterbox, with white text in the left bar (patient and scope data,
    as many recorders burn in beside the image)."""
    big, bigm, q = letterbox(img, mask)
    bar = (big.size[0] - img.size[0]) // 2
    if bar >= 8:
        draw = ImageDraw.Draw(big)
        step = max(10, big.size[1] // 16)
        for k, line in enumerate(("ID 0000000", "NAME", "1970-01-01", "CF-HQ190L", "Eh: A5 Ce: 1",
                                  "CVP: 1", "FR: 5", "12:34:56")):
            if 8 + k * step + step > big.size[1] * 2 // 3:
                break
            draw.text((4, 8 + k * step), line[: max(1, bar // 7)], fill=(235, 235, 235))
    return big, bigm, q


def ellipse(img, mask):
    """Black outside an ellipse through the frame's edges, a little beyond the
    inscribed one (the round field of many scopes, corners cut)."""
    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2 <= 1.15
    a = np.asarray(img) * inside[..., None]
    m = np.asarray(mask) * inside
    return Image.fromarray(a.astype(np.uint8)), Image.fromarray(m.astype(np.uint8)), 95


def gains(r, g, b):
    def f(img, mask):
        a = np.asarray(img).astype(np.float32) * np.array([r, g, b], np.float32)
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8)), mask, 95
    return f


def jpeg(quality):
    def f(img, mask):
        return img, mask, quality
    return f


def blur(radius):
    def f(img, mask):
        return img.filter(ImageFilter.GaussianBlur(radius)), mask, 95
    return f


# name -> (what it stands for, transform(img RGB, mask L) -> (img, mask, JPEG quality))
VARIANTS = {
    "reencoded": ("the control: the frame re-encoded as JPEG quality 95, nothing else", jpeg(95)),
    "long384": ("downscaled to a long side of 384 px (CVC-ClinicDB's frame size)", scale_to(384)),
    "long288": ("downscaled to a long side of 288 px", scale_to(288)),
    "long1280": ("upscaled to a long side of 1280 px (HD and ETIS-Larib sizes)", scale_to(1280)),
    "surround15": ("a black border of 15 % of each side around the frame", surround(0.15)),
    "letterbox": ("centred in a 16:9 black canvas", letterbox),
    "letterbox_text": ("the same, white text in the left bar", letterbox_text),
    "ellipse": ("black outside an elliptical field, corners cut", ellipse),
    "warm": ("red gain 1.12, blue 0.85", gains(1.12, 1.0, 0.85)),
    "cool": ("red gain 0.88, blue 1.12", gains(0.88, 1.0, 1.12)),
    "dark": ("every channel at 0.65 (under-exposed)", gains(0.65, 0.65, 0.65)),
    "jpeg40": ("JPEG quality 40", jpeg(40)),
    "blur2": ("Gaussian blur of radius 2 px (out of focus)", blur(2.0)),
}


def positives(labels):
    with open(labels, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "file" not in rows[0] or "polyp" not in rows[0]:
        sys.exit(f"polyp_shift_check: {labels}: needs the columns file,polyp")
    files = [r["file"] for r in rows if r["polyp"].strip() == "1"]
    if not files:
        sys.exit(f"polyp_shift_check: {labels}: no row has polyp = 1")
    return files


def find_mask(masks, name):
    base = os.path.splitext(name)[0]
    for ext in (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"):
        p = os.path.join(masks, base + ext)
        if os.path.exists(p):
            return p
    sys.exit(f"polyp_shift_check: no mask for {name} in {masks} (expected {base}.png or .jpg)")


def write_variant(name, transform, frames, masks, files, out):
    os.makedirs(os.path.join(out, "frames"), exist_ok=True)
    os.makedirs(os.path.join(out, "masks"), exist_ok=True)
    for f in files:
        try:
            img = Image.open(os.path.join(frames, f)).convert("RGB")
            mask = Image.open(find_mask(masks, f)).convert("L")
        except OSError as e:
            sys.exit(f"polyp_shift_check: {f}: {e}")
        if mask.size != img.size:
            sys.exit(f"polyp_shift_check: {f}: mask is {mask.size[0]}x{mask.size[1]}, "
                     f"frame {img.size[0]}x{img.size[1]}")
        img2, mask2, quality = transform(img, mask)
        base = os.path.splitext(f)[0]
        img2.save(os.path.join(out, "frames", base + ".jpg"), quality=quality)
        mask2.save(os.path.join(out, "masks", base + ".png"))
    with open(os.path.join(out, "labels.csv"), "w") as fh:
        fh.write("file,polyp\n" + "".join(os.path.splitext(f)[0] + ".jpg,1\n" for f in files))


def run_eval(capscreen, model, d):
    cmd = [capscreen, "eval", "--finding", "polyp", os.path.join(d, "frames"),
           os.path.join(d, "labels.csv"), "--masks", os.path.join(d, "masks")]
    if model:
        cmd[4:4] = ["--polyp-model", model]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"polyp_shift_check: cannot run {capscreen}: {e.strerror} (--capscreen names the "
                 "capscreen binary)")
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        sys.exit(f"polyp_shift_check: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    return json.loads(lines[-1])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", required=True, help="folder of frames (capscreen eval's DIR)")
    ap.add_argument("--labels", required=True, help="CSV with columns file,polyp")
    ap.add_argument("--masks", required=True, help="a mask per positive frame, same base name")
    ap.add_argument("--work", required=True, help="where the variants' folders are written")
    ap.add_argument("--metrics", required=True, help="where to write the report (JSON)")
    ap.add_argument("--capscreen", default=os.path.join(here, "..", "build", "capscreen"))
    ap.add_argument("--model", default=None, help="polyp weights (default: the engine's)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated, of: " + ", ".join(VARIANTS))
    a = ap.parse_args()
    names = [v for v in a.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        sys.exit(f"polyp_shift_check: unknown variant(s) {', '.join(unknown) or '(none given)'}; "
                 f"known: {', '.join(VARIANTS)}")
    if "reencoded" not in names:
        names.insert(0, "reencoded")
    files = positives(a.labels)
    report = {"tool": "tools/polyp_shift_check.py", "model": a.model or "(the engine's default)",
              "n_frames": len(files), "note": "capscreen eval --finding polyp --masks on each variant of the "
              "same positive frames; read each against 'reencoded', the control", "variants": {}}
    for name in names:
        what, transform = VARIANTS[name]
        d = os.path.join(a.work, name)
        write_variant(name, transform, a.frames, a.masks, files, d)
        r = run_eval(a.capscreen, a.model, d)
        report["variants"][name] = {"what": what, "dice": r.get("dice"), "hit_rate": r.get("hit_rate"),
                                    "sensitivity": r.get("sensitivity"), "threshold": r.get("threshold"),
                                    "n": r.get("n")}
        print(f"{name:12s} Dice {r.get('dice')}  hit rate {r.get('hit_rate')}  "
              f"flagged {r.get('sensitivity')}", flush=True)
    base = report["variants"]["reencoded"]
    for v in report["variants"].values():
        for k in ("dice", "hit_rate", "sensitivity"):
            if v[k] is not None and base[k] is not None:
                v[k + "_change"] = round(v[k] - base[k], 4)
    with open(a.metrics, "w") as fh:
        json.dump(report, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
