#!/usr/bin/python3
"""make_redundant_study.py - a capsule study with realistic redundancy for
bench/polyp-triage.sh: runs of 2-12 near-identical frames (small shifts,
brightness changes, a fresh JPEG encoding at another quality each), built
from the shared WCEBleedGen frames (cycled in a fixed shuffled order),
written as numbered JPEG files into OUT. Frames are 640x640 like the
shared files (BENCH_SIDE=320 for smaller ones: capsule originals are 256-576
px and a full decode of those is cheaper, so the ratio is harder). Seeded.

    /usr/bin/python3 bench/make_redundant_study.py SRC_IMAGES OUT FRAMES
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageEnhance


def main():
    src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    files = sorted(f for f in os.listdir(src) if f.endswith(".jpg"))
    rng = np.random.RandomState(2026)
    order = rng.permutation(len(files))
    side, i, k, runs = int(os.environ.get("BENCH_SIDE", "640")), 0, 0, 0
    while i < n:
        base = Image.open(os.path.join(src, files[order[k % len(files)]]))
        base = base.convert("RGB").resize((side + 16, side + 16), Image.BILINEAR)
        k += 1
        runs += 1
        length = int(rng.randint(2, 13))
        x, y = 8, 8
        for _ in range(min(length, n - i)):
            x = int(np.clip(x + rng.randint(-2, 3), 0, 16))
            y = int(np.clip(y + rng.randint(-2, 3), 0, 16))
            im = base.crop((x, y, x + side, y + side))
            im = ImageEnhance.Brightness(im).enhance(float(rng.uniform(0.94, 1.06)))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=int(rng.randint(70, 96)))
            with open(os.path.join(out, "f%07d.jpg" % i), "wb") as f:
                f.write(buf.getvalue())
            i += 1
    print(f"{n} frames in {runs} runs (mean run {n / runs:.1f}) under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
