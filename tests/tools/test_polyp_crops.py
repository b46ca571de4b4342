#!/usr/bin/env python3
"""tests/tools/test_polyp_crops.py - a version-4 polyp weights file (an
ensemble whose frame score also reads the five crops of 0.6 of a frame
once its one-pass score reaches the file's crop gate; docs/engine.md,
"Polyps") scores alike in the engine and in the training tool:

- made from the shipped file's members (train_polyp.write_ensemble with a
  crop gate), it is loaded by `capscreen analyze --polyp-model`, beside a
  version-3 file of the same members and threshold (one pass; made here
  too, so the test holds whichever version ships);
- the summary header names the crop gate (`polyp_model.crop_gate`; no
  such key for version 3);
- at gate 0 the engine's `polyp_probability` of every frame is at least
  the shipped (version-3) file's and higher for some (the crops are read),
  and the tool's score (predict on the frame's analysis image) is the
  engine's within 0.01, on demo capsule frames (five with a pasted polyp)
  and on synthetic frames read through a lit field;
- at a gate between the frames' one-pass scores, a frame under the gate
  gets exactly the version-3 record (probability, flag, boxes), and a
  frame at or over it the gate-0 probability; a frame is flagged exactly
  when its probability reaches the threshold.

Usage: test_polyp_crops.py CAPSCREEN. Exit 77 (skipped) without numpy, PIL
or torch.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from PIL import Image
    import torch
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-numpy python3-pil python3-torch)")
    sys.exit(77)

from tap import check, failed  # noqa: E402  (tests/tools/tap.py: the checks' lines and count)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import train_polyp as tp  # noqa: E402
import test_polyp_field as tf  # noqa: E402  (the engine's analysis image, synthetic frames)

WEIGHTS = os.path.join(ROOT, "models", "polyp-unet.bin")
DEMO = os.path.join(ROOT, "samples", "demo", "frames")
TOL = 0.01


def members(path):
    """The member files' bytes of an ensemble file (version 3, or version 4
    with its crop gate before the members)."""
    body = open(path, "rb").read()
    version, k = struct.unpack_from("<II", body, 8)
    assert version in (3, 4), f"{path}: version {version}, expected a shipped ensemble (3 or 4)"
    out, o = [], 20 if version == 3 else 24
    for _ in range(k):
        n = struct.unpack_from("<I", body, o)[0]
        out.append(body[o + 4:o + 4 + n])
        o += 4 + n
    return out


def analyze(capscreen, weights, folder):
    r = subprocess.run([capscreen, "analyze", "--polyp-model", weights, folder],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"capscreen analyze failed ({r.returncode}): {r.stderr[-400:]}")
    doc = json.loads(r.stdout)
    return {f["name"]: f for f in doc["frames"]}, doc["polyp_model"]


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[-2], file=sys.stderr)
        return 2
    capscreen = sys.argv[1]
    torch.set_num_threads(1)  # the tool's scores, as its other measures run them
    thr = tp.read_weights(WEIGHTS)[1]
    shipped = members(WEIGHTS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "frames")
        os.mkdir(folder)
        names = sorted(os.listdir(DEMO))
        pasted = [n for n in names if "p" in os.path.splitext(n)[0].split("-")[1]]
        pick = sorted(set(pasted + names[::4]))  # the pasted polyps and a spread of the rest
        for n in pick:
            shutil.copy(os.path.join(DEMO, n), folder)
        for name, img in tf.frames(np.random.RandomState(7)).items():
            if name in ("letterbox", "surround15", "full"):
                Image.fromarray(img).save(os.path.join(folder, f"synthetic-{name}.png"))
        files = sorted(os.listdir(folder))
        v3 = os.path.join(tmp, "v3.bin")
        tp.write_ensemble(shipped, v3, thr)
        v4_0 = os.path.join(tmp, "v4-gate0.bin")
        tp.write_ensemble(shipped, v4_0, thr, 0.0)
        e3, h3 = analyze(capscreen, v3, folder)
        e0, h0 = analyze(capscreen, v4_0, folder)
        check("the summary names a version-4 file's crop gate, and none for version 3",
              h0.get("crop_gate") == 0.0 and "crop_gate" not in h3, (h0, h3))
        p3 = np.array([e3[f]["polyp_probability"] for f in files])
        p0 = np.array([e0[f]["polyp_probability"] for f in files])
        check(f"gate 0: no frame scores below the version-3 file ({len(files)} frames)",
              bool(np.all(p0 >= p3 - 1e-6)), [(f, a, b) for f, a, b in zip(files, p3, p0) if b < a - 1e-6])
        check("gate 0: the crops raise some frames' scores", int(np.sum(p0 > p3 + 1e-3)) >= 3,
              f"{int(np.sum(p0 > p3 + 1e-3))} frames raised")
        net4, thr4 = tp.read_weights(v4_0)
        check("the version-4 file reads back with its gate and threshold",
              net4.crop_gate == 0.0 and thr4 == thr, (net4.crop_gate, thr4))
        diffs = []
        for f in files:
            img = tf.analysis_image(os.path.join(folder, f))
            diffs.append(abs(float(tp.predict(net4, [img])[1][0]) - e0[f]["polyp_probability"]))
        diffs = np.array(diffs)
        check(f"gate 0: the tool's score is the engine's within {TOL} (max {diffs.max():.4f})",
              bool(diffs.max() <= TOL), [(f, round(d, 4)) for f, d in zip(files, diffs) if d > TOL])
        # a gate between the one-pass scores, about half the frames under it,
        # halfway between two of them (the summary prints scores rounded:
        # a gate at a frame's own printed score would be ambiguous for it)
        ranked = np.unique(p3)
        mid = len(ranked) // 2
        gate = float((ranked[mid - 1] + ranked[mid]) / 2)
        v4_g = os.path.join(tmp, "v4-gate.bin")
        tp.write_ensemble(shipped, v4_g, thr, gate)
        eg, hg = analyze(capscreen, v4_g, folder)
        check("the summary's crop gate is the file's", abs(hg.get("crop_gate", -1) - gate) < 1e-6,
              (hg, gate))
        under = [f for f, p in zip(files, p3) if p < gate]
        over = [f for f in files if f not in under]
        same = all(eg[f]["polyp_probability"] == e3[f]["polyp_probability"] and
                   eg[f]["polyp"] == e3[f]["polyp"] and eg[f]["polyp_boxes"] == e3[f]["polyp_boxes"]
                   for f in under)
        check(f"gate {gate:.4f}: the {len(under)} frames under it keep the version-3 record", same and under,
              [f for f in under if eg[f]["polyp_probability"] != e3[f]["polyp_probability"]])
        check(f"gate {gate:.4f}: the {len(over)} frames over it get the gate-0 probability",
              over and all(eg[f]["polyp_probability"] == e0[f]["polyp_probability"] for f in over),
              [f for f in over if eg[f]["polyp_probability"] != e0[f]["polyp_probability"]])
        flag_ok = all(r[f]["polyp"] == (np.float32(r[f]["polyp_probability"]) >= np.float32(thr))
                      for r in (e0, eg) for f in files)
        check("a frame is flagged exactly when its probability reaches the threshold", flag_ok)
        check("the five pasted polyps are among the frames", len(pasted) == 5, pasted)
        print("# pasted polyps, version 3 -> version 4 (gate 0): " +
              ", ".join(f"{f} {e3[f]['polyp_probability']:.3f} -> {e0[f]['polyp_probability']:.3f}"
                        for f in pasted))
    print("passed" if not failed() else f"{failed()} failed")
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
