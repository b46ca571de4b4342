#!/usr/bin/env python3
"""tests/tools/test_polyp_field.py - the training tool reads a frame with a
wide black border through its lit field, as the engine does, so that what
tools/train_polyp.py measures is what `capscreen` flags:

- the tool's rule (lit_box, reads_field, field_of) takes the field of a
  4:3 image letterboxed in 16:9 and of a frame in a 15 % black surround,
  and reads whole a frame with a narrow border, a field under half a
  side, a round capsule field that reaches the edges and a frame without
  a border;
- on each of those frames the tool's score (predict, with the shipped
  weights) is the engine's `polyp_probability` (`capscreen analyze`)
  within 0.01, while reading the bordered frames whole would miss it by
  more (so the check can fail);
- the tool's map is 0 outside the field; and with the shared data
  (CS_SHARED_DIR, default ../shared), six Kvasir-SEG frames letterboxed
  the same way agree too, the boxes of those the engine flags lie inside
  the field, and the tool's nine-pass outline (predict_outline, its top
  region as train_polyp.top_component finds it) boxes the engine's first
  box with IoU >= 0.8 (without the shared data that part is skipped,
  saying so; the rest runs).

Usage: test_polyp_field.py CAPSCREEN [--frames DIR]. With --frames, it
also measures the agreement on every JPEG or PNG frame of DIR (for
instance the `letterbox` variant that tools/polyp_shift_check.py writes)
and prints it; nothing is asserted about them. Exit 77 (skipped) without
numpy, PIL or torch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from PIL import Image
    import torch  # noqa: F401  (train_polyp needs it; skip cleanly without)
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-numpy python3-pil python3-torch)")
    sys.exit(77)

from tap import check, failed  # noqa: E402  (tests/tools/tap.py: the checks' lines and count)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import train_polyp as tp  # noqa: E402

WEIGHTS = os.path.join(ROOT, "models", "polyp-unet.bin")
TOL = 0.01
ANALYSIS_MIN_SIDE = 64  # CS_ANALYSIS_MIN_SIDE in src/decode


def analysis_size(w, h):
    """cs_analysis_size: the largest reduction of 1/2, 1/4, 1/8 whose short
    side stays >= 64, sizes rounded up."""
    d = 1
    while d < 8 and (min(w, h) + 2 * d - 1) // (2 * d) >= ANALYSIS_MIN_SIDE:
        d *= 2
    return (w + d - 1) // d, (h + d - 1) // d


def analysis_image(path):
    """The engine's analysis image of a frame file: a JPEG through
    libjpeg's scaled DCT (train_polyp.load_rgb), a PNG area-averaged as
    src/decode/image.c's area_scale does (each source pixel into the cell
    that holds it, the mean rounded half up)."""
    im = Image.open(path)
    if im.format == "JPEG":
        return np.asarray(tp.load_rgb(path, ANALYSIS_MIN_SIDE), np.uint8)
    rgb = np.asarray(im.convert("RGB"), np.int64)
    h, w = rgb.shape[:2]
    ow, oh = analysis_size(w, h)
    cell = (np.arange(h)[:, None] * oh // h) * ow + (np.arange(w)[None, :] * ow // w)
    acc = np.zeros((oh * ow, 3), np.int64)
    np.add.at(acc, cell.ravel(), rgb.reshape(-1, 3))
    n = np.bincount(cell.ravel(), minlength=oh * ow)[:, None]
    return ((acc + n // 2) // np.maximum(n, 1)).astype(np.uint8).reshape(oh, ow, 3)


def wall(rng, w, h):
    """Reddish wall with texture and a pale raised blob, at w x h."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = (190, 95, 80)
    yy, xx = np.mgrid[:h, :w]
    img += (18 * np.sin(xx / (w / 9.0)) * np.cos(yy / (h / 7.0)))[..., None]
    img += rng.normal(0, 6, (h, w, 1))
    cx, cy, r = w * 0.42, h * 0.55, min(w, h) * 0.2
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r
    blob = np.clip(1.2 - d, 0, 1)[..., None]
    img = img * (1 - blob) + blob * np.array([238, 178, 150], np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def frames(rng):
    """name -> (uint8 image, expected field in analysis shares or None)."""
    out = {}
    lb = np.zeros((360, 640, 3), np.uint8)  # 4:3 centred in 16:9
    lb[:, 80:560] = wall(rng, 480, 360)
    out["letterbox"] = lb
    sur = np.zeros((640, 640, 3), np.uint8)  # 15 % black each side
    sur[96:544, 96:544] = wall(rng, 448, 448)
    out["surround15"] = sur
    nar = np.zeros((640, 640, 3), np.uint8)  # 4 % each side: 0.92 of a side
    nar[24:616, 24:616] = wall(rng, 592, 592)
    out["narrow"] = nar
    small = np.zeros((640, 640, 3), np.uint8)  # 0.4 of a side: not zoomed into
    small[192:448, 192:448] = wall(rng, 256, 256)
    out["small"] = small
    rnd = wall(rng, 640, 640)  # a capsule's round field, touching the edges
    yy, xx = np.mgrid[:640, :640]
    rnd[(xx - 319.5) ** 2 + (yy - 319.5) ** 2 > 320 ** 2] = 0
    out["round"] = rnd
    out["full"] = wall(rng, 640, 640)
    return out


EXPECT_FIELD = {"letterbox": True, "surround15": True, "narrow": False, "small": False,
                "round": False, "full": False}


def shared_frames():
    """Six Kvasir-SEG frames as 4:3 images centred in a 16:9 black frame,
    or None (with the reason) without the shared data."""
    shared = os.environ.get("CS_SHARED_DIR") or os.path.join(ROOT, "..", "shared")
    kv = os.path.join(shared, "data", "kvasir-seg")
    try:
        names = sorted(r["file"] for r in tp.read_csv(os.path.join(kv, "labels.csv")))[:6]
    except OSError as e:
        return None, f"no Kvasir-SEG frames under {shared}/data ({e.strerror})"
    out = {}
    for name in names:
        lb = np.zeros((360, 640, 3), np.uint8)
        lb[:, 80:560] = np.asarray(Image.open(os.path.join(kv, "images", name)).convert("RGB")
                                   .resize((480, 360), Image.BILINEAR))
        out["kvasir-" + os.path.splitext(name)[0]] = lb
    return out, None


def engine_frames(capscreen, folder):
    """`capscreen analyze` on a folder -> {file name: frame record}."""
    r = subprocess.run([capscreen, "analyze", "--polyp-model", WEIGHTS, folder],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"capscreen analyze failed ({r.returncode}): {r.stderr[-400:]}")
    return {f["name"]: f for f in json.loads(r.stdout)["frames"]}


def tool_scores(net, img):
    """The tool's score of an analysis image (predict: through its field
    where the engine reads one), the score of the image read whole (the
    tool before it learnt the field), and predict's map."""
    prob, score = tp.predict(net, [img])
    with torch.no_grad():
        lg = net(tp.channels_last(tp.to_input(tp.resize_u8(img)[None])))
        whole = torch.sigmoid(tp.frame_logit(lg)).numpy()
    return float(score[0]), float(whole[0]), prob[0]


def outline_iou(net, ana, shape, box):
    """IoU, in the frame's pixels, of the engine's box and the box of the
    top region of the tool's nine-pass outline of the analysis image."""
    prob = tp.predict_outline(net, [ana])[0]
    x0, y0, x1, y1 = tp.top_component(prob)
    side, (h, w) = prob.shape[0], shape[:2]
    t = (x0 / side * w, y0 / side * h, x1 / side * w, y1 / side * h)
    e = (box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"])
    inter = max(0, min(t[2], e[2]) - max(t[0], e[0])) * max(0, min(t[3], e[3]) - max(t[1], e[1]))
    union = (t[2] - t[0]) * (t[3] - t[1]) + (e[2] - e[0]) * (e[3] - e[1]) - inter
    return inter / union if union > 0 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capscreen")
    ap.add_argument("--frames", help="also measure the agreement on these frames")
    a = ap.parse_args()
    net, _ = tp.read_weights(WEIGHTS)
    torch.set_num_threads(1)
    rng = np.random.RandomState(5)
    with tempfile.TemporaryDirectory() as tmp:
        made = frames(rng)
        kvasir, why = shared_frames()
        if kvasir is None:
            print(f"# skipped the Kvasir-SEG part: {why}")
        else:
            made.update(kvasir)
            EXPECT_FIELD.update({k: True for k in kvasir})
        for name, img in made.items():
            Image.fromarray(img).save(os.path.join(tmp, name + ".png"))
        eng = engine_frames(a.capscreen, tmp)
        sensitive, flagged = [], 0
        for name in made:
            ana = analysis_image(os.path.join(tmp, name + ".png"))
            field = tp.field_of(ana)
            check(f"{name}: read {'through its field' if EXPECT_FIELD[name] else 'whole'}",
                  (field is not None) == EXPECT_FIELD[name], f"field {field} of {ana.shape}")
            mine, whole, prob = tool_scores(net, ana)
            theirs = eng[name + ".png"]["polyp_probability"]
            check(f"{name}: the tool's score is the engine's within {TOL}",
                  abs(mine - theirs) <= TOL, f"tool {mine:.4f}, engine {theirs:.4f}")
            print(f"# {name}: engine {theirs:.4f}, tool {mine:.4f}, tool read whole {whole:.4f}")
            if field is None:
                continue
            sensitive.append(abs(whole - theirs))
            ah, aw = ana.shape[:2]
            x0, y0, x1, y1 = field
            cells = tp.OUT
            outside = np.ones((cells, cells), bool)
            outside[int(np.ceil(y0 / ah * cells - 0.5)):int(np.floor(y1 / ah * cells - 0.5)) + 1,
                    int(np.ceil(x0 / aw * cells - 0.5)):int(np.floor(x1 / aw * cells - 0.5)) + 1] = False
            check(f"{name}: the tool's map is 0 outside the field", float(prob[outside].max()) == 0.0,
                  f"max {prob[outside].max()}")
            src = made[name]
            flagged += eng[name + ".png"]["polyp"]
            if eng[name + ".png"]["polyp"]:
                iou = outline_iou(net, ana, src.shape, eng[name + ".png"]["polyp_boxes"][0])
                check(f"{name}: the tool's outline boxes the engine's first box (IoU {iou:.2f} >= 0.8)",
                      iou >= 0.8)
            for b in eng[name + ".png"]["polyp_boxes"]:
                inside = (b["x"] >= x0 / aw * src.shape[1] - 1 and b["y"] >= y0 / ah * src.shape[0] - 1
                          and b["x"] + b["w"] <= x1 / aw * src.shape[1] + 1
                          and b["y"] + b["h"] <= y1 / ah * src.shape[0] + 1)
                check(f"{name}: the engine's box {b['x']},{b['y']} {b['w']}x{b['h']} lies in the field",
                      inside)
        check(f"reading a bordered frame whole misses the engine's score by more than {TOL} "
              "(the check can fail)", max(sensitive) > TOL, f"differences {sensitive}")
        if kvasir is not None:
            check("the engine flags a letterboxed Kvasir-SEG frame (so its boxes were checked)",
                  flagged > 0)
    if a.frames:
        measure(net, a.capscreen, a.frames)
    return 1 if failed() else 0


def measure(net, capscreen, folder):
    """Agreement of the tool with the engine on a folder of frames."""
    eng = engine_frames(capscreen, folder)
    d_field, d_whole, n_field = [], [], 0
    for name, rec in sorted(eng.items()):
        if rec.get("polyp_probability") is None:
            continue
        ana = analysis_image(os.path.join(folder, name))
        n_field += tp.field_of(ana) is not None
        mine, whole, _ = tool_scores(net, ana)
        d_field.append(abs(mine - rec["polyp_probability"]))
        d_whole.append(abs(whole - rec["polyp_probability"]))
    d_field, d_whole = np.array(d_field), np.array(d_whole)
    print(json.dumps(dict(frames=len(d_field), read_through_field=n_field,
                          field_mean_abs=float(d_field.mean()), field_max_abs=float(d_field.max()),
                          field_within_tol=float(np.mean(d_field <= TOL)),
                          whole_mean_abs=float(d_whole.mean()), whole_max_abs=float(d_whole.max()),
                          whole_within_tol=float(np.mean(d_whole <= TOL)))))


if __name__ == "__main__":
    sys.exit(main())
