#!/usr/bin/env python3
"""tests/tools/test_polyp_shift_check.py - tools/polyp_shift_check.py on a
few synthetic frames, with the real `capscreen eval`:

- only the positive rows are used, and the control `reencoded` is always
  measured, first;
- each variant moves the frame and its mask by the same geometry: a black
  surround and a 16:9 letterbox keep the mask's pixels, a downscale keeps
  the aspect ratio at the asked long side;
- every variant's report carries the engine's own fields and the change
  against the control;
- an unknown variant, a LABELS without a polyp column and a missing mask
  are refused, each naming what is wrong.

Usage: test_polyp_shift_check.py CAPSCREEN. Exit 77 (skipped) without numpy
or PIL.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from PIL import Image
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-numpy python3-pil)")
    sys.exit(77)

from tap import check, failed  # noqa: E402  (tests/tools/tap.py: the checks' lines and count)

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "polyp_shift_check.py")


def frame(seed, w, h):
    """A reddish textured frame with a pale round blob, and the blob's mask."""
    rng = np.random.RandomState(seed)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (200, 110, 90)
    img += rng.normal(0, 8, (h, w, 1))
    yy, xx = np.mgrid[:h, :w]
    cx, cy, r = w * (0.3 + 0.4 * rng.rand()), h * (0.3 + 0.4 * rng.rand()), min(w, h) * 0.18
    blob = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img[blob] = (235, 170, 150)
    return (Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)),
            Image.fromarray((blob * 255).astype(np.uint8)))


def run(*args):
    return subprocess.run(["/usr/bin/python3", TOOL, *args], capture_output=True, text=True)


def main():
    capscreen = sys.argv[1]
    with tempfile.TemporaryDirectory() as t:
        fr, ma = os.path.join(t, "frames"), os.path.join(t, "masks")
        os.makedirs(fr)
        os.makedirs(ma)
        sizes = {"a.jpg": (320, 280), "b.jpg": (400, 300), "c.jpg": (300, 300)}
        white = {}
        for i, (name, (w, h)) in enumerate(sizes.items()):
            img, mask = frame(i, w, h)
            img.save(os.path.join(fr, name), quality=95)
            if name != "c.jpg":  # c is a negative row: no mask needed
                mask.save(os.path.join(ma, name[:-4] + ".png"))
                white[name] = int((np.asarray(mask) >= 128).sum())
        labels = os.path.join(t, "labels.csv")
        with open(labels, "w") as fh:
            fh.write("file,polyp,note\na.jpg,1,x\nb.jpg,1,y\nc.jpg,0,z\n")
        work, out = os.path.join(t, "work"), os.path.join(t, "r.json")
        p = run("--frames", fr, "--labels", labels, "--masks", ma, "--work", work, "--metrics", out,
                "--capscreen", capscreen, "--variants", "surround15,letterbox,long288")
        check("the tool runs", p.returncode == 0, p.stderr[-500:])
        if p.returncode != 0:
            return
        r = json.load(open(out))
        check("only the positive rows are used", r["n_frames"] == 2, r["n_frames"])
        check("the control is measured first", list(r["variants"]) ==
              ["reencoded", "surround15", "letterbox", "long288"], list(r["variants"]))
        for name, v in r["variants"].items():
            check(f"{name}: the engine's fields", v["n"] == 2 and v["dice"] is not None and
                  0 <= v["hit_rate"] <= 1 and 0 < v["threshold"] < 1, v)
            check(f"{name}: change against the control",
                  abs(v["dice_change"] - (v["dice"] - r["variants"]["reencoded"]["dice"])) < 1e-3, v)
        for name, (w, h) in sizes.items():
            if name == "c.jpg":
                continue
            base = name[:-4]
            s = Image.open(os.path.join(work, "surround15", "frames", base + ".jpg"))
            check(f"{name}: surround size", s.size == (w + 2 * int(w * 0.15), h + 2 * int(h * 0.15)),
                  s.size)
            sm = np.asarray(Image.open(os.path.join(work, "surround15", "masks", base + ".png")))
            check(f"{name}: surround keeps the mask", int((sm >= 128).sum()) == white[name])
            lb = Image.open(os.path.join(work, "letterbox", "frames", base + ".jpg"))
            check(f"{name}: letterbox is 16:9", lb.size == (round(h * 16 / 9), h), lb.size)
            lm = np.asarray(Image.open(os.path.join(work, "letterbox", "masks", base + ".png")))
            check(f"{name}: letterbox keeps the mask", int((lm >= 128).sum()) == white[name])
            sm_img = Image.open(os.path.join(work, "long288", "frames", base + ".jpg"))
            check(f"{name}: long side 288, aspect kept", max(sm_img.size) == 288 and
                  abs(sm_img.size[0] / sm_img.size[1] - w / h) < 0.01, sm_img.size)
        common = ["--labels", labels, "--masks", ma, "--work", work, "--metrics", out,
                  "--capscreen", capscreen]
        p = run("--frames", fr, *common, "--variants", "surround15,sepia")
        check("an unknown variant is refused by name", p.returncode != 0 and "sepia" in p.stderr,
              p.stderr)
        bad = os.path.join(t, "bad.csv")
        with open(bad, "w") as fh:
            fh.write("file,bleeding\na.jpg,1\n")
        p = run("--frames", fr, *common[2:], "--labels", bad)
        check("a LABELS without polyp is refused", p.returncode != 0 and "file,polyp" in p.stderr,
              p.stderr)
        os.remove(os.path.join(ma, "b.png"))
        p = run("--frames", fr, *common, "--variants", "long288")
        check("a missing mask is refused by name", p.returncode != 0 and "b.jpg" in p.stderr,
              p.stderr)


main()
sys.exit(1 if failed() else 0)
