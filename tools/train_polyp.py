#!/usr/bin/python3
"""train_polyp.py - train capscreen's polyp detector (a compact U-Net) and
write the weights file the C engine loads (format: docs/engine.md,
"Polyp weights file").

One network:

    /usr/bin/python3 tools/train_polyp.py --shared ../shared/data \
        --out DIR/w.bin --metrics DIR/m.json

The shipped model is three such networks (--train-seed 13, 14, 15 of one
recipe) combined by --evaluate A,B,C --out into one version-3 file;
tools/train-polyp.sh with no options does all of it and writes
models/polyp-unet.bin (models/MODEL_CARD-polyp.md, "Training time and
reproducing").

Data (read-only): Kvasir-SEG (polyp frames, masks) and WCEBleedGen (capsule
frames, none with a polyp: the capsule negatives). Decoded, resized frames
are cached once under --cache (gitignored) so epochs cost only augmentation
and the network.

Splits, all by the data sets' near-duplicate groups and a fixed seed:
  * WCEBleedGen groups: 80 % train, 20 % held out (threshold + capsule check).
  * Kvasir-SEG groups: 5 folds. The final model (each member of the shipped
    ensemble) trains on folds 0-3
    (fold 4 held out) so that its threshold is chosen on capsule material
    none of its training saw: held-out WCEBleedGen groups (negatives) and
    fold-4 polyps pasted into held-out capsule frames (positives).
    Cross-validation trains fold models at the same setting on four folds
    and scores the fifth; fold 4's model is the final model itself.

The tool's defaults are the single network shipped until 2026-12-04. The
shipped ensemble's members add --swap-kind fourier --inpaint-kind copy
--capsule-negatives 900 --kvasir-inpainted 225 --kvasir-background 525
--paste-negatives 225 --paste-side 0.08,0.6 (tools/train-polyp.sh; the
last since 2026-12-06). Options tried and left off
(results in
docs/polyp-trials.md and polyp-unet.metrics.json,
"experiments_not_shipped"): --overlay-measures (overlay pairs with a
consistency penalty, overlay_pair_loss; black corner patches),
--source-weight (source_rank_loss: polyp-free frames must not be ranked by
their source), --light-share, --capsule-zoom, --widths, --input-side 128
(a larger input and heatmap; the engine then decodes every frame a second
time at a larger scale), --domain-weight (a domain-adversarial source head
behind a gradient reversal, SourceHead), --swap-kind fourier (the swap
transfers the other source's low-frequency amplitude spectrum instead of
its colour statistics; kept in the shipped members), --overlay-lookalikes (black corner rectangles and
light corner text on samples of every source), --paste-negatives 500
--kvasir-background 600 (more colonoscopy negatives per epoch than the
shipped 150 and 350; --capsule-negatives, 600 shipped, keeps the capsule
frames' share when they grow). With none of them the tool
trains the single network shipped before, whose recipe includes --colour-swap 0.5 (half the
samples of every source take the colour statistics of a frame of the other
source; --colour-swap 0 turns it off). --write-heldout DIR writes the
held-out material as a folder for `capscreen eval --finding polyp --masks`, and beside it the material the
outline rule was chosen on (folds 0-3, and polyps pasted into capsule
frames; models/MODEL_CARD-polyp.md, "Outlines"). --evaluate WEIGHTS trains
nothing: it reads a weights file back (read_weights) and writes its
held-out report, the same figures the training reports, to --metrics
(WEIGHTS a comma-separated list: the ensemble of their mean logits, at a
threshold chosen by the shipped rule, choose_threshold_by_size: held-out
polyps pasted at every size band against the held-out capsule frames,
with floors on capsule and colon stand-in specificity; with --out
written as a version-3 weights file the engine runs; every report also
gives that rule's figures at the file's threshold and at training's),
with the source measure on crops of the frames it trained on and on
frames rendered as capsule video, and the colon-capsule stand-in
(colon_rendered_report: held-out colon frames with and without their
polyp, both rendered as capsule video); --compare OTHER adds each measure's
paired difference against another weights file on the same images.
--kvasir-inpainted N (0 by default, 225 in the shipped members) adds N whole Kvasir-SEG
frames an epoch with the polyp inpainted, as negatives; --inpaint-kind
copy fills them with a shifted copy of the frame's own wall
(inpaint_copy) instead of the checks' blur, so that the two share no fill
artefact. --polyp-pairs N (a trial, 0 as shipped) shows N copy-fillable
training frames an epoch twice under one augmentation, with their polyp
and with it covered by their own wall, and ranks each pair
(polyp_pair_loss, --pair-weight): the score must rise with the polyp, not
with the colon wall both share. --train-seed N draws the final model's
weights and sample order again while the splits and checks keep --seed:
two draws of one recipe are then scored on the same held-out images.

Single thread, seeded, deterministic ops, fixed data order: the same data
and arguments give the same weights bytes. --checkpoint DIR saves each
training's state after every epoch and the same command run again goes
on from it, with the same bytes as a training never stopped
(--stop-at-epoch N stops on purpose; training_key says what must match).
"""
import argparse
import csv
import hashlib
import io
import json
import math
import os
import platform
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import PIL
from PIL import Image, ImageDraw, ImageFilter

# Everything that depends on the network's input side (--input-side; set
# by set_input_side, the defaults are the shipped 80 px model's).
IN = 80              # network input side (the engine's polyp input)
OUT = IN // 2        # heatmap side
CACHE_SIDE = 2 * IN  # cached frames, square (stretched like the engine does)
TOPK = 16            # frame score: sigmoid(mean of the TOPK largest logits)
PX = 1.0             # pixel lengths of the augmentation, relative to the 80 px model's
WIDTHS = (16, 32, 64, 128)
MAGIC = b"CSPOLYP1"
# Input sides the tool trains: multiples of 16 (four stride-2 levels) up to
# 160, where the scaled top-k (below) reaches the C loader's limit of 64.
INPUT_SIDES = range(64, 161, 16)


def set_input_side(side):
    """Scale what depends on the input side: the heatmap (side/2), the
    cache (2x the side, so the capsule-look working resolution of 1-1.6x
    the side is never an upscale), the top-k pool (same share of the
    heatmap's area: 16 cells of 40x40) and the pixel lengths of blurs,
    feathers and filters (PX). At 80 nothing changes."""
    global IN, OUT, CACHE_SIDE, TOPK, PX
    IN, OUT, CACHE_SIDE = side, side // 2, 2 * side
    TOPK = int(round(16 * (OUT / 40.0) ** 2))
    PX = side / 80.0


LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # RGB -> luma (BT.601)


def odd_px(n):
    """An odd filter size n (at the 80 px scale) scaled by PX."""
    return 2 * int(round((n - 1) / 2 * PX)) + 1

# --------------------------------------------------------------------------
# CRC-32C (Castagnoli), as include/capscreen/crc32c.h
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# --------------------------------------------------------------------------
# Data loading and the cache

def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_rgb(path, side):
    im = Image.open(path)
    im.draft("RGB", (side, side))  # libjpeg scaled DCT, as the engine decodes
    return im.convert("RGB")


# Where Kvasir-SEG burns its text and marks (date, time, scope settings,
# the row of white progress marks), as shares of the frame's width and
# height: the frames stretched to the cache square put them here (a map of
# light grey pixels over all 1,000 frames shows the lines).
TEXT_ZONE = (0.0, 0.25, 0.04, 0.72)  # x0, x1, y0, y1


def overlay_mask(rgb):
    """Burnt-in overlays of a Kvasir-SEG frame (uint8 HxWx3 at cache size):
    the green ScopeGuide inset (lower left), and the light grey text and
    marks of the text zone. True = overlay. Black borders themselves are
    left: they are part of the field shape, which training randomises for
    every source. Mucosa is red to yellow, so within the zone a light pixel
    of low saturation is text (or a specular highlight, which masking costs
    little)."""
    h, w, _ = rgb.shape
    # int32: differences of channels must not wrap (an int16 luma once did,
    # made bright mucosa "dark" and most of a frame overlay)
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    ovl = np.zeros((h, w), bool)
    # the green inset: strongly green pixels in the lower-left region
    green = (g > r + 25) & (g > b + 25) & (g > 60)
    region = np.zeros((h, w), bool)
    region[int(h * 0.5):, : int(w * 0.45)] = True
    gi = green & region
    if gi.sum() > 0.003 * h * w:
        ys, xs = np.nonzero(gi)
        y0, y1 = np.percentile(ys, 2), np.percentile(ys, 98)
        x0, x1 = np.percentile(xs, 2), np.percentile(xs, 98)
        ovl[int(y0) - 2: int(y1) + 3, max(int(x0) - 2, 0): int(x1) + 3] = True
    # text and marks: light, grey pixels in the text zone, grown by a pixel
    # to take in their anti-aliased edges
    lo = np.minimum(np.minimum(r, g), b)
    hi = np.maximum(np.maximum(r, g), b)
    zone = np.zeros((h, w), bool)
    x0, x1, y0, y1 = TEXT_ZONE
    zone[int(h * y0):int(h * y1), int(w * x0):int(w * x1)] = True
    text = zone & (lo >= 80) & (hi - lo <= 50)
    # strokes are thin: a pixel whose 5x5 square is mostly light grey is in
    # a blob (a pale polyp, a highlight), never masked, nor its rim
    blob = box_sum(text.astype(np.float32), 2) >= 15
    text &= ~(box_sum(blob.astype(np.float32), 2) > 0)
    grown1 = box_sum(text.astype(np.float32), 1) > 0
    return ovl | (grown1 & zone)


def box_sum(a, r):
    """Sum of `a` (HxW or HxWxC float) over the (2r+1)-square around each
    pixel, clipped at the edges (an integral image)."""
    p = np.pad(a, ((r + 1, r), (r + 1, r)) + ((0, 0),) * (a.ndim - 2))
    c = p.cumsum(0).cumsum(1)
    k = 2 * r + 1
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def remove_overlays(img, ovl):
    """`img` with its overlay pixels replaced by the mean of the nearest
    non-overlay pixels (windows of growing size): the text gone, no black
    strokes left in its place (a colonoscopy-only pattern of its own)."""
    if not ovl.any():
        return img.copy()
    out = img.astype(np.float32)
    keep = (~ovl).astype(np.float32)
    todo = ovl.copy()
    for r in (1, 2, 4, 8, 16, 32):
        n = box_sum(keep, r)
        fill = box_sum(out * keep[..., None], r) / np.maximum(n, 1)[..., None]
        ok = todo & (n > 0)
        out[ok] = fill[ok]
        todo &= ~ok
        if not todo.any():
            break
    return out.clip(0, 255).astype(np.uint8)


def build_cache(shared, cache, subset=None):
    """Decode every frame once into cache/frames-v2.npz (v1 held overlay
    masks from an int16 overflow). `subset` (smoke
    runs): (n_kvasir, n_capsule) frames picked by a fixed seed, cached apart."""
    os.makedirs(cache, exist_ok=True)
    size = "" if CACHE_SIDE == 160 else "-s%d" % CACHE_SIDE  # the 80 px model's name kept
    path = os.path.join(cache, ("frames-v2%s.npz" % size) if subset is None else
                        ("frames-v2%s-smoke-%%d-%%d.npz" % size) % subset)
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        return {k: z[k] for k in z.files}
    t0 = time.time()
    kv = os.path.join(shared, "kvasir-seg")
    rows = sorted(read_csv(os.path.join(kv, "labels.csv")), key=lambda r: r["file"])
    wrows = sorted(read_csv(os.path.join(shared, "wcebleedgen", "labels.csv")),
                   key=lambda r: r["file"])
    if subset is not None:
        rng = np.random.RandomState(7)
        rows = [rows[i] for i in sorted(rng.choice(len(rows), subset[0], replace=False))]
        wrows = [wrows[i] for i in sorted(rng.choice(len(wrows), subset[1], replace=False))]
    kimg, kmask, kovl, kgroup, kname = [], [], [], [], []
    for r in rows:
        im = load_rgb(os.path.join(kv, "images", r["file"]), CACHE_SIDE)
        im = im.resize((CACHE_SIDE, CACHE_SIDE), Image.BOX)
        m = Image.open(os.path.join(kv, "masks", r["file"])).convert("L")
        m = m.resize((CACHE_SIDE, CACHE_SIDE), Image.BOX)
        a = np.asarray(im, np.uint8)
        kimg.append(a)
        kmask.append(np.asarray(m, np.uint8))
        kovl.append(overlay_mask(a))
        kgroup.append(int(r["group"]))
        kname.append(r["file"])
    wc = os.path.join(shared, "wcebleedgen")
    wimg, wgroup, wname = [], [], []
    for r in wrows:
        im = load_rgb(os.path.join(wc, "images", r["file"]), CACHE_SIDE)
        wimg.append(np.asarray(im.resize((CACHE_SIDE, CACHE_SIDE), Image.BOX), np.uint8))
        wgroup.append(int(r["group"]))
        wname.append(r["file"])
    d = dict(kimg=np.stack(kimg), kmask=np.stack(kmask), kovl=np.stack(kovl),
             kgroup=np.array(kgroup), kname=np.array(kname),
             wimg=np.stack(wimg), wgroup=np.array(wgroup), wname=np.array(wname))
    # one partial file per process: trainings started side by side on a
    # cold cache each write their own, and the last rename wins (same bytes)
    partial = "%s.%d.partial.npz" % (path, os.getpid())
    np.savez(partial, **d)
    os.replace(partial, path)
    print(f"cache: {len(kimg)} Kvasir-SEG + {len(wimg)} WCEBleedGen frames "
          f"in {time.time() - t0:.0f} s", file=sys.stderr)
    return d


def group_split(groups, k, seed):
    """Assign each distinct group to one of k parts, shuffled by seed."""
    ug = np.unique(groups)
    rng = np.random.RandomState(seed)
    perm = rng.permutation(len(ug))
    part = {int(g): int(i % k) for i, g in zip(range(len(ug)), ug[perm])}
    return np.array([part[int(g)] for g in groups])


# --------------------------------------------------------------------------
# Capsule-style augmentation, applied to every source alike

_FIELD_BANK = []
_RR = {}


def field_mask_bank(seed, n=256):
    """Field masks drawn once (seeded) at cache size; capsule_look picks one
    per sample and resizes it: drawing each afresh would dominate an epoch."""
    if not _FIELD_BANK:
        rng = np.random.RandomState(seed)
        _FIELD_BANK.extend(Image.fromarray((field_mask(rng, CACHE_SIDE) * 255).astype(np.uint8))
                           for _ in range(n))
    return _FIELD_BANK


def radius2(side):
    if side not in _RR:
        yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
        _RR[side] = ((xx - side / 2) ** 2 + (yy - side / 2) ** 2) / (side / 2) ** 2
    return _RR[side]


def field_mask(rng, side):
    """A capsule's field of view: none, round, octagonal or rounded square,
    hard or soft edged. Float HxW in 0..1."""
    kind = rng.choice(4, p=[0.2, 0.35, 0.3, 0.15])
    if kind == 0:
        return np.ones((side, side), np.float32)
    m = Image.new("L", (side * 2, side * 2), 0)
    d = ImageDraw.Draw(m)
    c = side + rng.uniform(-0.06, 0.06) * side * 2
    rad = rng.uniform(0.85, 1.15) * side
    if kind == 1:
        d.ellipse([c - rad, c - rad, c + rad, c + rad], fill=255)
    elif kind == 2:
        cut = rad * rng.uniform(0.25, 0.45)
        pts = [(c - rad + cut, c - rad), (c + rad - cut, c - rad), (c + rad, c - rad + cut),
               (c + rad, c + rad - cut), (c + rad - cut, c + rad), (c - rad + cut, c + rad),
               (c - rad, c + rad - cut), (c - rad, c - rad + cut)]
        d.polygon(pts, fill=255)
    else:
        d.rounded_rectangle([c - rad * 0.92, c - rad * 0.92, c + rad * 0.92, c + rad * 0.92],
                            radius=int(rad * 0.4), fill=255)
    if rng.rand() < 0.5:
        m = m.filter(ImageFilter.GaussianBlur(rng.uniform(2, 10) * PX))
    m = m.resize((side, side), Image.BOX)
    return np.asarray(m, np.float32) / 255.0


def add_bubbles(rng, img):
    """A few translucent bubbles with bright rims and specular dots."""
    side = img.shape[0]
    pil = Image.fromarray(img)
    over = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(over)
    for _ in range(rng.randint(1, 12)):
        r = rng.uniform(0.02, 0.12) * side
        x, y = rng.uniform(0, side, 2)
        d.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 240, int(rng.uniform(90, 220))),
                  width=max(1, int(r * 0.15)), fill=(255, 255, 230, int(rng.uniform(0, 40))))
        s = max(1.0, r * 0.2)
        d.ellipse([x - r * 0.4 - s, y - r * 0.4 - s, x - r * 0.4 + s, y - r * 0.4 + s],
                  fill=(255, 255, 255, 230))
    pil = Image.alpha_composite(pil.convert("RGBA"), over).convert("RGB")
    return np.asarray(pil, np.uint8)


def add_debris(rng, img):
    """Yellow-brown specks and smears (stool, bile)."""
    side = img.shape[0]
    pil = Image.fromarray(img).convert("RGBA")
    over = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(over)
    for _ in range(rng.randint(1, 8)):
        r = rng.uniform(0.01, 0.08) * side
        x, y = rng.uniform(0, side, 2)
        col = (int(rng.uniform(120, 200)), int(rng.uniform(100, 170)), int(rng.uniform(10, 60)),
               int(rng.uniform(120, 230)))
        d.ellipse([x - r, y - r * rng.uniform(0.4, 1), x + r, y + r], fill=col)
    over = over.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5) * PX))
    return np.asarray(Image.alpha_composite(pil, over).convert("RGB"), np.uint8)


def dft_rows(n, b, _kept={}):
    """The DFT's basis on an n-point axis for the frequencies -b..b:
    n x (2b+1) complex, e^(-2 pi i x k / n). Kept per (n, b): few sizes."""
    if (n, b) not in _kept:
        k = np.arange(-b, b + 1)
        _kept[(n, b)] = np.exp(-2j * np.pi * np.outer(np.arange(n), k) / n)
    return _kept[(n, b)]


def swap_low_amplitude(f, ref, b, a):
    """f, ref float HxWx3 -> f (float64) with the amplitude of its
    frequencies -b..b on both axes (the (2b+1)^2 window around the DC term)
    blended a of the way to ref's, each channel's phase kept (--swap-kind
    fourier). Only that window changes, so only it is computed: the window's
    spectrum by two small matrix products, and its change taken back to the
    pixels the same way, added to f. The whole-image FFT this replaces
    (fft2, amplitude and phase, ifft2 of every frequency) gives the same
    uint8 frame after rounding (checked on 20,000 swaps of cached frames
    and sizes, tests/tools/test_polyp_fourier.py) at a quarter of the time:
    the swap was half of a training epoch."""
    h, w = f.shape[:2]
    ey, ex = dft_rows(h, b), dft_rows(w, b)
    out = np.empty((h, w, 3))
    for c in range(3):
        fs = ey.T @ f[..., c] @ ex  # the window of fft2, DC at [b, b]
        fr = ey.T @ ref[..., c] @ ex
        amp = np.abs(fs)
        want = (1 - a) * amp + a * np.abs(fr)
        # the phase as a unit number; a zero coefficient has phase 0
        unit = np.where(amp > 0, fs / np.where(amp > 0, amp, 1.0), 1.0)
        change = want * unit - fs
        out[..., c] = f[..., c] + (ey.conj() @ change @ ex.conj().T).real / (h * w)
    return out


def capsule_look(rng, img, mask):
    """img uint8 SxSx3, mask float SxS (cache size) -> network input size.
    Geometry first (crop, flips, rotation), then the capsule's optics.
    A share (LIGHT_SHARE) of samples, of every source alike, gets a light
    version (no blur, bubbles, debris or drawn field; mild colour): frames
    as a sharper camera shows them, so that outlining on colonoscopy frames
    is learnt too and lightness is no cue to the source."""
    s = img.shape[0]
    light = LIGHT_SHARE > 0 and rng.rand() < LIGHT_SHARE
    # crop: scale and position
    sc = rng.uniform(0.85 if light else 0.7, 1.0)
    cw = int(s * sc * rng.uniform(0.9, 1.1))
    ch = int(s * sc * rng.uniform(0.9, 1.1))
    cw, ch = min(cw, s), min(ch, s)
    x0 = rng.randint(0, s - cw + 1)
    y0 = rng.randint(0, s - ch + 1)
    img = img[y0:y0 + ch, x0:x0 + cw]
    mask = mask[y0:y0 + ch, x0:x0 + cw]
    k = rng.randint(4)
    img = np.rot90(img, k)
    mask = np.rot90(mask, k)
    if rng.rand() < 0.5:
        img = img[:, ::-1]
        mask = mask[:, ::-1]
    # the capsule's resolution: 200-336 px frames, i.e. softer than colonoscopy;
    # 1-1.6x the input side (80-128 px for the 80 px input)
    work = int(rng.uniform(1.0, 1.6) * IN)
    pil = Image.fromarray(np.ascontiguousarray(img)).resize((work, work), Image.BOX)
    if not light and rng.rand() < 0.4:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6) * PX))
    a = np.asarray(pil, np.uint8)
    if not light and rng.rand() < 0.35:
        a = add_bubbles(rng, a)
    if not light and rng.rand() < 0.25:
        a = add_debris(rng, a)
    a = a.astype(np.float32)
    # colour balance, brightness, gamma
    cg, bg, gm = (0.1, (0.85, 1.15), (0.85, 1.15)) if light else (0.2, (0.6, 1.3), (0.7, 1.4))
    gains = rng.uniform(1 - cg, 1 + cg, 3) * rng.uniform(*bg)
    a = a * gains
    a = 255.0 * np.clip(a / 255.0, 0, 1) ** rng.uniform(*gm)
    # vignetting and the field of view
    rr = radius2(work)
    vig = 1.0 - rng.uniform(0, 0.15 if light else 0.6) * np.clip(rr, 0, 2) / 2
    bank = field_mask_bank(1234)
    fm = np.asarray(bank[rng.randint(len(bank))].resize((work, work), Image.BOX),
                    np.float32) / 255.0
    if light:
        fm = np.ones_like(fm)
    a = a * (vig * fm)[..., None] + rng.uniform(0, 10) * (1 - fm)[..., None]
    a += rng.normal(0, rng.uniform(0, 1.5 if light else 4), a.shape)
    a = np.clip(a + 0.5, 0, 255).astype(np.uint8)
    pil = Image.fromarray(a)
    # JPEG history at the capsule's size, then the engine's area resize
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=int(rng.randint(80 if light else 50, 96)))
    pil = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").resize((IN, IN), Image.BOX)
    m = Image.fromarray(np.ascontiguousarray(mask * 255).astype(np.uint8)).resize((OUT, OUT), Image.BOX)
    fm_in = np.asarray(Image.fromarray((fm * 255).astype(np.uint8)).resize((OUT, OUT), Image.BOX),
                       np.float32) / 255.0
    mask = (np.asarray(m, np.float32) / 255.0 >= 0.5) & (fm_in > 0.5)
    return np.asarray(pil, np.uint8), mask.astype(np.float32)


def polyp_cutout(rng, kimg, kmask, target_side):
    """Cut a polyp with its mask and some context; scaled so the polyp's box
    side is target_side. Returns (rgb uint8, alpha float, label mask float)."""
    m = kmask >= 128
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    scale = target_side / max(side, 1)
    mg = int(side * rng.uniform(0.05, 0.2))
    s = kimg.shape[0]
    y0, y1, x0, x1 = max(y0 - mg, 0), min(y1 + mg, s), max(x0 - mg, 0), min(x1 + mg, s)
    crop = Image.fromarray(kimg[y0:y1, x0:x1])
    mcrop = Image.fromarray(kmask[y0:y1, x0:x1])
    nw, nh = max(int((x1 - x0) * scale), 4), max(int((y1 - y0) * scale), 4)
    crop = crop.resize((nw, nh), Image.BILINEAR)
    mcrop = mcrop.resize((nw, nh), Image.BILINEAR)
    lab = np.asarray(mcrop, np.float32) / 255.0
    # soft alpha: the mask grown a little and feathered
    grow = mcrop.filter(ImageFilter.MaxFilter(odd_px(3) if nw < 40 * PX else odd_px(5)))
    alpha = grow.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 3.5) * PX))
    return np.asarray(crop, np.float32), np.asarray(alpha, np.float32) / 255.0, lab


def background_cutout(rng, kimg, kmask, target_side):
    """A blob of colonoscopy background (no polyp) with the same feathering:
    pasted as a negative, so a pasting seam never means 'polyp'."""
    s = kimg.shape[0]
    for _ in range(10):
        w = int(rng.uniform(0.2, 0.45) * s)
        x0, y0 = rng.randint(0, s - w), rng.randint(0, s - w)
        if kmask[y0:y0 + w, x0:x0 + w].max() < 128:
            break
    else:
        return None
    crop = Image.fromarray(kimg[y0:y0 + w, x0:x0 + w]).resize((target_side, target_side),
                                                                Image.BILINEAR)
    blob = Image.new("L", (target_side, target_side), 0)
    d = ImageDraw.Draw(blob)
    e = target_side * rng.uniform(0.1, 0.25)
    d.ellipse([e, e * rng.uniform(0.5, 1.5), target_side - e, target_side - e], fill=255)
    alpha = blob.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 3.5) * PX))
    return (np.asarray(crop, np.float32), np.asarray(alpha, np.float32) / 255.0,
            np.zeros((target_side, target_side), np.float32))


def paste(rng, bg, cut, centre=None):
    """Blend a cutout into a capsule frame (both at cache size), matching its
    colour partly to the local background. Returns (img, label mask 0..1).
    The place is drawn, or given as the cutout's centre (x, y) in pixels
    (tools/polyp_size_sensitivity.py: one place for every size), moved in
    as far as the frame needs."""
    rgb, alpha, lab = cut
    h, w = alpha.shape
    s = bg.shape[0]
    if centre is None:
        x0 = rng.randint(int(s * 0.1), max(int(s * 0.9) - w, int(s * 0.1)) + 1)
        y0 = rng.randint(int(s * 0.1), max(int(s * 0.9) - h, int(s * 0.1)) + 1)
    else:
        x0, y0 = max(int(round(centre[0] - w / 2)), 0), max(int(round(centre[1] - h / 2)), 0)
    x0, y0 = min(x0, s - w), min(y0, s - h)
    if x0 < 0 or y0 < 0:
        return None
    out = bg.astype(np.float32).copy()
    region = out[y0:y0 + h, x0:x0 + w]
    a = alpha[..., None]
    # shift the cutout's mean colour toward the local background's
    wsum = alpha.sum() + 1e-6
    cm = (rgb * a).sum((0, 1)) / wsum
    bm = region.reshape(-1, 3).mean(0)
    rgb = np.clip(rgb + rng.uniform(0.3, 0.9) * (bm - cm), 0, 255)
    out[y0:y0 + h, x0:x0 + w] = region * (1 - a) + rgb * a
    label = np.zeros((s, s), np.float32)
    label[y0:y0 + h, x0:x0 + w] = lab
    return out.astype(np.uint8), label


# --------------------------------------------------------------------------
# The network: a compact U-Net of depthwise-separable convolutions.
# The C engine rebuilds exactly this graph (src/engine/polyp_net.c); keep the
# layer list in step with it and with docs/engine.md.

class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.act else x


class DS(nn.Module):
    """Depthwise 3x3 (+BN+ReLU), pointwise 1x1 (+BN+ReLU)."""
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.dw = ConvBN(cin, cin, 3, stride, groups=cin)
        self.pw = ConvBN(cin, cout, 1)

    def forward(self, x):
        return self.pw(self.dw(x))


class PolypNet(nn.Module):
    """IN x IN input (80 shipped); heatmap logits at half the input side."""
    def __init__(self, w=None):
        super().__init__()
        w = WIDTHS if w is None else w
        c0, c1, c2, c3 = w
        self.enc0 = ConvBN(3, c0, 3, 2)      # 40
        self.enc1 = DS(c0, c1, 2)            # 20
        self.enc1b = DS(c1, c1)
        self.enc2 = DS(c1, c2, 2)            # 10
        self.enc2b = DS(c2, c2)
        self.enc3 = DS(c2, c3, 2)            # 5
        self.enc3b = DS(c3, c3)
        self.enc3c = DS(c3, c3)
        self.dec2 = DS(c3 + c2, c2)          # 10
        self.dec1 = DS(c2 + c1, c1)          # 20
        self.dec0 = DS(c1 + c0, c0)          # 40
        self.head = nn.Conv2d(c0, 1, 1, bias=True)

    def forward(self, x, features=False, mix=None, mix_levels=None):
        """mix (training only, --mixstyle): a function applied to the
        shallow features named in mix_levels ("enc0": after enc0, "enc1":
        after enc1b; None: both) that mixes their style."""
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")
        same = lambda t: t
        levels = MIXSTYLE_LEVELS if mix_levels is None else mix_levels
        keep0 = mix if mix is not None and "enc0" in levels else same
        keep1 = mix if mix is not None and "enc1" in levels else same
        e0 = keep0(self.enc0(x))
        e1 = keep1(self.enc1b(self.enc1(e0)))
        e2 = self.enc2b(self.enc2(e1))
        e3 = self.enc3c(self.enc3b(self.enc3(e2)))
        d2 = self.dec2(torch.cat([up(e3), e2], 1))
        d1 = self.dec1(torch.cat([up(d2), e1], 1))
        d0 = self.dec0(torch.cat([up(d1), e0], 1))
        logits = self.head(d0)[:, 0]
        if not features:
            return logits
        # every level's channels, averaged over the image: what the
        # source head (training only, --domain-weight) sees
        pooled = torch.cat([t.mean((2, 3)) for t in (e0, e1, e2, e3, d2, d1, d0)], 1)
        return logits, pooled


class GradReverse(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by -lam."""
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


class SourceHead(nn.Module):
    """Domain-adversarial head (training only, never exported): guesses
    from a polyp-free sample's pooled features whether it came from a
    colonoscopy or a capsule frame. Behind a gradient reversal, training it
    makes the network's features carry as little of the source as it can
    (Ganin and Lempitsky, ICML 2015)."""
    def __init__(self, w=None):
        super().__init__()
        c0, c1, c2, c3 = WIDTHS if w is None else w
        n = c0 + c1 + c2 + c3 + c2 + c1 + c0
        self.fc = nn.Sequential(nn.Linear(n, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, pooled, lam):
        return self.fc(GradReverse.apply(pooled, lam))[:, 0]


def to_input(batch_u8):
    """uint8 NxHxWx3 -> float NCHW as the engine feeds it: rgb/127.5 - 1."""
    t = torch.from_numpy(np.ascontiguousarray(batch_u8)).float()
    return t.permute(0, 3, 1, 2).contiguous() / 127.5 - 1.0


def frame_logit(logits):
    """Frame-level logit: the mean of the TOPK largest pixel logits."""
    flat = logits.reshape(logits.shape[0], -1)
    return flat.topk(TOPK, dim=1).values.mean(1)


def colon_context(kind):
    """Whether each sample's frame is a colonoscopy frame (Kvasir-SEG
    frames, background crops, copy-filled frames) rather than a capsule
    frame (capsule negatives, pasted polyps and pasted backgrounds)."""
    return (kind == KINDS["k"]) | (kind == KINDS["kb"]) | (kind == KINDS["ki"])


# --source-label-balance: how the loss is weighted so that the label says
# nothing about the source (trials, docs/polyp-trials.md, "The label
# independent of the source"; negatives: "N: the label independent of the
# source, polyp frames untouched")
SOURCE_LABEL_BALANCE = ("off", "frame", "pixel", "negatives")


def frame_labels(masks):
    """Which samples are polyp frames: a polyp of at least 4 heatmap cells
    in the sample's mask (numpy or torch, (n, OUT, OUT)). Training's frame
    label, and the one --source-label-balance weighs."""
    return masks.reshape(len(masks), -1).sum(1) >= 4


def independence_weights(source, label):
    """Reweighing (Kamiran and Calders, 2012): a weight for each item such
    that, over the items, the label is independent of the source while
    both keep their shares: P(s) P(y) / P(s, y) for the item's cell.
    `source` and `label` are boolean arrays of one shape; a cell with no
    items needs no weight, and then the others are scaled to mean 1 (with
    every cell filled the mean is 1 as they stand). Returns float32
    weights."""
    w = np.ones(source.shape, np.float32)
    n = source.size
    empty = False
    for s in (False, True):
        for y in (False, True):
            cell = (source == s) & (label == y)
            if cell.any():
                w[cell] = np.float32((source == s).sum() * (label == y).sum() / (n * cell.sum()))
            else:
                empty = True
    return (w / w.mean()).astype(np.float32) if empty and n else w


def negative_weights(source, label):
    """Reweighing of the label-0 items only: each label-1 item keeps weight
    1, and each label-0 item of source s weighs (n_s1 / n_s0) (n_0 / n_1),
    so that over the items the label is independent of the source (the
    share of label 1 is n_1 / n in both) and the label-0 items' weights sum
    to n_0 (mean 1 over all). Unlike independence_weights the sources do
    not keep their shares: a source weighs in proportion to its label-1
    items. A source without items of both labels keeps weight 1 (there is
    nothing to balance in it), and then all are scaled to mean 1. Returns
    float32 weights."""
    w = np.ones(source.shape, np.float32)
    n1, n0 = int(label.sum()), int((~label).sum())
    empty = n1 == 0 or n0 == 0
    for s in (False, True):
        pos, neg = (source == s) & label, (source == s) & ~label
        if pos.any() and neg.any() and not empty:
            w[neg] = np.float32(pos.sum() * n0 / (neg.sum() * n1))
        elif pos.any() or neg.any():
            empty = True
    return (w / w.mean()).astype(np.float32) if empty and w.size else w


def balance_note(masks, kinds, fw, cw):
    """The log's account of --source-label-balance's weights: each
    (context, label) cell's frame weight and, per context, the share of
    polyp cells before and after weighting."""
    colon = colon_context(kinds)
    y = frame_labels(masks)
    parts = []
    for name, c in (("colon", colon), ("capsule", ~colon)):
        for lab, yy in (("+", y), ("-", ~y)):
            cell = c & yy
            parts.append(f"{name}{lab} {int(cell.sum())}x{fw[cell].mean() if cell.any() else 0:.2f}")
        pos = masks[c] >= 0.5
        parts.append(f"{name} polyp cells {pos.mean():.3f}->"
                     f"{(cw[c] * pos).sum() / max(cw[c].sum(), 1e-9):.3f}")
    return "balance " + ", ".join(parts)


def source_label_weights(masks, kinds, mode):
    """The epoch's loss weights for --source-label-balance `mode` (not
    "off"): per sample (frame: the frame label, frame_labels,
    independent of the colonoscopy or capsule context) and
    per heatmap cell (pixel: each cell's label independent of its frame's
    context, as "pixel"; as "frame", each sample's frame weight over all
    its cells; "negatives": as "frame", but only the polyp-free samples
    are reweighed, every polyp sample keeps weight 1, negative_weights).
    Every polyp in the data is a colonoscopy polyp and most
    polyp frames are colonoscopy frames, so unweighted, colonoscopy wall
    carries a higher prior of "polyp" than capsule wall: the whole-frame
    offset that the source measures find. Returns (frame weights (n,),
    cell weights (n, OUT, OUT)), float32, each of mean 1."""
    colon = colon_context(kinds)
    if mode == "negatives":
        fw = negative_weights(colon, frame_labels(masks))
        return fw, np.broadcast_to(fw[:, None, None], masks.shape).astype(np.float32)
    fw = independence_weights(colon, frame_labels(masks))
    if mode == "frame":
        return fw, np.broadcast_to(fw[:, None, None], masks.shape).astype(np.float32)
    cell_colon = np.broadcast_to(colon[:, None, None], masks.shape)
    return fw, independence_weights(cell_colon, masks >= 0.5)


MIXSTYLE_ALPHA = 0.1  # Beta(a, a) for the mixing weight, as Zhou et al. (2021)
# the shallow levels whose style --mixstyle mixes; --mixstyle-levels enc0
# keeps the mixing to the first level, where colour and sharpness are coded
MIXSTYLE_LEVELS = ("enc0", "enc1")
# which samples --mixstyle mixes: every one, or only the polyp-free ones
# (--mixstyle-samples polyp-free: the source cue lives on polyp-free
# frames, and a small polyp's own style is part of what shows it)
MIXSTYLE_SAMPLES = ("all", "polyp-free")


def cross_source_mixstyle(rng, kind, eligible=None):
    """MixStyle across the two sources (Zhou et al., "Domain generalization
    with MixStyle", ICLR 2021), training only: each sample's feature
    statistics (per-channel mean and standard deviation over the image)
    are mixed with those of a random sample of the *other* source in the
    batch, by a weight drawn from Beta(0.1, 0.1) (mostly near 0 or 1: a
    sample often takes the other source's style whole). The network thus
    sees colonoscopy content with capsule feature style and the reverse,
    so the style of shallow features cannot tell it the source. None when
    the batch lacks either source. `rng` is numpy's, so the draw is seeded.

    eligible (--mixstyle-samples polyp-free): a boolean array; only those
    samples mix, and only with each other; the rest keep their own style
    (weight 1). None: every sample, the draws as before the option."""
    colon = colon_context(kind).numpy()
    pool = np.ones(len(colon), bool) if eligible is None else np.asarray(eligible, bool)
    ci, wi = np.flatnonzero(colon & pool), np.flatnonzero(~colon & pool)
    if len(ci) == 0 or len(wi) == 0:
        return None
    partner = np.where(colon, rng.choice(wi, len(colon)), rng.choice(ci, len(colon)))
    lam_np = rng.beta(MIXSTYLE_ALPHA, MIXSTYLE_ALPHA, len(colon)).astype(np.float32)
    if eligible is not None:
        lam_np[~pool] = 1.0  # a polyp sample's style stays its own
        partner = np.where(pool, partner, np.arange(len(colon)))
    lam = torch.from_numpy(lam_np).view(-1, 1, 1, 1)
    partner = torch.from_numpy(partner)

    def mix(t):
        mu = t.mean((2, 3), keepdim=True).detach()
        sig = (t.var((2, 3), keepdim=True) + 1e-6).sqrt().detach()
        norm = (t - mu) / sig
        return norm * (lam * sig + (1 - lam) * sig[partner]) + lam * mu + (1 - lam) * mu[partner]
    return mix


# --------------------------------------------------------------------------
# Sampling an epoch

class Sampler:
    def __init__(self, data, kidx, widx, seed):
        self.d = data
        self.kidx = kidx      # Kvasir frames usable for training
        self.widx = widx      # capsule frames usable for training
        self.seed = seed
        self._stats = {}
        self._copy_fillable = None  # --inpaint-kind copy: frames whose polyp a copy can cover

    def kvasir(self, rng, i, masked=None):
        img = self.d["kimg"][i].copy()
        m = self.d["kmask"][i].astype(np.float32) / 255.0
        if masked is None:
            masked = rng.rand() < 0.5
        if masked:  # the overlays, sometimes removed: never a cue
            img = without_overlays(self.d, "frame", i).copy()
            if OVERLAY_MEASURES:  # and no polyp under a removed overlay pixel
                m = m * ~self.d["kovl"][i]
        return img, m

    def colour_stats(self, key):
        """Per-frame colour statistics (mean, sd of R, G, B over the lit
        field, luma > 20) of every cached frame of one source, once."""
        if key not in self._stats:
            st = []
            for img in self.d[key]:
                f = img.reshape(-1, 3).astype(np.float32)
                lit = f[f @ LUMA > 20]
                lit = lit if len(lit) > 100 else f
                st.append((lit.mean(0), lit.std(0) + 1.0))
            self._stats[key] = st
        return self._stats[key]

    def colour_swap(self, rng, img, capsule_context):
        """With probability COLOUR_SWAP, give the sample the colour
        statistics (per-channel mean and sd over the lit field) of a random
        training frame of the other source, blended in by 50-100%: colour
        then tells nothing about the source, only shape and texture remain
        (Reinhard-style transfer, in RGB). Black borders stay black."""
        if COLOUR_SWAP <= 0 or rng.rand() >= COLOUR_SWAP:
            return img
        if SWAP_KIND == "fourier":
            return self.fourier_swap(rng, img, capsule_context)
        if capsule_context:  # capsule frame (pasted or not): Kvasir-SEG colours
            ref = self.colour_stats("kimg")[self.kidx[rng.randint(len(self.kidx))]]
        else:
            ref = self.colour_stats("wimg")[self.widx[rng.randint(len(self.widx))]]
        f = img.astype(np.float32)
        lit = (f @ LUMA) > 20
        px = f[lit] if lit.sum() > 100 else f.reshape(-1, 3)
        mu, sd = px.mean(0), px.std(0) + 1.0
        out = (f - mu) / sd * ref[1] + ref[0]
        a = rng.uniform(0.5, 1.0)
        f = np.where(lit[..., None], f + a * (out - f), f)
        return np.clip(f + 0.5, 0, 255).astype(np.uint8)

    def fourier_swap(self, rng, img, capsule_context):
        """--swap-kind fourier: the low-frequency amplitude spectrum of a
        random training frame of the other source replaces the sample's
        (per channel, a (2b+1)^2 window around the DC term, b = 0.6-2.5 % of
        the side, blended in by 50-100 %), the phase stays (Fourier domain
        adaptation, Yang and Soatto, CVPR 2020): colour, illumination and
        large-scale shading of the other source, the sample's own
        structure. Black borders stay black."""
        if capsule_context:
            ref = self.d["kimg"][self.kidx[rng.randint(len(self.kidx))]]
        else:
            ref = self.d["wimg"][self.widx[rng.randint(len(self.widx))]]
        h, w = img.shape[:2]
        if ref.shape[:2] != (h, w):
            ref = np.asarray(Image.fromarray(ref).resize((w, h), Image.BILINEAR))
        f = img.astype(np.float32)
        b = max(1, int(min(h, w) * rng.uniform(0.006, 0.025)))
        a = rng.uniform(0.5, 1.0)
        out = swap_low_amplitude(f, ref.astype(np.float32), b, a)
        lit = (f @ LUMA) > 20
        f = np.where(lit[..., None], out, f)
        return np.clip(f + 0.5, 0, 255).astype(np.uint8)

    def has_overlay(self, i):
        return self.d["kovl"][i].mean() > 0.005

    def pasted(self, rng, positive):
        w = self.widx[rng.randint(len(self.widx))]
        k = self.kidx[rng.randint(len(self.kidx))]
        side = int(rng.uniform(*PASTE_SIDE) * CACHE_SIDE)
        cut = (polyp_cutout if positive else background_cutout)(
            rng, self.d["kimg"][k], self.d["kmask"][k], side)
        if cut is None:
            return None
        return paste(rng, self.d["wimg"][w], cut)

    def kvasir_background(self, rng):
        """A polyp-free crop of a Kvasir-SEG frame, as a negative: the
        colonoscopy context itself must not raise the score."""
        k = self.kidx[rng.randint(len(self.kidx))]
        m = self.d["kmask"][k] >= 128
        s = CACHE_SIDE
        for _ in range(12):
            w = int(rng.uniform(0.3, 0.6) * s)
            x0, y0 = rng.randint(0, s - w + 1), rng.randint(0, s - w + 1)
            if not m[y0:y0 + w, x0:x0 + w].any():
                src = without_overlays(self.d, "frame", k) if rng.rand() < 0.5 else self.d["kimg"][k]
                return src[y0:y0 + w, x0:x0 + w].copy(), np.zeros((w, w), np.float32)
        return None

    def kvasir_inpainted(self, rng):
        """A whole Kvasir-SEG frame with its polyp inpainted (as the
        source_auroc_inpainted check does), as a negative: colon wall at
        the whole frame's scale, not only the crops of kvasir_background.
        """
        if INPAINT_KIND == "copy":
            fillable = self.copy_fillable("--inpaint-kind copy")
            k = fillable[rng.randint(len(fillable))]
            img = copy_inpainted_kvasir(self.d, k).copy()
        else:
            k = int(self.kidx[rng.randint(len(self.kidx))])
            img = inpainted_kvasir(self.d, k).copy()
        if rng.rand() < 0.5:
            img = without_overlays(self.d, "copy" if INPAINT_KIND == "copy" else "blur", k).copy()
        return img, np.zeros(img.shape[:2], np.float32)

    def copy_fillable(self, option):
        """The training frames whose polyp copy_inpainted_kvasir can cover
        (found once); a clear stop when there are none."""
        if self._copy_fillable is None:
            self._copy_fillable = [int(k) for k in self.kidx
                                   if copy_inpainted_kvasir(self.d, int(k)) is not None]
        if not self._copy_fillable:
            raise SystemExit(f"train_polyp: {option}: no training frame's polyp can be covered "
                             "by a shifted copy of its own wall")
        return self._copy_fillable

    def polyp_pair(self, rng):
        """--polyp-pairs: a copy-fillable Kvasir-SEG frame twice under one
        draw of every augmentation, with its polyp and with the polyp
        covered by its own wall (copy_inpainted_kvasir), the overlays
        removed in both or in neither. Returns the two (img, mask),
        before augmentation: the caller draws one augmentation for both,
        so that the pair differs only where the polyp was."""
        fillable = self.copy_fillable("--polyp-pairs")
        k = fillable[rng.randint(len(fillable))]
        hide = rng.rand() < 0.5  # the overlays, sometimes removed: the same in both
        out = []
        for kind, img, m in (("frame", self.d["kimg"][k], self.d["kmask"][k].astype(np.float32) / 255.0),
                             ("copy", copy_inpainted_kvasir(self.d, k),
                              np.zeros(self.d["kmask"][k].shape, np.float32))):
            out.append(((without_overlays(self.d, kind, k) if hide else img).copy(), m))
        return out

    def epoch(self, ep, n_kv, n_neg, n_paste_pos, n_paste_neg, n_kv_bg=0, n_kv_inp=0,
              n_pairs=0):
        """One epoch's samples, shuffled. Returns (x uint8 NxINxINx3, masks
        NxOUTxOUT, kind N, pair N). kind: the sample's source (KINDS);
        pair[i] = 1 when sample i+1 is the same Kvasir-SEG frame under the
        same augmentation with its overlays removed (the consistency
        pairs), 2 when sample i+1 is sample i with its polyp covered by its
        own wall (--polyp-pairs), else 0."""
        rng = np.random.RandomState(self.seed * 1000 + ep)
        plan = ([("k", int(i)) for i in rng.choice(self.kidx, n_kv, replace=False)] +
                [("w", int(i)) for i in rng.choice(self.widx, n_neg, replace=False)] +
                [("pp", 0)] * n_paste_pos + [("pn", 0)] * n_paste_neg + [("kb", 0)] * n_kv_bg +
                [("ki", 0)] * n_kv_inp + [("kp", 0)] * n_pairs)
        order = rng.permutation(len(plan))
        xs, ms, kinds, pairs = [], [], [], []
        for j in order:
            kind, i = plan[j]
            if kind == "k" and OVERLAY_MEASURES and self.has_overlay(i) and \
                    rng.rand() < PAIR_SHARE:
                # the same frame and augmentation, with and without overlays
                st = rng.get_state()
                for masked in (False, True):
                    rng.set_state(st)
                    img, m = self.kvasir(rng, i, masked)
                    img, m = corner_patch(rng, img, m)
                    a, mm = capsule_look(rng, img, m)
                    xs.append(a)
                    ms.append(mm)
                    kinds.append(KINDS["k"])
                    pairs.append(0 if masked else 1)
                continue
            if kind == "kp":
                both = self.polyp_pair(rng)
                st = rng.get_state()
                for j, (img, m) in enumerate(both):
                    rng.set_state(st)
                    img = self.colour_swap(rng, img, False)
                    img, m = corner_patch(rng, img, m)
                    img, m = overlay_lookalike(rng, img, m)
                    a, mm = capsule_look(rng, img, m)
                    xs.append(a)
                    ms.append(mm)
                    kinds.append(KINDS["k"] if j == 0 else KINDS["ki"])
                    pairs.append(2 if j == 0 else 0)
                continue
            if kind == "k":
                img, m = self.kvasir(rng, i)
            elif kind == "w":
                img = self.d["wimg"][i]
                if CAPSULE_ZOOM > 0 and rng.rand() < CAPSULE_ZOOM:
                    # a close-up crop, as the Kvasir-SEG background crops
                    # are: zoom must not tell the sources apart
                    s = CACHE_SIDE
                    w = int(rng.uniform(0.3, 0.6) * s)
                    x0, y0 = rng.randint(0, s - w + 1), rng.randint(0, s - w + 1)
                    img = img[y0:y0 + w, x0:x0 + w]
                m = np.zeros(img.shape[:2], np.float32)
            elif kind == "ki":
                img, m = self.kvasir_inpainted(rng)
            elif kind == "kb":
                r = self.kvasir_background(rng)
                if r is None:
                    continue
                img, m = r
            else:
                r = self.pasted(rng, kind == "pp")
                if r is None:
                    continue
                img, m = r
            img = self.colour_swap(rng, img, kind in ("w", "pp", "pn"))
            img, m = corner_patch(rng, img, m)
            img, m = overlay_lookalike(rng, img, m)
            a, mm = capsule_look(rng, img, m)
            xs.append(a)
            ms.append(mm)
            kinds.append(KINDS[kind])
            pairs.append(0)
        return np.stack(xs), np.stack(ms), np.array(kinds), np.array(pairs)


KINDS = dict(k=0, w=1, pp=2, pn=3, kb=4, ki=5)
# The overlay measures (--overlay-measures; off in the shipped recipe, see
# the model card): overlay pairs, black corner patches, and no polyp label
# under removed overlay pixels.
OVERLAY_MEASURES = False
PAIR_SHARE = 0.35    # share of Kvasir-SEG frames with overlays seen twice
CORNER_SHARE = 0.15  # share of samples (every source) with a black corner patch
LIGHT_SHARE = 0.0    # share of samples (every source) with the light look (--light-share)
COLOUR_SWAP = 0.5    # share of samples given the other source's colours (--colour-swap)
OVERLAY_LOOKALIKES = 0.0  # share of samples (every source) with overlay look-alikes
SWAP_KIND = "colour" # how: colour statistics, or low-frequency amplitude (--swap-kind)
CAPSULE_ZOOM = 0.0   # share of capsule negatives as close-up crops (--capsule-zoom)
PASTE_NEGATIVES = 150    # pasted colonoscopy background per epoch (--paste-negatives)
PASTE_SIDE = (0.22, 0.6) # box side of a pasted polyp or background, share of the frame (--paste-side)
KVASIR_BACKGROUND = 350  # polyp-free Kvasir-SEG crops per epoch (--kvasir-background)
CAPSULE_NEGATIVES = 600  # capsule frames per epoch (--capsule-negatives)
KVASIR_INPAINTED = 0     # whole Kvasir-SEG frames, polyp inpainted, per epoch (--kvasir-inpainted)
INPAINT_KIND = "blur"    # how those training frames are filled (--inpaint-kind)
POLYP_PAIRS = 0          # Kvasir-SEG frames per epoch seen with and without their polyp (--polyp-pairs)
PAIR_WEIGHT = 1.0        # weight of polyp_pair_loss (--pair-weight)
SOURCE_TAU = 0.5     # temperature (logits) of the soft AUROC in source_rank_loss


def overlay_lookalike(rng, img, m):
    """--overlay-lookalikes P: on a share P of the samples of every source,
    what colonoscopy overlays look like: a black rectangle in a corner (a
    blacked-out or absent inset; no polyp under it) and/or lines of light
    text and marks along an edge (the burnt-in corner text). Capsule frames
    then carry them as often as colonoscopy frames, so neither is a cue to
    the source or to a polyp."""
    if OVERLAY_LOOKALIKES <= 0 or rng.rand() >= OVERLAY_LOOKALIKES:
        return img, m
    s = img.shape[0]
    r = rng.rand()
    if r < 0.6:
        img, m = black_corner_rect(rng, img, m)
    if r >= 0.4:  # text: rows of short light strokes near an edge
        pil = Image.fromarray(img)
        d = ImageDraw.Draw(pil)
        lv = int(rng.uniform(170, 255))
        col = (lv, lv, lv) if rng.rand() < 0.8 else (lv, lv, int(lv * 0.6))
        x = int(s * rng.uniform(0.01, 0.05)) if rng.rand() < 0.5 else int(s * rng.uniform(0.6, 0.8))
        y = int(s * rng.uniform(0.01, 0.08)) if rng.rand() < 0.5 else int(s * rng.uniform(0.6, 0.8))
        ch = max(2, int(s * rng.uniform(0.025, 0.045)))  # character height
        for _ in range(rng.randint(1, 6)):
            cx = x
            for _ in range(rng.randint(2, 9)):
                cw = max(1, int(ch * rng.uniform(0.4, 0.8)))
                if rng.rand() < 0.85:
                    x1, y1 = cx + cw, y + ch
                    k = rng.randint(4)
                    if k == 0:
                        d.rectangle([cx, y, x1, y1], outline=col)
                    elif k == 1:
                        d.line([cx, y, x1, y1], fill=col)
                    elif k == 2:
                        d.line([cx, y1, cx + cw // 2, y, x1, y1], fill=col)
                    else:
                        d.line([cx, y, cx, y1, x1, y1], fill=col)
                cx += cw + max(1, ch // 4)
            y += int(ch * 1.5)
        img = np.asarray(pil).copy()
    return img, m


def corner_patch(rng, img, m):
    """A black rectangle in a corner, on samples of every source
    (CORNER_SHARE): what a blacked-out ScopeGuide inset looks like, so that
    a masked overlay is no cue to source or score. Pixels under it are no
    polyp."""
    if not OVERLAY_MEASURES or rng.rand() >= CORNER_SHARE:
        return img, m
    return black_corner_rect(rng, img, m)


def black_corner_rect(rng, img, m):
    """Black out a random rectangle (15-35 % high, 15-40 % wide) in a random
    corner of a copy of img, and clear the polyp mask under it."""
    s = img.shape[0]
    h, w = int(s * rng.uniform(0.15, 0.35)), int(s * rng.uniform(0.15, 0.4))
    y0 = 0 if rng.rand() < 0.5 else s - h
    x0 = 0 if rng.rand() < 0.5 else s - w
    img = img.copy()
    img[y0:y0 + h, x0:x0 + w] = 0
    m = m.copy()
    m[y0:y0 + h, x0:x0 + w] = 0
    return img, m


def channels_last(t):
    return t.contiguous(memory_format=torch.channels_last)


def source_rank_loss(fl, yb, kind):
    """How well the frame logit ranks polyp-free Kvasir-SEG samples above
    polyp-free capsule samples: (soft AUROC - 0.5)^2 over the pairs in the
    batch (0 when either side is missing). On frames without a polyp the
    score must not tell the two sources apart. Only the Kvasir-SEG side
    moves (the capsule side is detached): capsule frames are what the
    detector reads, and their negatives must not be pulled up."""
    kv = fl[(yb == 0) & colon_context(kind)]
    cap = fl[(yb == 0) & (kind == KINDS["w"])].detach()
    if len(kv) == 0 or len(cap) == 0:
        return fl.sum() * 0
    soft = torch.sigmoid((kv[:, None] - cap[None, :]) / SOURCE_TAU).mean()
    return (soft - 0.5) ** 2


def sample_levels(logits):
    """Each sample's heatmap level: the mean of its middle half of cell
    logits (a median that every one of those cells feeds)."""
    flat = logits.reshape(len(logits), -1)
    n = flat.shape[1]
    return flat.sort(dim=1).values[:, n // 4:n - n // 4].mean(1)


def level_sides(kind, yb):
    """The two sides the level penalty compares: polyp-free Kvasir-SEG
    samples (background crops, inpainted whole frames) and polyp-free
    capsule frames (boolean masks over the batch)."""
    kv = (yb == 0) & ((kind == KINDS["kb"]) | (kind == KINDS["ki"]))
    return kv, (yb == 0) & (kind == KINDS["w"])


def ceiling_ramp(ep, epochs):
    """The weight of --level-ceiling's term at epoch ep (0-based): 0 through
    the learning-rate warm-up (the first 15 % of the epochs), rising
    linearly to 1 over the next 15 %. Every level starts near 0, far above
    any ceiling: from the first epoch the term outweighed the rest of the
    loss about 12-fold and training never caught up (the model card's first
    ceiling run)."""
    return min(1.0, max(0.0, (ep / epochs - 0.15) / 0.15))


def level_loss(logits, yb, kind, ceiling=None, ceiling_weight=1.0, level=None):
    """--level-weight: how far the heatmap level (sample_levels) of
    polyp-free Kvasir-SEG samples sits above that of polyp-free capsule
    frames in the batch, squared (0 when either side is missing or the
    Kvasir-SEG side is not higher). The source measures found the gap to be
    mostly this level, 1.3-2 logits over the whole colonoscopy frame
    (docs/polyp-trials.md, "What the source gap is made of"); the
    top-16 ranking penalty (source_rank_loss) did not reach it. Both sides
    take the gradient: a shift of the whole heatmap then leaves the penalty
    as it is, so it can only be met by what tells the sources apart. (With
    the capsule side held fixed, as in source_rank_loss, lowering every
    logit paid off: the trial ran away, the model card says how.)
    ceiling (--level-ceiling, logits): the capsule side's level may not
    rise above it either, squared as well, times ceiling_weight
    (ceiling_ramp). Met without it, the penalty was
    met mostly by raising the capsule level, which cost capsule
    specificity (the card's first trial). level: sample_levels(logits),
    when the caller has it already (the training loop logs it)."""
    level = sample_levels(logits) if level is None else level
    kv, cap = level_sides(kind, yb)
    if not kv.any() or not cap.any():
        return logits.sum() * 0
    cap_level = level[cap].mean()
    loss = F.relu(level[kv].mean() - cap_level) ** 2
    if ceiling is not None:
        loss = loss + ceiling_weight * F.relu(cap_level - ceiling) ** 2
    return loss


def overlay_pair_loss(fl, pair):
    """Squared change of the frame probability between a Kvasir-SEG sample
    and the same sample with its overlays removed (pairs in the batch)."""
    first = torch.nonzero(pair[:-1] == 1)[:, 0]
    if len(first) == 0:
        return fl.sum() * 0
    p = torch.sigmoid(fl)
    return ((p[first] - p[first + 1]) ** 2).mean()


def polyp_pair_loss(fl, pair, yb):
    """--polyp-pairs: a logistic ranking loss, softplus(logit without the
    polyp - logit with it), over the pairs in the batch whose polyp is
    still in view after the crop: the score must rise because of the polyp,
    not because of the colon wall around it, which both samples share."""
    first = torch.nonzero((pair[:-1] == 2) & (yb[:-1] > 0))[:, 0]
    if len(first) == 0:
        return fl.sum() * 0
    return F.softplus(fl[first + 1] - fl[first]).mean()


def domain_loss(head, pooled, kind, lam):
    """Source head loss on the polyp-free samples of a batch: Kvasir-SEG
    background crops (1) against capsule frames (0), each class averaged
    on its own so that their unequal counts do not matter (0 when either
    is missing)."""
    kv = kind == KINDS["kb"]
    cap = kind == KINDS["w"]
    if not kv.any() or not cap.any():
        return pooled.sum() * 0
    z = head(pooled, lam)
    return 0.5 * (F.binary_cross_entropy_with_logits(z[kv], torch.ones(int(kv.sum())))
                  + F.binary_cross_entropy_with_logits(z[cap], torch.zeros(int(cap.sum()))))


class _Arm:
    """One network of train_arms(): its loss options, optimiser, schedule
    and its own MixStyle stream; everything a training of it alone keeps."""

    def __init__(self, seed, widths, steps, source_weight=0.0, overlay_weight=4.0,
                 domain_weight=0.0, level_weight=0.0, level_ceiling=None, mixstyle=0.0,
                 mixstyle_levels=MIXSTYLE_LEVELS, mixstyle_samples="all",
                 source_label_balance="off"):
        # the initial weights from the seed, as a training of this arm alone
        # draws them (nothing else in training draws from torch's stream)
        torch.manual_seed(seed)
        # its own stream, so that with --mixstyle 0 every other draw is as before
        self.mix_rng = np.random.RandomState(seed + 7919)
        # channels-last runs the convolutions through oneDNN: about 5x faster
        # on the CPU than PyTorch's default layout for these small layers
        self.net = PolypNet(widths).to(memory_format=torch.channels_last)
        params = list(self.net.parameters())
        self.head = None
        if domain_weight:
            self.head = SourceHead(widths)
            params += list(self.head.parameters())
        self.opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-4)
        self.steps = steps
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=3e-3,
                                                         total_steps=steps + 10, pct_start=0.15)
        self.source_weight, self.overlay_weight = source_weight, overlay_weight
        self.domain_weight, self.level_weight = domain_weight, level_weight
        self.level_ceiling, self.mixstyle = level_ceiling, mixstyle
        self.mixstyle_levels, self.mixstyle_samples = mixstyle_levels, mixstyle_samples
        self.balance = source_label_balance

    def begin_epoch(self, m, kinds):
        if self.balance != "off":
            self.fw_epoch, self.cw_epoch = source_label_weights(m, kinds, self.balance)
        self.net.train()
        self.tot = self.src_tot = self.ovl_tot = self.dom_tot = self.pair_tot = 0.0
        self.lvl_tot = 0.0
        self.side_sums = np.zeros(4)  # the level sides' sums and counts, for the log
        self.nb = 0

    def step(self, b, xb, mb, kb, pb, yb, lam, ep, epochs, n_kp):
        """One optimiser step on the batch that starts at sample b."""
        mix = None
        if self.mixstyle and self.mix_rng.rand() < self.mixstyle:
            free = (yb == 0).numpy() if self.mixstyle_samples == "polyp-free" else None
            mix = cross_source_mixstyle(self.mix_rng, kb, free)
        if self.head is not None:
            logits, pooled = self.net(xb, features=True, mix=mix, mix_levels=self.mixstyle_levels)
        else:
            logits = self.net(xb, mix=mix, mix_levels=self.mixstyle_levels)
        # --source-label-balance's weights (None, the default: unweighted)
        fwb = cwb = None
        if self.balance != "off":
            fwb = torch.from_numpy(self.fw_epoch[b:b + len(xb)])
            cwb = torch.from_numpy(np.ascontiguousarray(self.cw_epoch[b:b + len(xb)]))
        pix = F.binary_cross_entropy_with_logits(logits, mb, weight=cwb)
        p = torch.sigmoid(logits)
        inter = (p * mb).sum((1, 2))
        dice = 1 - (2 * inter + 1) / (p.sum((1, 2)) + mb.sum((1, 2)) + 1)
        dice = (dice * yb).sum() / yb.sum().clamp(min=1)
        fl = frame_logit(logits)
        frame = F.binary_cross_entropy_with_logits(fl, yb, weight=fwb)
        src = source_rank_loss(fl, yb, kb)
        ovl = overlay_pair_loss(fl, pb)
        loss = pix + dice + 0.5 * frame
        if self.source_weight:  # each penalty only where it is in use
            loss = loss + self.source_weight * src
        if OVERLAY_MEASURES and self.overlay_weight:
            loss = loss + self.overlay_weight * ovl
        if n_kp and PAIR_WEIGHT:
            pl = polyp_pair_loss(fl, pb, yb)
            loss = loss + PAIR_WEIGHT * pl
            self.pair_tot += float(pl)
        if self.level_weight:
            lev = sample_levels(logits)
            lv = level_loss(logits, yb, kb, self.level_ceiling, ceiling_ramp(ep, epochs), lev)
            loss = loss + self.level_weight * lv
            self.lvl_tot += float(lv)
            for j, side in enumerate(level_sides(kb, yb)):
                self.side_sums[2 * j:2 * j + 2] += float(lev[side].detach().sum()), int(side.sum())
        if self.head is not None:
            dom = domain_loss(self.head, pooled, kb, lam)
            loss = loss + self.domain_weight * dom
            self.dom_tot += float(dom)
        # zeroed, not dropped (torch 1.13's default, said so for newer ones):
        # AdamW moves a parameter whose gradient is zero, skips one with none
        self.opt.zero_grad(set_to_none=False)
        loss.backward()
        self.opt.step()
        if self.sched.last_epoch < self.steps:
            self.sched.step()
        self.tot += float(loss)
        self.src_tot += float(src)
        self.ovl_tot += float(ovl)
        self.nb += 1

    def epoch_note(self, m, kinds, n_kp):
        nb = self.nb
        return (f"loss {self.tot / nb:.4f} source {self.src_tot / nb:.4f} "
                f"overlay {self.ovl_tot / nb:.4f} domain {self.dom_tot / nb:.4f}" +
                (f" pairs {self.pair_tot / nb:.4f}" if n_kp else "") +
                (f" level {self.lvl_tot / nb:.4f} kvasir "
                 f"{self.side_sums[0] / max(1, self.side_sums[1]):.2f}"
                 f" capsule {self.side_sums[2] / max(1, self.side_sums[3]):.2f}"
                 if self.level_weight else "") +
                (" " + balance_note(m, kinds, self.fw_epoch, self.cw_epoch)
                 if self.balance != "off" else ""))


# main's options that do not shape a training: where its outputs go, when
# it stops, which parts and folds run (each training's key has its own)
CHECKPOINT_FREE = {"checkpoint", "stop_at_epoch", "metrics", "fold_weights", "out", "reference",
                   "save_torch", "folds", "part", "shared", "cache", "fold", "evaluate",
                   "compare", "crop_gate", "write_heldout"}


class Stopped(Exception):
    """train_arms() stopped at --stop-at-epoch with its checkpoint saved."""


def training_key(base, data, kidx, widx, epochs, seed, tags, arms, widths):
    """What a checkpoint must match to be resumed: `base` (built by main:
    the tool's bytes, the library versions, the options that shape
    training) and this training's own inputs. A dict of short strings and
    numbers, so that a mismatch can be named field by field."""
    h = hashlib.sha256()
    for k in sorted(data):  # the cached frames, masks and groups themselves
        v = data[k]
        if isinstance(v, np.ndarray):
            h.update(k.encode() + str(v.shape).encode() + str(v.dtype).encode())
            h.update(np.ascontiguousarray(v).tobytes())
    return dict(base, data=h.hexdigest(),
                kidx=hashlib.sha256(np.asarray(kidx, np.int64).tobytes()).hexdigest(),
                widx=hashlib.sha256(np.asarray(widx, np.int64).tobytes()).hexdigest(),
                epochs=epochs, seed=seed, tags=list(tags),
                arms=json.loads(json.dumps(arms, sort_keys=True)),
                widths=list(WIDTHS if widths is None else widths))


def cpu_model():
    """The CPU's model name (Linux), part of a checkpoint's key: the float
    paths of another CPU (AVX-512 against AVX2) train other bytes."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _sched_state(sched):
    # OneCycleLR keeps its annealing function as a bound method, which would
    # pickle the scheduler and its optimiser with it; a new one built the
    # same way has the same function
    return {k: v for k, v in sched.state_dict().items() if k != "anneal_func"}


def _params(run):
    # the optimiser's parameters, whose gradients are state too: a
    # parameter that has had a gradient keeps a zeroed one (_Arm.step) and
    # AdamW moves it on a batch that gives it none (the domain head without
    # its samples), while one that never had a gradient is skipped
    return [q for g in run.opt.param_groups for q in g["params"]]


def save_checkpoint(path, key, epoch, seconds, runs):
    """The state after `epoch` whole epochs: each arm's weights, optimiser,
    gradients, schedule and MixStyle stream (the samples are drawn from
    the seed and the epoch alone, Sampler.epoch), written to a temporary
    file and renamed over `path`, so that a run killed at any moment
    leaves the last whole checkpoint."""
    state = dict(format=1, key=key, epoch=epoch, seconds=seconds, arms=[dict(
        net=r.net.state_dict(), head=None if r.head is None else r.head.state_dict(),
        opt=r.opt.state_dict(), sched=_sched_state(r.sched), mix_rng=r.mix_rng.get_state(),
        grads=[None if q.grad is None else q.grad.detach().clone() for q in _params(r)])
        for r in runs])
    torch.save(state, path + ".partial")
    os.replace(path + ".partial", path)


def load_checkpoint(path, key, runs, log):
    """Restores `runs` from the checkpoint at `path` when it is of this very
    training (its key equal to `key`). Returns (epochs done, seconds
    spent), or (0, 0) when there is none, or it is damaged or of another
    training (then said in the log, and training starts at epoch 1)."""
    if not os.path.exists(path):
        return 0, 0
    try:  # our own file: its MixStyle stream is a numpy state, not weights only
        state = torch.load(path, weights_only=False)
        have = state["key"]
    except Exception as e:  # a damaged or foreign file: train from the start
        why = f"is not readable ({type(e).__name__}: {e})"
    else:
        why = None
        if state.get("format") != 1 or have != key or len(state["arms"]) != len(runs):
            differ = sorted(k for k in set(have) | set(key) if have.get(k) != key.get(k)) \
                if isinstance(have, dict) else ["format"]
            why = f"is of another training (it differs in: {', '.join(differ) or 'format'})"
    if why:  # kept beside, not overwritten: whoever made it may want it
        os.replace(path, path + ".set-aside")
        log(f"train_polyp: checkpoint {path} {why}; set aside as {path}.set-aside, "
            "training from epoch 1")
        return 0, 0
    for r, st in zip(runs, state["arms"]):
        r.net.load_state_dict(st["net"])
        if r.head is not None:
            r.head.load_state_dict(st["head"])
        r.opt.load_state_dict(st["opt"])
        r.sched.load_state_dict(st["sched"])
        r.mix_rng.set_state(st["mix_rng"])
        for q, g in zip(_params(r), st["grads"]):
            q.grad = g
    return int(state["epoch"]), float(state["seconds"])


def train_arms(data, kidx, widx, epochs, seed, log, tags, arms, widths=None,
               checkpoint=None, stop_at=None, progress=None):
    """Trains one network per arm (a dict of train()'s loss options) on one
    stream of samples: each epoch's samples are drawn once and every arm
    takes an optimiser step on each batch in turn. The samples depend on
    the seed and the data only, and each arm keeps its own initial
    weights (drawn from the seed), optimiser, schedule and MixStyle
    stream, so each network is, byte for byte, the one train() gives with
    its options alone (tests/integration/train_polyp_smoke.sh checks it);
    drawing the samples, about half of an epoch, is paid once. `tags`
    name the arms in the log. Returns the networks, in eval mode, in the
    arms' order.

    checkpoint: (path, base key) saves the training's state there after
    every epoch, and resumes from it when it holds an earlier run of this
    same training (training_key): a resumed training gives the same bytes
    as one never stopped. stop_at: stop after that epoch with the state
    saved (raises Stopped). progress: a dict that gets the epoch resumed
    from and the seconds the earlier runs spent (resumed_at, seconds_before)."""
    if len(tags) != len(arms) or not arms:
        raise ValueError("train_arms: one tag per arm, and at least one arm")
    sampler = Sampler(data, kidx, widx, seed)
    n_kv = min(len(kidx), 800)
    n_neg = min(len(widx), CAPSULE_NEGATIVES)
    n_pp, n_pn = (500, PASTE_NEGATIVES) if len(kidx) > 100 else (len(kidx), len(kidx) // 4)
    n_kb = KVASIR_BACKGROUND if len(kidx) > 100 else len(kidx) // 4
    n_ki = KVASIR_INPAINTED if len(kidx) > 100 else min(KVASIR_INPAINTED, len(kidx) // 4)
    n_kp = POLYP_PAIRS if len(kidx) > 100 else min(POLYP_PAIRS, len(kidx) // 4)
    bs = 32
    if OVERLAY_MEASURES:
        # an upper bound: how many frames get a pair is random
        per_epoch = int(n_kv * (1 + PAIR_SHARE + 0.1) + n_neg + n_pp + n_pn + n_kb + n_ki + 2 * n_kp)
        steps = epochs * (per_epoch // bs + 2)
    else:
        per_epoch = n_kv + n_neg + n_pp + n_pn + n_kb + n_ki + 2 * n_kp
        steps = epochs * (per_epoch // bs + 1)
    runs = [_Arm(seed, widths, steps, **opts) for opts in arms]
    done = before = 0
    if checkpoint is not None:
        path, key = checkpoint[0], training_key(checkpoint[1], data, kidx, widx, epochs, seed,
                                                tags, arms, widths)
        done, before = load_checkpoint(path, key, runs, log)
        if done:
            log(f"train_polyp: resuming from {path}: {done} of {epochs} epochs done "
                f"({before:.0f} s)")
    if progress is not None:
        progress.update(resumed_at=done, seconds_before=before)
    t0 = time.time() - before
    for ep in range(done, epochs):
        x, m, kinds, pairs = sampler.epoch(ep, n_kv, n_neg, n_pp, n_pn, n_kb, n_ki, n_kp)
        for r in runs:
            r.begin_epoch(m, kinds)
        # the reversal's strength ramps up over training (DANN's schedule)
        lam = 2.0 / (1.0 + math.exp(-10.0 * ep / max(1, epochs - 1))) - 1.0
        for b in range(0, len(x), bs):
            xb = channels_last(to_input(x[b:b + bs]))
            mb = torch.from_numpy(m[b:b + bs])
            kb = torch.from_numpy(kinds[b:b + bs])
            pb = torch.from_numpy(pairs[b:b + bs])
            yb = frame_labels(mb).float()
            for r in runs:
                r.step(b, xb, mb, kb, pb, yb, lam, ep, epochs, n_kp)
        for tag, r in zip(tags, runs):
            log(f"{tag} epoch {ep + 1}/{epochs} {r.epoch_note(m, kinds, n_kp)} "
                f"({time.time() - t0:.0f} s)")
        if checkpoint is not None:
            save_checkpoint(path, key, ep + 1, time.time() - t0, runs)
            if stop_at is not None and ep + 1 >= stop_at and ep + 1 < epochs:
                raise Stopped(f"stopped after epoch {ep + 1} of {epochs}; the same command "
                              f"resumes from {path}")
    for r in runs:
        r.net.eval()
    return [r.net for r in runs]


def train(data, kidx, widx, epochs, seed, log, tag, widths=None, **options):
    """Trains one network (options: _Arm's loss options; all off but the
    overlay weight by default). Returns it in eval mode."""
    return train_arms(data, kidx, widx, epochs, seed, log, [tag], [options], widths)[0]


# --------------------------------------------------------------------------
# Evaluation

@torch.no_grad()
def predict(net, imgs_u8, crop_gate=None):
    """uint8 NxINxINx3 -> (prob maps NxOUTxOUT, frame scores N). Each image
    is read as the engine reads an analysis image: through its lit field
    when it has a wide black border (frame_input), the map then taken back
    onto the whole image (0 outside the field). A network read from a
    version-4 file (its `crop_gate` set) scores as the engine does with
    it: an image whose one-pass score reaches the gate takes the highest
    of that score and its five crops' (crop_scores); the maps stay the one
    pass's. `crop_gate` reads any network that way with that gate
    instead of its own."""
    if len(imgs_u8) == 0:
        return np.zeros((0, OUT, OUT), np.float32), np.zeros(0, np.float32)
    views = [frame_input(img) for img in imgs_u8]
    gate = getattr(net, "crop_gate", None) if crop_gate is None else crop_gate
    outs, scores = [], []
    for b in range(0, len(views), 64):
        lg = net(channels_last(to_input(np.stack([v for v, _ in views[b:b + 64]]))))
        outs.append(torch.sigmoid(lg).numpy())
        sc = torch.sigmoid(frame_logit(lg)).numpy()
        if gate is not None:
            for j in np.flatnonzero(sc >= np.float32(gate)):
                sc[j] = max(sc[j], crop_scores(net, imgs_u8[b + j]).max())
        scores.append(sc)
    prob = np.concatenate(outs)
    for j, (_, box) in enumerate(views):
        if box is not None:
            prob[j] = unfield(prob[j], box)
    return prob, np.concatenate(scores)


@torch.no_grad()
def crop_scores(net, img):
    """The frame scores (float32) of the five crops of 0.6 (crop_rect) of
    an analysis image, or of its lit field when it is read through one (as
    frame_input): what the engine reads beside the one pass for a version-4
    file (docs/engine.md, "Polyps"; polyp_analyze)."""
    f = field_of(img)
    pixels = img if f is None else field_share(f, img)[1]
    crops = [crop for _, crop in crop_inputs(pixels)]
    return torch.sigmoid(frame_logit(net(channels_last(to_input(np.stack(crops)))))).numpy()


def resize_u8(img, side=None):
    side = IN if side is None else side
    return np.asarray(Image.fromarray(img).resize((side, side), Image.BOX), np.uint8)


# A frame with a wide black border is read through its lit field: the
# engine's rule (src/engine/scan.c lit_box, src/engine/polyp.c
# cs_polyp_reads_field, src/engine/engine.c polyp_field), so that what the
# tool measures is what the engine does (docs/engine.md, "Polyps", step 1).
BORDER_LUMA = 24   # CS_BORDER_LUMA in src/engine/scan.h
FIELD_CROP = np.float32(0.9)  # CS_POLYP_FIELD_CROP in src/engine/polyp.h
FIELD_MIN = np.float32(0.5)   # CS_POLYP_FIELD_MIN


def lit_box(img):
    """cs_scan's lit box of an analysis image (uint8 HxWx3): the bounding
    box (x0, y0, x1, y1; end exclusive) of the pixels that a flood from the
    image's edge through dark pixels (integer luma below BORDER_LUMA,
    4-connected) does not reach; the whole image when it reaches all."""
    rgb = img.astype(np.int32)
    dark = ((77 * rgb[..., 0] + 150 * rgb[..., 1] + 29 * rgb[..., 2]) >> 8) < BORDER_LUMA
    h, w = dark.shape
    reach = np.zeros_like(dark)
    reach[0], reach[-1], reach[:, 0], reach[:, -1] = dark[0], dark[-1], dark[:, 0], dark[:, -1]
    while True:  # grow through dark pixels until nothing changes
        grow = reach.copy()
        grow[1:] |= reach[:-1]
        grow[:-1] |= reach[1:]
        grow[:, 1:] |= reach[:, :-1]
        grow[:, :-1] |= reach[:, 1:]
        grow &= dark
        if np.array_equal(grow, reach):
            break
        reach = grow
    ys, xs = np.nonzero(~reach)
    if len(ys) == 0:
        return 0, 0, w, h
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def reads_field(width, height, box):
    """cs_polyp_reads_field: whether a frame of width x height whose lit box
    is `box` is read through it (less than 0.9 of a side, at least half of
    both), in the C code's single-precision arithmetic."""
    x0, y0, x1, y1 = box
    if width < 1 or height < 1 or x0 < 0 or y0 < 0 or x1 > width or y1 > height or \
            x1 <= x0 or y1 <= y0:
        return False
    sw = np.float32(x1 - x0) / np.float32(width)
    sh = np.float32(y1 - y0) / np.float32(height)
    return bool((sw < FIELD_CROP or sh < FIELD_CROP) and sw >= FIELD_MIN and sh >= FIELD_MIN)


def field_of(analysis, img=None):
    """The part of `img` (default: the analysis image itself) that the
    engine reads: None when the frame is read whole, else (x0, y0, x1, y1)
    in img's pixels, the analysis image's lit box scaled to img and rounded
    outwards, as polyp_field does for a detail image."""
    ah, aw = analysis.shape[:2]
    box = lit_box(analysis)
    if not reads_field(aw, ah, box):
        return None
    if img is None:
        return box
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    return (x0 * w // aw, y0 * h // ah, (x1 * w + aw - 1) // aw, (y1 * h + ah - 1) // ah)


def field_share(box, img):
    """A field (x0, y0, x1, y1) in img's pixels as its share of img, (u0,
    v0, su, sv) (polyp_field's `box`), and the field's pixels."""
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    return (x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h), np.ascontiguousarray(img[y0:y1, x0:x1])


def frame_input(img):
    """The network input the engine makes of an analysis image (uint8
    HxWx3): its lit field or the whole image, box-resized to IN x IN. ->
    (input, field) where field is None or (u0, v0, su, sv), the field's part
    of the image (as polyp_field's `box`)."""
    f = field_of(img)
    if f is None:
        return resize_u8(img), None
    share, pixels = field_share(f, img)
    return resize_u8(pixels), share


def unfield(prob, field):
    """A map found on the lit field `field` (u0, v0, su, sv) taken back onto
    the whole frame's cells: resampled inside the field, 0 outside
    (polyp_unfield)."""
    total = np.zeros(prob.shape, np.float64)
    count = np.zeros(prob.shape, np.float64)
    add_resampled(prob.astype(np.float64), *field, total, count)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)


CROP_SHARE = 0.6  # CS_POLYP_CROP_SHARE in src/engine/polyp.h
CROP_AT = ((1, 1), (0, 0), (2, 0), (0, 2), (2, 2))  # centre, then the corners, in halves


def crop_rect(width, height, k):
    """Crop k of a width x height image: (x0, y0, w, h), cs_polyp_crop_rect."""
    w = max(1, int(np.floor(width * CROP_SHARE + 0.5)))
    h = max(1, int(np.floor(height * CROP_SHARE + 0.5)))
    return (width - w) * CROP_AT[k][0] // 2, (height - h) * CROP_AT[k][1] // 2, w, h


def crop_inputs(pixels):
    """The CROP_AT crops of an image (uint8 HxWx3), each as its rectangle
    (x0, y0, w, h; crop_rect) and its pixels box-resized to the network's
    input (cs_polyp_input_rect)."""
    hgt, wid = pixels.shape[:2]
    out = []
    for k in range(len(CROP_AT)):
        x0, y0, w, h = crop_rect(wid, hgt, k)
        out.append(((x0, y0, w, h), resize_u8(pixels[y0:y0 + h, x0:x0 + w])))
    return out


def add_resampled(src, u0, v0, su, sv, total, count):
    """cs_polyp_add_resampled: bilinear samples of the map `src`, which covers
    the part (u0, v0, su, sv) of the frame, added to the frame cells whose
    centres lie in that part."""
    side = src.shape[0]
    c = (np.arange(side) + 0.5) / side
    cu, cv = (c - u0) / su, (c - v0) / sv
    inu, inv = (cu >= 0) & (cu < 1), (cv >= 0) & (cv < 1)
    x, y = cu * side - 0.5, cv * side - 0.5
    xi, yi = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - xi, y - yi
    x0, x1 = np.clip(xi, 0, side - 1), np.clip(xi + 1, 0, side - 1)
    y0, y1 = np.clip(yi, 0, side - 1), np.clip(yi + 1, 0, side - 1)
    val = (src[np.ix_(y0, x0)] * np.outer(1 - fy, 1 - fx) + src[np.ix_(y0, x1)] * np.outer(1 - fy, fx) +
           src[np.ix_(y1, x0)] * np.outer(fy, 1 - fx) + src[np.ix_(y1, x1)] * np.outer(fy, fx))
    m = np.outer(inv, inu)
    total[m] += val[m]
    count[m] += 1


@torch.no_grad()
def predict_outline(net, frames_u8):
    """Heatmaps as the engine outlines a flagged frame (src/engine/engine.c,
    polyp_outline): each cell's mean logit over the frame and its three
    mirror images (mirrored back) and the five crops that cover it
    (resampled). `frames_u8` are the frames at any size (the cache's); the
    frame score stays the one pass's (predict). A frame with a wide black
    border is outlined on its lit field (found on the frame at the input
    side, as the engine finds it on the analysis image) and the map taken
    back onto the frame, 0 outside the field."""
    outs = []
    for frame in frames_u8:
        small = resize_u8(frame)  # the analysis image the engine finds the field on
        fb = field_of(small, frame)
        share, f = (None, frame) if fb is None else field_share(fb, frame)
        full = to_input((small if fb is None else resize_u8(f))[None])
        total = 0
        for dims in ((), (-1,), (-2,), (-2, -1)):  # none, left-right, top-bottom, both
            # the input is NCHW, the logits NHW: the last two axes are rows, columns in both
            lg = net(channels_last(torch.flip(full, dims) if dims else full))
            total = total + (torch.flip(lg, dims) if dims else lg)
        total = total[0].numpy().astype(np.float64)
        count = np.full(total.shape, 4.0)
        hgt, wid = f.shape[:2]
        for (x0, y0, w, h), crop in crop_inputs(f):
            lg = net(channels_last(to_input(crop[None])))[0].numpy()
            add_resampled(lg, x0 / wid, y0 / hgt, w / wid, h / hgt, total, count)
        prob = 1 / (1 + np.exp(-total / count))
        outs.append(prob if share is None else unfield(prob, share))
    return np.stack(outs).astype(np.float32)


def top_component(prob):
    """Bounding box (x0,y0,x1,y1 exclusive) of the 4-connected region around
    the heatmap's peak at CORE_CUT of the peak: the engine's top box
    (src/engine/polyp.c, cs_polyp_boxes; its region at polyp_level(peak) is
    cut to its core around the peak, which for the top region is the same)."""
    peak = prob.max()
    level = max(polyp_level(peak), CORE_CUT * peak)
    h, w = prob.shape
    y, x = np.unravel_index(int(prob.argmax()), prob.shape)
    seen = np.zeros_like(prob, bool)
    stack = [(y, x)]
    seen[y, x] = True
    y0, y1, x0, x1 = y, y, x, x
    while stack:
        cy, cx = stack.pop()
        y0, y1, x0, x1 = min(y0, cy), max(y1, cy), min(x0, cx), max(x1, cx)
        for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
            if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and prob[ny, nx] >= level:
                seen[ny, nx] = True
                stack.append((ny, nx))
    return x0, y0, x1 + 1, y1 + 1


CORE_CUT = 0.55  # CS_POLYP_CORE_CUT in src/engine/polyp.h


def polyp_level(peak):
    """Level at which the heatmap is cut into boxes: 0.5, or half the peak
    when the peak is below 1.0 (so a frame always has a top box)."""
    return min(0.5, 0.5 * peak)


def auroc(pos, neg):
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return None
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sv = allv[order]
    i = 0
    while i < len(sv):  # average ranks of ties
        j = i
        while j + 1 < len(sv) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rp = ranks[: len(pos)].sum()
    return float((rp - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def auroc_interval(pos, neg, seed, n=1000):
    """95 % bootstrap interval of auroc(pos, neg), each side resampled on
    its own (one crop or frame per source frame, so frames are the unit).
    With some 50 Kvasir-SEG crops the source AUROC moves by about 0.05
    between two draws of crops: differences smaller than this interval
    are not a measured change."""
    if len(pos) < 2 or len(neg) < 2:
        return None
    rng = np.random.RandomState(seed)
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    v = [auroc(pos[rng.randint(len(pos), size=len(pos))], neg[rng.randint(len(neg), size=len(neg))])
         for _ in range(n)]
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]


def seg_metrics(net, data, idx):
    """Dice, IoU and hit rate on whole Kvasir-SEG frames (as shown, overlays
    and all), at cache resolution with the heatmap upsampled. The outline is
    the engine's for a flagged frame (nine passes) on every frame; the
    engine outlines an unflagged frame with one pass, and `capscreen eval
    --masks` measures exactly what it does."""
    dices, ious, hits, score = seg_per_frame(net, data, idx)
    return dict(dice=float(np.mean(dices)), iou=float(np.mean(ious)),
                hit_rate=float(np.mean(hits)), n=len(idx)), score


def seg_per_frame(net, data, idx):
    """seg_metrics' measures frame by frame, in idx's order: Dice, IoU and
    hit (bool) arrays, and the frames' scores; so that two networks can be
    compared on the same frames (compare_models)."""
    imgs = np.stack([resize_u8(data["kimg"][i]) for i in idx])
    _, score = predict(net, imgs)
    prob = predict_outline(net, [data["kimg"][i] for i in idx])
    dices, ious, hits = [], [], []
    for j, i in enumerate(idx):
        gt = data["kmask"][i] >= 128
        up = np.asarray(Image.fromarray((prob[j] * 255).astype(np.uint8)).resize(
            (CACHE_SIDE, CACHE_SIDE), Image.BILINEAR), np.float32) / 255.0
        pr = up >= 0.5
        inter = (pr & gt).sum()
        union = (pr | gt).sum()
        dices.append(2 * inter / max(pr.sum() + gt.sum(), 1))
        ious.append(inter / max(union, 1))
        x0, y0, x1, y1 = top_component(prob[j])
        cx = (x0 + x1) / 2 * CACHE_SIDE / OUT
        cy = (y0 + y1) / 2 * CACHE_SIDE / OUT
        hits.append(bool(gt[min(int(cy), CACHE_SIDE - 1), min(int(cx), CACHE_SIDE - 1)]))
    return np.array(dices, float), np.array(ious, float), np.array(hits, bool), score


def capsule_set(data, kidx, widx, seed):
    """Held-out capsule material: every held-out capsule frame as a
    negative; each held-out polyp pasted into a held-out capsule frame as a
    positive. Fixed seed: the same set every time."""
    neg = [resize_u8(data["wimg"][i]) for i in widx]
    pos = [resize_u8(img) for _, img, _ in pasted_polyps(data, kidx, widx, seed)]
    return np.stack(pos), np.stack(neg)


def pasted_polyps(data, kidx, widx, seed):
    """Each polyp of `kidx` pasted into a capsule frame drawn from `widx` (up
    to three tries; a polyp that never fits is left out): yields (k, image at
    cache size, label mask 0..1). Fixed seed: the same set every time."""
    rng = np.random.RandomState(seed)
    for k in kidx:
        for _ in range(3):
            w = widx[rng.randint(len(widx))]
            cut = polyp_cutout(rng, data["kimg"][k], data["kmask"][k],
                               int(rng.uniform(0.22, 0.6) * CACHE_SIDE))
            r = paste(rng, data["wimg"][w], cut) if cut else None
            if r is not None:
                yield k, r[0], r[1]
                break


def operating_point(pos, neg, thr):
    pos, neg = np.asarray(pos), np.asarray(neg)
    tp, fn = int((pos >= thr).sum()), int((pos < thr).sum())
    tn, fp = int((neg < thr).sum()), int((neg >= thr).sum())
    return dict(threshold=float(thr), sensitivity=tp / max(tp + fn, 1),
                specificity=tn / max(tn + fp, 1), tp=tp, fn=fn, tn=tn, fp=fp)


def choose_threshold(pos, neg, min_spec=0.93):
    """The threshold with the best sensitivity + specificity among those
    keeping specificity >= min_spec on held-out capsule negatives."""
    best = None
    for t in np.unique(np.concatenate([pos, neg])):
        op = operating_point(pos, neg, t)
        if op["specificity"] < min_spec:
            continue
        key = op["sensitivity"] + op["specificity"]
        if best is None or key > best[0] + 1e-12:
            best = (key, op)
    if best is None:
        return operating_point(pos, neg, float(np.max(neg)) + 1e-6)
    # midpoint to the next lower score keeps it off an exact frame value
    return best[1]


def threshold_at_specificity(neg_scores, target):
    """The lowest float32 threshold whose specificity on neg_scores (a
    frame is flagged at score >= threshold) is at least target (0 < target
    <= 1): the next float32 above the highest negative that must stay
    unflagged. On any positives, the sensitivity there is the one
    `capscreen eval --target-specificity` reports on the same frames (it
    picks the lowest frame score at or above this threshold). In float32,
    as the scores and the engine's threshold are: a float64 just above a
    float32 score would compare equal to it once cast back."""
    if not 0 < target <= 1:
        raise ValueError(f"target specificity {target} is not in (0, 1]")
    neg = np.sort(np.asarray(neg_scores, np.float32))
    n = len(neg)
    k = next(i for i in range(1, n + 1) if i / n >= target)  # negatives kept below
    return float(np.nextafter(neg[k - 1], np.float32(np.inf)))


# Box side of a pasted polyp as a share of the frame side: the bands of
# tools/polyp_size_sensitivity.py and of the shipped threshold's rule. The
# shipped capsule check (capsule_set) draws from 0.22-0.60.
SIZE_BANDS = ((0.08, 0.14), (0.14, 0.22), (0.22, 0.40), (0.40, 0.60))
SIZE_BAND_SEED_OFFSET = 500  # pasted_at's seed is --seed + this


PASTE_CENTRE = (0.35, 0.65)  # pasted_at: the share of each axis its centres are drawn from


def pasted_at(data, kval, wval, seed, lo, hi, centre=PASTE_CENTRE):
    """Each polyp of kval pasted into a held-out capsule frame with its
    box side drawn from [lo, hi) of the frame: (images at the network's
    input, label masks at the heatmap's side). Each polyp has its own
    random stream, from which the frame, the paste's centre (by default
    in the middle 30 % of each axis, away from the dark rim; `centre`
    (lo, hi) widens it), the place in the
    band, the cutout's margin and feather and the colour match are drawn
    in that order, each draw of a fixed cost: so every band pastes the
    same polyp into the same frame at the same centre with the same
    edges, and only the size differs (a large paste is moved in as far as
    the frame needs)."""
    imgs, labels = [], []
    for j, k in enumerate(kval):
        rng = np.random.RandomState([seed, j])
        w = wval[rng.randint(len(wval))]
        at = rng.uniform(centre[0], centre[1], 2) * CACHE_SIDE
        frac = lo + (hi - lo) * rng.uniform()
        cut = polyp_cutout(rng, data["kimg"][k], data["kmask"][k], max(int(frac * CACHE_SIDE), 4))
        r = paste(rng, data["wimg"][w], cut, at) if cut else None
        if r is None:  # no polyp pixel, or a cutout larger than the frame
            continue
        imgs.append(resize_u8(r[0]))
        lab = resize_u8((r[1] * 255).astype(np.uint8)[..., None].repeat(3, 2), OUT)
        labels.append(lab[..., 0] >= 128)
    return np.stack(imgs), np.stack(labels)



SHIPPED_MIN_SPEC = 0.95  # capsule frames: the issue's 0.90 and 0.05 for another device
SHIPPED_MIN_COLON_SPEC = 0.75  # the blur-fill colon stand-in's polyp-free frames


def choose_threshold_by_size(band_scores, neg, colon_free, min_spec=SHIPPED_MIN_SPEC,
                             min_colon_spec=SHIPPED_MIN_COLON_SPEC):
    """The shipped threshold's rule (docs/polyp-trials.md, "A threshold for
    polyps of every size"): among float32 thresholds with specificity >=
    min_spec on the held-out capsule frames (`neg`) and >= min_colon_spec
    on the polyp-free colon stand-in frames (`colon_free`), the one with
    the highest mean over the size bands' sensitivities (`band_scores`,
    one array of pasted-polyp scores a band, weighted alike) + capsule
    specificity; on a tie the higher threshold. Both floors bound the
    threshold from below, so some threshold always meets them. The score
    only changes where a frame's score is crossed, so the candidates are
    the lowest threshold meeting both floors, the positive scores above
    it and the float32 just above each negative score above it. With no
    colon stand-in frames (none could be rendered) that floor is not
    applied and says so (colon_specificity None)."""
    neg = np.asarray(neg, np.float32)
    colon_free = np.asarray(colon_free, np.float32)
    bands = [np.asarray(b, np.float32) for b in band_scores]
    low = threshold_at_specificity(neg, min_spec)
    if len(colon_free):
        low = max(low, threshold_at_specificity(colon_free, min_colon_spec))
    low = np.float32(low)
    up = np.nextafter(neg, np.float32(np.inf))
    cand = np.unique(np.concatenate([[low], *bands, up]).astype(np.float32))
    cand = cand[cand >= low]
    sens = np.stack([(b[None, :] >= cand[:, None]).mean(1) for b in bands], 1)
    spec = (neg[None, :] < cand[:, None]).mean(1)
    key = sens.mean(1) + spec
    i = int(np.flatnonzero(key >= key.max() - 1e-12)[-1])  # the highest of the best
    return dict(size_rule_at(bands, neg, colon_free, cand[i]),
                lowest_allowed=float(low), min_spec=min_spec, min_colon_spec=min_colon_spec)


def size_rule_at(band_scores, neg, colon_free, thr):
    """What choose_threshold_by_size weighs, at a given threshold."""
    t = np.float32(thr)
    sens = [float(np.mean(np.asarray(b, np.float32) >= t)) for b in band_scores]
    return dict(threshold=float(t), mean_band_sensitivity=float(np.mean(sens)),
                sensitivity_by_band=sens,
                specificity=float(np.mean(np.asarray(neg, np.float32) < t)),
                colon_specificity=float(np.mean(np.asarray(colon_free, np.float32) < t))
                if len(colon_free) else None)


def crossfit_size_rule(band_scores, neg, groups, colon_free, seed):
    """The rule's in-sample optimism: the capsule frames split in two by
    near-duplicate group; the threshold chosen with one half's frames as
    the negatives, its specificity read on the other half, both ways."""
    half = group_split(groups, 2, seed)
    if len(set(half.tolist())) < 2:  # one group: no second half to read on
        return []
    out = []
    for h in (0, 1):
        ch = choose_threshold_by_size(band_scores, np.asarray(neg)[half == h], colon_free)
        out.append(dict(chosen_on_half=h, n_chosen_on=int((half == h).sum()),
                        n_measured_on=int((half != h).sum()), threshold=ch["threshold"],
                        specificity_chosen_on=ch["specificity"],
                        specificity_other_half=float(np.mean(
                            np.asarray(neg, np.float32)[half != h] < np.float32(ch["threshold"])))))
    return out


def crop_where(rng, img, w, lo, hi, tries, ok):
    """The first of `tries` squares of side w, corner drawn uniformly from
    [lo, hi) on each axis (x, then y), for which ok(slice pair) holds,
    resized to the network input; None when none does."""
    for _ in range(tries):
        x0, y0 = rng.randint(lo, hi), rng.randint(lo, hi)
        sl = (slice(y0, y0 + w), slice(x0, x0 + w))
        if ok(sl):
            return resize_u8(img[sl])
    return None


def polyp_free_in_kvasir(data, i):
    """ok() of a Kvasir-SEG crop: no polyp pixel, under 5 % overlay pixels."""
    return lambda sl: not (data["kmask"][i][sl] >= 128).any() and data["kovl"][i][sl].mean() < 0.05


def stack_crops(cs):
    cs = [c for c in cs if c is not None]
    return np.stack(cs) if cs else np.zeros((0, IN, IN, 3), np.uint8)


def background_crops(data, kidx, widx, seed):
    """Polyp-free crops: Kvasir-SEG frames' background (no polyp pixel, few
    overlay pixels) vs capsule frames' centres at the same relative size."""
    rng = np.random.RandomState(seed)
    s = CACHE_SIDE
    w = int(s * 0.45)
    kv = [crop_where(rng, data["kimg"][i], w, 0, s - w, 20, polyp_free_in_kvasir(data, i))
          for i in kidx]
    edge = int(s * 0.2)
    cap = [crop_where(rng, data["wimg"][i], w, edge, s - w - edge, 1, lambda sl: True)
           for i in widx]
    return stack_crops(kv), stack_crops(cap)


def background_crops_alike(data, kidx, widx, seed):
    """Polyp-free crops of both sources drawn by one rule: a random square
    of 45 % of the side, at least 95 % of it inside the lit field (no field
    edge, no black inset), and for Kvasir-SEG no polyp pixel and under 5 %
    overlay pixels. background_crops takes capsule crops from the frame's
    centre only; this checks that the difference in where the crops come
    from is not what the source AUROC measures."""
    rng = np.random.RandomState(seed)
    s = CACHE_SIDE
    w = int(s * 0.45)

    def lit_and(img, ok):
        lit = (img.astype(np.float32) @ LUMA) > 20
        return lambda sl: lit[sl].mean() >= 0.95 and ok(sl)

    kv = [crop_where(rng, data["kimg"][i], w, 0, s - w, 50,
                     lit_and(data["kimg"][i], polyp_free_in_kvasir(data, i))) for i in kidx]
    cap = [crop_where(rng, data["wimg"][i], w, 0, s - w, 50,
                      lit_and(data["wimg"][i], lambda sl: True)) for i in widx]
    return stack_crops(kv), stack_crops(cap)


def grown(mask, n):
    """Boolean `mask` grown by an n x n maximum filter (n at the 80 px scale)."""
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(
        ImageFilter.MaxFilter(odd_px(n)))) > 0


def inpaint(img, mask):
    """Fill `mask` (grown a little) by repeated 5x5 box blurs from its
    surroundings: a Kvasir-SEG frame with its polyp removed."""
    m = grown(mask, 7)
    out = img.astype(np.float32)
    out[m] = out[~m].mean(0)
    for _ in range(60):
        bl = np.asarray(Image.fromarray(out.clip(0, 255).astype(np.uint8)).filter(
            ImageFilter.BoxBlur(2 * PX)), np.float32)
        out[m] = bl[m]
    return out.clip(0, 255).astype(np.uint8)


def inpainted_kvasir(data, i):
    """Kvasir-SEG frame i with its polyp inpainted, at cache size. Computed
    once per frame and kept in `data` (inpaint is the slow step of the
    checks, and the training negatives, the held-out report, the
    capsule-rendered check and --compare all want the same frames)."""
    done = data.setdefault("_inpainted", {})
    if i not in done:
        done[i] = inpaint(data["kimg"][i], data["kmask"][i] >= 128)
        done[i].setflags(write=False)  # shared: a caller that changes it must copy
    return done[i]


def inpaint_copy(img, mask, overlay):
    """Fill `mask` (grown a little) with a feathered copy of another part of
    the same frame, shifted to cover it: the polyp replaced by real colon
    wall rather than a smooth patch. Training negatives are filled this way
    (--inpaint-kind copy) because the checks fill with `inpaint`'s blur: a
    network that learnt the blur patch as a "no polyp" cue would pass those
    checks without having learnt colon wall. None when no shifted copy is
    lit, free of overlays and wholly outside the grown mask."""
    s = img.shape[0]
    m = grown(mask, 9)
    if not m.any():
        return img.copy()
    luma = img.astype(np.float32) @ LUMA
    usable = (luma > 20) & ~overlay & ~m
    ys, xs = np.nonzero(m)
    step = max(1, s // 16)
    best = None  # (usable share, -shift length, dy, dx)
    for dy in range(-s + step, s, step):
        if ys.min() + dy < 0 or ys.max() + dy >= s:
            continue
        for dx in range(-s + step, s, step):
            if xs.min() + dx < 0 or xs.max() + dx >= s:
                continue
            share = usable[ys + dy, xs + dx].mean()
            key = (share, -(dy * dy + dx * dx), dy, dx)
            if share >= 0.98 and (best is None or key > best):
                best = key
    if best is None:
        return None
    dy, dx = best[2], best[3]
    shifted = np.roll(img.astype(np.float32), (-dy, -dx), axis=(0, 1))
    # match the copy's mean colour to the wall around the hole
    ring = grown(m, 7) & ~m & usable
    if ring.any():
        shifted += img[ring].astype(np.float32).mean(0) - shifted[ring].mean(0)
    alpha = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).filter(
        ImageFilter.GaussianBlur(2 * PX)), np.float32) / 255
    alpha = np.maximum(alpha, m)[..., None]
    out = alpha * shifted + (1 - alpha) * img.astype(np.float32)
    return out.clip(0, 255).astype(np.uint8)


def without_overlays(data, kind, i):
    """Kvasir-SEG frame i with its overlays removed (remove_overlays), at
    cache size: kind "frame" the frame itself, "blur" inpainted_kvasir,
    "copy" copy_inpainted_kvasir (which must exist). Computed once and kept
    read-only in `data`."""
    done = data.setdefault("_without_overlays", {})
    key = (kind, int(i))
    if key not in done:
        src = {"frame": lambda: data["kimg"][i], "blur": lambda: inpainted_kvasir(data, i),
               "copy": lambda: copy_inpainted_kvasir(data, i)}[kind]()
        done[key] = remove_overlays(src, data["kovl"][i])
        done[key].setflags(write=False)
    return done[key]


def copy_inpainted_kvasir(data, i):
    """Kvasir-SEG frame i with its polyp covered by inpaint_copy (or None),
    at cache size; computed once and kept read-only in `data`."""
    done = data.setdefault("_copy_inpainted", {})
    if i not in done:
        done[i] = inpaint_copy(data["kimg"][i], data["kmask"][i] >= 128, data["kovl"][i])
        if done[i] is not None:
            done[i].setflags(write=False)
    return done[i]


def report_seed(seed, fold):
    """The seed fold `fold`'s held-out report draws its images with, so that
    a later report on the same fold pairs with it: the final model's (fold
    4) seed + 300, cross-validation's fold F seed + 200 + F."""
    return seed + 300 if fold == 4 else seed + 200 + fold


def missing_shared(shared):
    """The first data set under `shared` without its labels.csv, or None."""
    for sub in ("kvasir-seg", "wcebleedgen"):
        if not os.path.isfile(os.path.join(shared, sub, "labels.csv")):
            return sub
    return None


def heldout_material(shared, cache, seed, fold, smoke):
    """The measuring tools' material (polyp_mirror_score, polyp_standins,
    polyp_size_sensitivity): the frame cache, the Kvasir-SEG frames of
    `fold` and the held-out capsule frames, split as training splits them.
    On the smoke frames, where the fold may be empty, five frames of the
    other folds stand in."""
    data = build_cache(shared, cache, (40, 80) if smoke else None)
    kfold = group_split(data["kgroup"], 5, seed)
    wpart = group_split(data["wgroup"], 5, seed + 1)
    kval, wval = np.nonzero(kfold == fold)[0], np.nonzero(wpart == 0)[0]
    if smoke and len(kval) == 0:
        kval = np.nonzero((kfold != fold) & (kfold >= 0))[0][:5]
    return data, kval, wval


def write_report(path, doc):
    """A measuring tool's report, as indented JSON."""
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def fold_report(net, data, kval, wval, seed):
    seg, kv_scores = seg_metrics(net, data, kval)
    pos, neg = capsule_set(data, kval, wval, seed)
    _, ps = predict(net, pos)
    _, ns = predict(net, neg)
    kb, cb = background_crops(data, kval, wval, seed + 1)
    _, kbs = predict(net, kb)
    _, cbs = predict(net, cb)
    ka, ca = background_crops_alike(data, kval, wval, seed + 2)
    _, kas = predict(net, ka)
    _, cas = predict(net, ca)
    ki = np.stack([resize_u8(inpainted_kvasir(data, i)) for i in kval])
    _, kis = predict(net, ki)
    # the control: capsule frames inpainted the same way, under the mask of
    # a polyp of this fold (an inpainted patch alone must not be the cue)
    rng = np.random.RandomState(seed + 3)
    ci = np.stack([resize_u8(inpaint(data["wimg"][i], data["kmask"][kval[rng.randint(len(kval))]]
                                     >= 128)) for i in wval])
    _, cis = predict(net, ci)
    # overlays: the score with and without them, on frames that have them
    has = [i for i in kval if data["kovl"][i].mean() > 0.005]
    dscore = []
    if has:
        a = np.stack([resize_u8(data["kimg"][i]) for i in has])
        b = []
        for i in has:
            b.append(resize_u8(without_overlays(data, "frame", i)))
        _, sa = predict(net, a)
        _, sb = predict(net, np.stack(b))
        dscore = np.abs(sa - sb)
    # trivial features on polyp frames (Kvasir + pasted): border share and
    # brightness must not predict the score
    feats, scores = [], []
    for img, sc in [(resize_u8(data["kimg"][i]), kv_scores[j]) for j, i in enumerate(kval)] + \
            [(pos[j], ps[j]) for j in range(len(pos))]:
        luma = img.astype(np.float32) @ LUMA
        feats.append([(luma < 20).mean(), luma.mean()])
        scores.append(sc)
    feats, scores = np.array(feats), np.array(scores)
    corr = {}
    for j, name in enumerate(["border_share", "mean_brightness"]):
        f = feats[:, j]
        c = float(np.corrcoef(f, scores)[0, 1]) if f.std() > 0 and scores.std() > 0 else 0.0
        corr[name] = c
    X = np.column_stack([feats, np.ones(len(feats))])
    coef, *_ = np.linalg.lstsq(X, scores, rcond=None)
    r2 = 1 - ((scores - X @ coef) ** 2).sum() / max(((scores - scores.mean()) ** 2).sum(), 1e-12)
    return dict(
        kvasir=seg,
        capsule=dict(n_pos=len(ps), n_neg=len(ns), auroc=auroc(ps, ns)),
        source_auroc_polyp_free=dict(auroc=auroc(kbs, cbs), n_kvasir=len(kbs), n_capsule=len(cbs),
                                     interval95=auroc_interval(kbs, cbs, seed),
                                     note="score of Kvasir-SEG background crops vs capsule crops; "
                                          "0.5 = the score does not tell the sources apart"),
        source_auroc_polyp_free_alike=dict(
            auroc=auroc(kas, cas), n_kvasir=len(kas), n_capsule=len(cas),
            interval95=auroc_interval(kas, cas, seed),
            note="the same, both sources' crops drawn by one rule (random place, >= 95 % "
                 "inside the lit field)"),
        source_auroc_inpainted=dict(auroc=auroc(kis, ns), n_kvasir=len(kis), n_capsule=len(ns),
                                    interval95=auroc_interval(kis, ns, seed),
                                    kvasir_flagged_at_final_threshold=None,
                                    note="whole Kvasir-SEG frames with the polyp inpainted vs "
                                         "whole held-out capsule frames"),
        source_auroc_inpainted_alike=dict(
            auroc=auroc(kis, cis), n_kvasir=len(kis), n_capsule=len(cis),
            interval95=auroc_interval(kis, cis, seed),
            note="the same, the capsule frames inpainted too, under a polyp mask of this fold"),
        overlay_removal=dict(n=len(dscore),
                             mean_abs_score_change=float(np.mean(dscore)) if len(dscore) else None,
                             max_abs_score_change=float(np.max(dscore)) if len(dscore) else None),
        trivial_features_on_polyp_frames=dict(pearson=corr, r2_linear=float(r2)),
        _inpainted_scores=kis), ps, ns


def training_frames_gap(net, data, ktr, wtr, seed, thr):
    """The source AUROC on polyp-free crops, taken from the frames the model
    trained on (its Kvasir-SEG folds' background, which it saw as negatives,
    and its capsule train groups). Equal to the held-out figure: the network
    learnt the gap; far lower: the held-out gap is a failure to generalise to
    new colonoscopy frames."""
    kb, cb = background_crops(data, ktr, wtr, seed)
    return gap_report(net, kb, cb, seed, thr,
                      "polyp-free crops as source_auroc_polyp_free, from the training frames")


def gap_report(net, kimgs, cimgs, seed, thr, note):
    """Source AUROC of the score on Kvasir-SEG images against capsule ones,
    its interval and the share of each flagged at the threshold."""
    _, ks = predict(net, kimgs)
    _, cs = predict(net, cimgs)
    return dict(auroc=auroc(ks, cs), n_kvasir=len(ks), n_capsule=len(cs),
                interval95=auroc_interval(ks, cs, seed),
                kvasir_flagged=float(np.mean(ks >= thr)), capsule_flagged=float(np.mean(cs >= thr)),
                note=note)


def capsule_rendered_sets(data, kval, wval, seed):
    """Whole Kvasir-SEG frames with the polyp inpainted, and whole capsule
    frames, both rendered as capsule video by capsule_look (the training's
    augmentation, one fixed draw per frame): colon wall as a capsule camera
    might show it, the nearest this data comes to colon-capsule frames
    without a polyp."""
    rng = np.random.RandomState(seed)
    z = np.zeros((CACHE_SIDE, CACHE_SIDE), np.float32)
    ki = np.stack([capsule_look(rng, inpainted_kvasir(data, i), z)[0]
                   for i in kval])
    cw = np.stack([capsule_look(rng, data["wimg"][i], z)[0] for i in wval])
    return ki, cw


def capsule_rendered_gap(net, data, kval, wval, seed, thr):
    """The source AUROC of capsule_rendered_sets: does the gap survive when
    the colonoscope's sharpness, light and field are replaced by the
    capsule's?"""
    ki, cw = capsule_rendered_sets(data, kval, wval, seed)
    return gap_report(net, ki, cw, seed, thr,
                      "whole Kvasir-SEG frames, polyp inpainted, vs whole capsule frames, both "
                      "through the training's capsule look (one fixed draw)")


def colon_rendered_pairs(data, kval, seed, fill):
    """Each held-out Kvasir-SEG frame twice through capsule_look under one
    draw of it: as it is, with its polyp, and with the polyp removed (fill
    "blur": inpainted_kvasir; "copy": copy_inpainted_kvasir, the frames it
    cannot fill left out). A pair is kept only when the polyp is still in
    the rendered frame (the look's crop and field can cut it out). Both
    sides are colon wall from one colonoscope, so the source cannot rank
    them: the nearest this data comes to the same-device colon-capsule
    check (polyp frames against normal colon frames)."""
    rng = np.random.RandomState(seed)
    z = np.zeros((CACHE_SIDE, CACHE_SIDE), np.float32)
    polyp, free, kept = [], [], []
    for i in kval:
        filled = inpainted_kvasir(data, i) if fill == "blur" else copy_inpainted_kvasir(data, i)
        if filled is None:
            continue
        st = rng.get_state()
        a, m = capsule_look(rng, data["kimg"][i], (data["kmask"][i] >= 128).astype(np.float32))
        rng.set_state(st)
        b, _ = capsule_look(rng, filled, z)
        if m.any():
            polyp.append(a)
            free.append(b)
            kept.append(int(i))
    empty = np.zeros((0, IN, IN, 3), np.uint8)
    return (np.stack(polyp) if polyp else empty), (np.stack(free) if free else empty), kept


def site_operating_point(ps, fs, seed, target=0.90):
    """What a site that sets its own threshold (capscreen eval
    --target-specificity, docs/engine.md) would get on this material: the
    pairs split in two halves at random (a pair's two frames stay
    together); on each half the lowest threshold among its scores whose
    specificity there is >= target (as the C tool chooses it), measured
    on the other half. Returns the two thresholds and the mean sensitivity
    and specificity on the halves that did not choose them; None with
    fewer than 4 pairs, or when no score of a half reaches the target."""
    ps, fs = np.asarray(ps, float), np.asarray(fs, float)
    if len(ps) < 4:
        return None
    order = np.random.RandomState(seed).permutation(len(ps))
    halves = (order[: len(ps) // 2], order[len(ps) // 2:])
    out = dict(target_specificity=target, thresholds=[], sensitivity=[], specificity=[])
    for fit, test in (halves, halves[::-1]):
        cand = np.unique(np.concatenate([ps[fit], fs[fit]]))
        ok = [t for t in cand if np.mean(fs[fit] < t) >= target]
        if not ok:  # no score of this half reaches the target: nothing to measure
            return None
        t = float(min(ok))
        out["thresholds"].append(t)
        out["sensitivity"].append(float(np.mean(ps[test] >= t)))
        out["specificity"].append(float(np.mean(fs[test] < t)))
    out["mean_sensitivity"] = float(np.mean(out["sensitivity"]))
    out["mean_specificity"] = float(np.mean(out["specificity"]))
    return out


def colon_rendered_scores(net, data, kval, seed, fill):
    """colon_rendered_pairs scored: (polyp frames' scores, polyp-free
    frames' scores, the Kvasir-SEG frames kept)."""
    pf, ff, kept = colon_rendered_pairs(data, kval, seed, fill)
    return predict(net, pf)[1], predict(net, ff)[1], kept


def colon_rendered_report(net, data, kval, seed, thr, fill, scores=None):
    """colon_rendered_pairs scored (or `scores`, colon_rendered_scores' of
    the same arguments): the AUROC of polyp frames against the
    polyp-free colon frames, the share of pairs whose polyp frame scores
    higher, and the share of each side flagged at the threshold. With
    the blur fill, also the AUROC on the frames the copy fill can cover
    and on the others: the fill and the frames, told apart."""
    ps, fs, kept = scores if scores is not None else colon_rendered_scores(net, data, kval, seed, fill)
    extra = {}
    if fill == "blur":
        fillable = np.array([copy_inpainted_kvasir(data, i) is not None for i in kept], bool)
        extra = dict(auroc_copy_fillable_frames=auroc(ps[fillable], fs[fillable]),
                     auroc_other_frames=auroc(ps[~fillable], fs[~fillable]),
                     n_copy_fillable_frames=int(fillable.sum()))
    return dict(auroc=auroc(ps, fs), n_pairs=len(ps), interval95=auroc_interval(ps, fs, seed),
                pair_share_polyp_higher=float(np.mean(ps > fs)) if len(ps) else None,
                polyp_flagged=float(np.mean(ps >= thr)) if len(ps) else None,
                polyp_free_flagged=float(np.mean(fs >= thr)) if len(fs) else None,
                site_threshold_spec90=site_operating_point(ps, fs, seed),
                fill=fill, **extra,
                note="held-out Kvasir-SEG frames with their polyp against the same frames with "
                     "the polyp removed, each pair through one draw of the training's capsule "
                     "look: polyp against normal colon wall, one source on both sides")


def paired_auroc_difference(a_pos, a_neg, b_pos, b_neg, seed, n=1000):
    """AUROC of model a minus that of model b on the same samples (a_pos[i]
    and b_pos[i] are two models' scores of one image), with a 95 %
    bootstrap interval: each draw resamples the frames once and scores both
    models on them. Shared samples cancel most of the sampling noise, so the
    interval is that of the difference, far narrower than either model's
    own (auroc_interval). It says nothing of the variation between two
    trainings of one recipe, which a single run cannot show."""
    a_pos, a_neg = np.asarray(a_pos, float), np.asarray(a_neg, float)
    b_pos, b_neg = np.asarray(b_pos, float), np.asarray(b_neg, float)
    if min(len(a_pos), len(a_neg)) == 0:  # e.g. no frame the copy fill can cover
        return dict(difference=None, interval95=None, evaluated=None, compared=None)
    d = auroc(a_pos, a_neg) - auroc(b_pos, b_neg)
    rng = np.random.RandomState(seed)
    v = []
    for _ in range(n):
        ip, ineg = rng.randint(len(a_pos), size=len(a_pos)), rng.randint(len(a_neg), size=len(a_neg))
        v.append(auroc(a_pos[ip], a_neg[ineg]) - auroc(b_pos[ip], b_neg[ineg]))
    return dict(difference=float(d), interval95=[float(np.percentile(v, 2.5)),
                                                  float(np.percentile(v, 97.5))],
                evaluated=auroc(a_pos, a_neg), compared=auroc(b_pos, b_neg))


def paired_mean_difference(a, b, seed, n=1000):
    """Mean of a - b, where a[i] and b[i] are two models' measures of one
    frame (a Dice, a hit), with a 95 % bootstrap interval over the frames:
    as paired_auroc_difference, for a per-frame mean."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0:
        return dict(difference=None, interval95=None, evaluated=None, compared=None)
    d = a - b
    rng = np.random.RandomState(seed)
    v = [d[rng.randint(len(d), size=len(d))].mean() for _ in range(n)]
    return dict(difference=float(d.mean()), interval95=[float(np.percentile(v, 2.5)),
                                                         float(np.percentile(v, 97.5))],
                evaluated=float(a.mean()), compared=float(b.mean()))


def compare_sets(data, kval, wval, ktr, wtr, seed, report_seed=None, names=None):
    """The image sets that --evaluate --compare scores, by measure name:
    (positives, negatives), drawn with the seeds of the report's own
    measures so that they pair (compare_models). `names` keeps only those
    measures (and draws only their images); ktr and wtr are read only for
    source_auroc_polyp_free_training_frames."""
    rs = seed if report_seed is None else report_seed
    draw = dict(
        capsule_auroc=lambda: capsule_set(data, kval, wval, rs),
        source_auroc_polyp_free=lambda: background_crops(data, kval, wval, rs + 1),
        source_auroc_polyp_free_alike=lambda: background_crops_alike(data, kval, wval, rs + 2),
        source_auroc_inpainted=lambda: (
            np.stack([resize_u8(inpainted_kvasir(data, i)) for i in kval]),
            np.stack([resize_u8(data["wimg"][i]) for i in wval])),  # capsule_set's negatives
        # seed as training_frames_gap's
        source_auroc_polyp_free_training_frames=lambda: background_crops(data, ktr, wtr, seed + 1),
        source_auroc_capsule_rendered=lambda: capsule_rendered_sets(data, kval, wval, seed + 2),
        # as the report's colon_rendered_report
        colon_rendered_polyp_blur=lambda: colon_rendered_pairs(data, kval, seed + 3, "blur")[:2],
        colon_rendered_polyp_copy=lambda: colon_rendered_pairs(data, kval, seed + 4, "copy")[:2])
    return {k: f() for k, f in draw.items() if names is None or k in names}


def compare_models(net, ref, data, kval, wval, ktr, wtr, seed, report_seed=None):
    """--evaluate W --compare REF: the measures of fold_report and
    training_frames_gap, recomputed on the very same images (same seeds) for
    both networks, as paired differences W - REF. report_seed is the seed
    fold_report drew its capsule set and crops with (default seed: fold 4's,
    the final model's; another fold's report draws them with its own), seed
    that of the --evaluate report's other measures."""
    def both(imgs):
        return predict(net, imgs)[1], predict(ref, imgs)[1]

    out = {}
    for name, (p, q) in compare_sets(data, kval, wval, ktr, wtr, seed, report_seed).items():
        (ap_, bp), (an, bn) = both(p), both(q)
        out[name] = paired_auroc_difference(ap_, an, bp, bn, seed)
    # the outline on the held-out Kvasir-SEG frames, frame by frame (seg_metrics')
    da, _, ha, _ = seg_per_frame(net, data, kval)
    db, _, hb, _ = seg_per_frame(ref, data, kval)
    out["outline_dice"] = paired_mean_difference(da, db, seed)
    out["outline_hit_rate"] = dict(paired_mean_difference(ha, hb, seed),
                                   hit_only_evaluated=int(np.sum(ha & ~hb)),
                                   hit_only_compared=int(np.sum(hb & ~ha)))
    out["note"] = ("AUROC of the evaluated weights minus the --compare weights on the same images; "
                   "95 % paired bootstrap interval over those images; outline_dice and "
                   "outline_hit_rate: the mean over the held-out Kvasir-SEG frames of each "
                   "frame's Dice or hit (as kvasir's), paired the same way, with the frames "
                   "that only one of the two hits")
    return out

# --------------------------------------------------------------------------
# Export: BN folded into each conv, then the documented binary format

def folded_layers(net):
    """[(name, weight ndarray OIHW, bias ndarray)] in the file's order."""
    out = []

    def fold(name, cb):
        w = cb.conv.weight.detach().double()
        bn = cb.bn
        sc = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        b = bn.bias.detach().double() - bn.running_mean.double() * sc
        out.append((name, (w * sc[:, None, None, None]).float().numpy(), b.float().numpy()))

    fold("enc0", net.enc0)
    for n in ["enc1", "enc1b", "enc2", "enc2b", "enc3", "enc3b", "enc3c", "dec2", "dec1", "dec0"]:
        blk = getattr(net, n)
        fold(n + ".dw", blk.dw)
        fold(n + ".pw", blk.pw)
    out.append(("head", net.head.weight.detach().float().numpy(),
                net.head.bias.detach().float().numpy()))
    return out


def write_weights(net, path, threshold):
    layers = folded_layers(net)
    body = bytearray()
    body += MAGIC
    if (IN, OUT, TOPK) == (80, 40, 16):
        # version 1: input 80, heatmap 40 implied; the shipped 80 px model
        # stays byte for byte what it was
        body += struct.pack("<IIIIIf", 1, IN, TOPK, len(WIDTHS), len(layers), threshold)
    else:  # version 2 carries the heatmap side
        body += struct.pack("<IIIIIIf", 2, IN, OUT, TOPK, len(WIDTHS), len(layers), threshold)
    body += struct.pack("<4I", *WIDTHS)
    for name, w, b in layers:
        nm = name.encode()
        body += struct.pack("<16s", nm)
        body += struct.pack("<4I", *w.shape)
        body += np.ascontiguousarray(w, "<f4").tobytes()
        body += np.ascontiguousarray(b, "<f4").tobytes()
    body += struct.pack("<I", crc32c(bytes(body)))
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, path)


class MeanLogits(nn.Module):
    """An ensemble of networks read back from weights files: the mean of
    their logit maps (summed in order, then divided, as the C engine does
    for a version-3 file), which the frame score and the outline then pool
    as for one network (--evaluate W1,W2; write_ensemble)."""

    def __init__(self, nets, crop_gate=None):
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.crop_gate = crop_gate  # a version-4 file's (predict); None: one pass

    def forward(self, x):
        return sum(n(x) for n in self.nets) / len(self.nets)


ENSEMBLE_VERSION = 3
CROP_ENSEMBLE_VERSION = 4  # an ensemble whose frame score also reads five crops
ENSEMBLES = (ENSEMBLE_VERSION, CROP_ENSEMBLE_VERSION)
MAX_MEMBERS = 4  # the engine's CS_POLYP_MAX_MEMBERS


def share_range(text, lo, hi):
    """'LO,HI' as two floats with lo <= LO < HI <= hi (shares of a frame
    side), or None: an option's value, its limits the option's own."""
    try:
        pair = tuple(float(v) for v in text.split(","))
    except ValueError:
        return None
    return pair if len(pair) == 2 and lo <= pair[0] < pair[1] <= hi else None


def check_crop_gate(gate):
    """A version-4 file's crop gate as a float32, refused outside [0, 1)."""
    g32 = struct.unpack("<f", struct.pack("<f", gate))[0]
    if not (math.isfinite(g32) and 0.0 <= g32 < 1.0):
        raise ValueError(f"crop gate {gate} outside [0, 1)")
    return g32


def write_ensemble(members, path, threshold, crop_gate=None):
    """A version-3 weights file (docs/engine.md, "Polyp weights file"):
    the member files' bytes (as scored: `members` holds the bytes, not the
    paths), each after its length, under a header with the ensemble's own
    threshold, and the CRC-32C of it all. The engine runs every member and
    averages their logits, as MeanLogits. With `crop_gate` a version-4
    file: the same with the gate after the threshold, and the engine's
    frame score then also reads five crops of a frame whose one-pass score
    reaches it (predict). Refuses what the engine would."""
    if not 2 <= len(members) <= MAX_MEMBERS:
        raise ValueError(f"an ensemble has 2 to {MAX_MEMBERS} members, not {len(members)}")
    thr32 = struct.unpack("<f", struct.pack("<f", threshold))[0]
    if not 0.0 < thr32 < 1.0:
        raise ValueError(f"ensemble threshold {threshold} outside (0, 1) as a float")
    if crop_gate is None:
        body = bytearray(MAGIC + struct.pack("<IIf", ENSEMBLE_VERSION, len(members), threshold))
    else:
        body = bytearray(MAGIC + struct.pack("<IIff", CROP_ENSEMBLE_VERSION, len(members),
                                             threshold, check_crop_gate(crop_gate)))
    for i, member in enumerate(members):
        if struct.unpack_from("<I", member, 8)[0] in ENSEMBLES:
            raise ValueError(f"member {i + 1}: an ensemble cannot be a member")
        body += struct.pack("<I", len(member)) + member
    body += struct.pack("<I", crc32c(bytes(body)))
    with open(path + ".partial", "wb") as f:
        f.write(body)
    os.replace(path + ".partial", path)


def read_weights(path, body=None):
    """A weights file written by write_weights -> (PolypNet in eval mode,
    threshold); a version-3 file (write_ensemble) -> (MeanLogits of its
    members, its threshold); a version-4 file the same, with the
    MeanLogits' `crop_gate` set (predict reads it). Each folded layer becomes a convolution whose
    batch norm is the identity plus the folded bias, so the network
    computes what the file holds. For --evaluate; the C loader is the one
    the engine uses."""
    body = open(path, "rb").read() if body is None else body
    if body[:8] != MAGIC or len(body) < 12 or \
            struct.unpack("<I", body[-4:])[0] != crc32c(body[:-4]):
        raise ValueError(f"{path}: not a polyp weights file, or damaged")
    version = struct.unpack_from("<I", body, 8)[0]
    if version in ENSEMBLES:  # the C loader's checks, in its order
        head = 20 if version == ENSEMBLE_VERSION else 24
        if len(body) < head + 4:
            raise ValueError(f"{path}: polyp ensemble cut short ({len(body)} bytes)")
        k, thr = struct.unpack_from("<If", body, 12)
        if not 2 <= k <= MAX_MEMBERS:
            raise ValueError(f"{path}: polyp ensemble of {k} networks (2 to {MAX_MEMBERS})")
        if not 0.0 < thr < 1.0:
            raise ValueError(f"{path}: polyp ensemble threshold {thr} outside (0, 1)")
        gate = None
        if version == CROP_ENSEMBLE_VERSION:
            try:
                gate = check_crop_gate(struct.unpack_from("<f", body, 20)[0])
            except ValueError as e:
                raise ValueError(f"{path}: polyp ensemble {e}") from None
        o, end, nets = head, len(body) - 4, []
        for i in range(k):
            if end - o < 4:
                raise ValueError(f"{path}: polyp ensemble member {i + 1} of {k} missing")
            n = struct.unpack_from("<I", body, o)[0]
            o += 4
            if n > end - o:
                raise ValueError(f"{path}: polyp ensemble member {i + 1} of {k} cut short")
            member = body[o:o + n]
            if len(member) >= 12 and struct.unpack_from("<I", member, 8)[0] in ENSEMBLES:
                raise ValueError(f"{path}: member {i + 1} of {k} is an ensemble")
            nets.append(read_weights(f"{path} member {i + 1} of {k}", member)[0])
            o += n
        if o != end:
            raise ValueError(f"{path}: {end - o} bytes after the polyp ensemble's last member")
        return MeanLogits(nets, gate).eval(), float(thr)
    if version == 1:
        _, side, topk, nw, nl, thr = struct.unpack_from("<IIIIIf", body, 8)
        o = 8 + 24
    else:
        _, side, _, topk, nw, nl, thr = struct.unpack_from("<IIIIIIf", body, 8)
        o = 8 + 28
    if (side, topk) != (IN, TOPK):
        raise ValueError(f"{path}: input {side}, top-k {topk}; pass --input-side {side}")
    widths = struct.unpack_from(f"<{nw}I", body, o)
    o += 4 * nw
    net = PolypNet(widths)
    for _ in range(nl):
        name = struct.unpack_from("<16s", body, o)[0].rstrip(b"\0").decode()
        shape = struct.unpack_from("<4I", body, o + 16)
        o += 32
        n = int(np.prod(shape))
        w = torch.from_numpy(np.frombuffer(body, "<f4", n, o).reshape(shape).copy())
        o += 4 * n
        b = torch.from_numpy(np.frombuffer(body, "<f4", shape[0], o).copy())
        o += 4 * shape[0]
        if name == "head":
            net.head.weight.data, net.head.bias.data = w, b
            continue
        m = net
        for part in name.split("."):
            m = getattr(m, part)
        m.conv.weight.data = w
        m.bn.weight.data.fill_(1.0)
        m.bn.bias.data = b
        m.bn.running_mean.zero_()
        m.bn.running_var.fill_(1.0 - m.bn.eps)
    net.eval()
    return net.to(memory_format=torch.channels_last), float(thr)


@torch.no_grad()
def write_reference(net, path, img_u8):
    """A test vector for the C engine: one input frame (IN x IN RGB) and the
    network's logits for it, from the folded weights' graph."""
    lg = net(to_input(img_u8[None]))[0].numpy().astype("<f4")
    score = float(torch.sigmoid(frame_logit(torch.from_numpy(lg[None])))[0])
    with open(path + ".partial", "wb") as f:
        f.write(b"CSPREF01")
        f.write(struct.pack("<IIf", IN, OUT, score))
        f.write(img_u8.astype(np.uint8).tobytes())
        f.write(lg.tobytes())
    os.replace(path + ".partial", path)


# --------------------------------------------------------------------------

def write_labels(folder, rows):
    """folder/labels.csv for `capscreen eval --finding polyp`: (file, 0/1)."""
    with open(os.path.join(folder, "labels.csv"), "w") as f:
        f.write("file,polyp\n" + "".join(f"{name},{v}\n" for name, v in rows))


def write_heldout(shared, out, seed, fold=4):
    """The shipped model's held-out material as a folder `capscreen eval
    --finding polyp --masks` reads: Kvasir-SEG fold 4 (positives, with
    masks) and the held-out WCEBleedGen groups (negatives), as symbolic
    links, and labels.csv. The same splits as training (same seed, the
    cache's order: files sorted by name). Beside it, `folds0-3`: the
    Kvasir-SEG frames the shipped model trained on, the same way (the
    outline rule was chosen on them). Another `fold` (0-3): that fold's
    frames as the positives, for a network that held it out (--evaluate
    A,B,C --fold F --out), and no `folds0-3`. Returns the three counts
    (the last 0 then)."""
    kv = sorted(read_csv(os.path.join(shared, "kvasir-seg", "labels.csv")), key=lambda r: r["file"])
    wc = sorted(read_csv(os.path.join(shared, "wcebleedgen", "labels.csv")), key=lambda r: r["file"])
    kfold = group_split(np.array([int(r["group"]) for r in kv]), 5, seed)
    wpart = group_split(np.array([int(r["group"]) for r in wc]), 5, seed + 1)
    train = os.path.join(out, "folds0-3") if fold == 4 else None
    for d in (out, train) if train else (out,):
        for sub in ("frames", "masks"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)

    def link(src, dst):
        if os.path.lexists(dst):
            os.remove(dst)
        os.symlink(os.path.abspath(src), dst)

    rows, train_rows = [], []
    for r, f in zip(kv, kfold):
        if f != fold and not train:
            continue
        d = out if f == fold else train
        link(os.path.join(shared, "kvasir-seg", "images", r["file"]),
             os.path.join(d, "frames", r["file"]))
        link(os.path.join(shared, "kvasir-seg", "masks", r["file"]),
             os.path.join(d, "masks", r["file"]))
        (rows if f == fold else train_rows).append((r["file"], 1))
    for r, p in zip(wc, wpart):
        if p == 0:
            link(os.path.join(shared, "wcebleedgen", "images", r["file"]),
                 os.path.join(out, "frames", r["file"]))
            rows.append((r["file"], 0))
    write_labels(out, rows)
    if train:
        write_labels(train, train_rows)
    return sum(v for _, v in rows), sum(1 - v for _, v in rows), len(train_rows)


def write_outline_sets(data, out, seed):
    """Beside the held-out folder, two more for `capscreen eval --finding
    polyp --masks`, each with frames/, masks/ and labels.csv:
    `pasted-folds0-3` and `pasted-fold4`, each of those Kvasir-SEG polyps
    pasted into a held-out capsule frame as in capsule_set (at cache size,
    JPEG quality 95; its label mask as PNG). The outline rule was chosen on
    the first (and on `folds0-3`, write_heldout); the second is the
    "Threshold" positives with masks. Seeded: the same folders every time."""
    kfold = group_split(data["kgroup"], 5, seed)
    wheld = np.nonzero(group_split(data["wgroup"], 5, seed + 1) == 0)[0]
    counts = {}
    for name, kidx, pseed in (("pasted-fold4", np.nonzero(kfold == 4)[0], seed),
                              ("pasted-folds0-3", np.nonzero(kfold != 4)[0], seed + 86)):
        d = os.path.join(out, name)
        for sub in ("frames", "masks"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        rows = []
        for k, img, label in pasted_polyps(data, kidx, wheld, pseed):
            f = "pasted-%04d" % k
            Image.fromarray(img).save(os.path.join(d, "frames", f + ".jpg"), quality=95)
            Image.fromarray(((label > 0.5) * 255).astype(np.uint8)).save(
                os.path.join(d, "masks", f + ".png"))
            rows.append((f + ".jpg", 1))
        write_labels(d, rows)
        counts[name] = len(rows)
    return counts


# The settings that make two trainings the same recipe (--part cv checks them
# against the metrics file it joins).
CV_RECIPE_KEYS = ("seed", "widths", "epochs", "input_side", "source_weight", "overlay_weight",
                  "light_share", "capsule_zoom", "colour_swap", "swap_kind", "domain_weight",
                  "overlay_lookalikes", "paste_negatives", "kvasir_background",
                  "capsule_negatives", "kvasir_inpainted", "inpaint_kind", "polyp_pairs",
                  "pair_weight", "overlay_measures", "level_weight", "level_ceiling",
                  "mixstyle", "mixstyle_levels", "mixstyle_samples", "paste_side",
                  "source_label_balance")


def main():
    global WIDTHS, LIGHT_SHARE, CAPSULE_ZOOM, OVERLAY_MEASURES, COLOUR_SWAP, SWAP_KIND
    global OVERLAY_LOOKALIKES, PASTE_NEGATIVES, KVASIR_BACKGROUND, CAPSULE_NEGATIVES, \
        KVASIR_INPAINTED, INPAINT_KIND, POLYP_PAIRS, PAIR_WEIGHT, PASTE_SIDE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", required=True, help="folder holding kvasir-seg/ and wcebleedgen/")
    ap.add_argument("--cache", required=True, help="gitignored cache folder")
    ap.add_argument("--out", help="weights file to write; with --evaluate W1,W2: the "
                                  "ensemble's (version 3, at the threshold chosen there)")
    ap.add_argument("--metrics", required=True, help="metrics JSON to write")
    ap.add_argument("--reference", help="C test vector to write (tests/data/...)")
    ap.add_argument("--epochs", type=int, default=168)
    ap.add_argument("--cv-epochs", type=int, default=None,
                    help="epochs of each cross-validation fold model (0: no CV; "
                         "default: --epochs, so that fold 4 is the shipped model)")
    ap.add_argument("--folds", default="0,1,2,3,4",
                    help="cross-validation folds to run (merged into --metrics)")
    ap.add_argument("--fold-weights", metavar="DIR",
                    help="also write each cross-validation fold model as DIR/foldF.bin (its "
                         "threshold by training's rule on its fold), so that draws of a fold "
                         "can later be scored together: --evaluate A,B,C --fold F; fold 4, "
                         "when it is the final model itself, is not written again: its "
                         "weights are --out's)")
    ap.add_argument("--fold", type=int, default=4, choices=range(5),
                    help="with --evaluate: the Kvasir-SEG fold held out (default 4, the "
                         "final model's); the weights must not have trained on it; with "
                         "--write-heldout: the fold written as the positives")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--train-seed", type=int, default=None,
                    help="seed of the final model's initial weights and sample order only "
                         "(default: --seed; fold F's model uses it + 100 + F); the splits "
                         "and checks stay those of --seed, so a second draw of a recipe is "
                         "scored on the same held-out images")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--part", choices=["all", "final", "cv"], default="all",
                    help="final: only the shipped model; cv: only the cross-validation, "
                         "merged into the --metrics file of that shipped model (each part "
                         "and fold is seeded on its own, so split runs give what 'all' gives)")
    ap.add_argument("--widths", default=",".join(map(str, WIDTHS)),
                    help="channel widths of the four levels (the weights file records them)")
    ap.add_argument("--source-weight", type=float, default=0.0,
                    help="weight of the source-ranking penalty on polyp-free frames (off: "
                         "at 4 it cost capsule AUROC, docs/polyp-trials.md)")
    ap.add_argument("--level-weight", type=float, default=0.0,
                    help="weight of the heatmap-level penalty: polyp-free Kvasir-SEG samples "
                         "may not sit above polyp-free capsule frames (0 = off; a trial, "
                         "docs/polyp-trials.md)")
    ap.add_argument("--level-ceiling", type=float, metavar="LOGITS",
                    help="with --level-weight: the polyp-free capsule frames' heatmap level "
                         "may not rise above this either (a trial)")
    ap.add_argument("--mixstyle", type=float, default=0.0, metavar="P",
                    help="share of training batches whose shallow features mix their style "
                         "across the two sources (MixStyle; 0 = off; a trial, "
                         "docs/polyp-trials.md)")
    ap.add_argument("--mixstyle-levels", default=",".join(MIXSTYLE_LEVELS), metavar="L[,L]",
                    help="with --mixstyle: the shallow levels whose style is mixed, enc0 "
                         "and/or enc1 (default both; a trial)")
    ap.add_argument("--mixstyle-samples", default="all", choices=MIXSTYLE_SAMPLES,
                    help="with --mixstyle: mix every sample's style, or only the polyp-free "
                         "samples' among themselves (a trial)")
    ap.add_argument("--source-label-balance", default="off", metavar="MODE[,MODE...]",
                    help="weight the loss so that the label is independent of the source "
                         "(colonoscopy or capsule frame): off, frame (per sample), pixel "
                         "(per heatmap cell) or negatives (per polyp-free sample; polyp "
                         "samples keep weight 1) (trials, docs/polyp-trials.md); with --part cv, "
                         "a list (off,frame) trains one network per mode in lockstep on one "
                         "stream of samples, each the same bytes as trained alone, with one "
                         "--metrics file and --fold-weights folder per mode (comma-separated)")
    ap.add_argument("--overlay-weight", type=float, default=4.0,
                    help="weight of the overlay-pair consistency penalty")
    ap.add_argument("--light-share", type=float, default=LIGHT_SHARE,
                    help="share of samples given the light look (tried at 0.2: see the model card)")
    ap.add_argument("--colour-swap", type=float, default=COLOUR_SWAP,
                    help="share of samples given the colour statistics of a frame of the "
                         "other source (0 = off)")
    ap.add_argument("--swap-kind", choices=["colour", "fourier"], default=SWAP_KIND,
                    help="what --colour-swap transfers: colour statistics, or the "
                         "low-frequency amplitude spectrum (Fourier domain adaptation)")
    ap.add_argument("--overlay-lookalikes", type=float, default=0.0,
                    help="share of samples of every source given a black corner rectangle "
                         "and/or light corner text, as colonoscopy overlays look (0 = off)")
    ap.add_argument("--domain-weight", type=float, default=0.0,
                    help="weight of a domain-adversarial source head (gradient reversal) "
                         "on the features of polyp-free samples (0 = off)")
    ap.add_argument("--capsule-zoom", type=float, default=CAPSULE_ZOOM,
                    help="share of capsule negatives taken as close-up crops (tried at 0.3)")
    ap.add_argument("--paste-side", default=",".join(map(str, PASTE_SIDE)), metavar="LO,HI",
                    help="box side of the pasted polyps and backgrounds in training, as a share "
                         "of the frame side, drawn uniformly (the evaluation's pasted polyps "
                         "keep 0.22,0.6)")
    ap.add_argument("--paste-negatives", type=int, default=PASTE_NEGATIVES,
                    help="pasted colonoscopy background patches per epoch (negatives)")
    ap.add_argument("--kvasir-background", type=int, default=KVASIR_BACKGROUND,
                    help="polyp-free Kvasir-SEG crops per epoch (negatives)")
    ap.add_argument("--kvasir-inpainted", type=int, default=KVASIR_INPAINTED,
                    help="whole Kvasir-SEG frames with the polyp inpainted per epoch "
                         "(negatives; a trial, 0 as shipped)")
    ap.add_argument("--inpaint-kind", choices=["blur", "copy"], default=INPAINT_KIND,
                    help="how --kvasir-inpainted frames are filled: blur (as the checks) or "
                         "copy (a shifted part of the same frame, so that no shared fill "
                         "artefact links the training negatives and the checks)")
    ap.add_argument("--polyp-pairs", type=int, default=POLYP_PAIRS,
                    help="copy-fillable Kvasir-SEG frames per epoch seen twice under one "
                         "augmentation, with their polyp and with it covered by their own wall, "
                         "ranked by polyp_pair_loss (default %(default)s)")
    ap.add_argument("--pair-weight", type=float, default=PAIR_WEIGHT,
                    help="weight of that ranking loss (default %(default)s)")
    ap.add_argument("--capsule-negatives", type=int, default=CAPSULE_NEGATIVES,
                    help="capsule frames per epoch (negatives; at most the capsule train frames)")
    ap.add_argument("--overlay-measures", action="store_true",
                    help="overlay pairs, black corner patches, no label under blacked-out "
                         "overlays (tried: see the model card)")
    ap.add_argument("--input-side", type=int, default=80,
                    help="network input side in pixels (heatmap: half of it); 80 is the "
                         "shipped model, larger sides need the engine's larger decode")
    ap.add_argument("--write-heldout", metavar="DIR",
                    help="only write the held-out frames (links), masks and labels.csv for "
                         "capscreen eval --finding polyp --masks, and the folders the outline "
                         "rule was chosen on (DIR/folds0-3, DIR/pasted-*), then stop; with "
                         "--fold F (0-3), fold F's frames as the positives and nothing beside")
    ap.add_argument("--evaluate", metavar="WEIGHTS",
                    help="train nothing: score the network of a weights file on the shipped "
                         "model's held-out material (Kvasir-SEG fold 4, held-out capsule "
                         "groups) at the file's threshold, and write that report to --metrics; "
                         "W1,W2,...: the mean of their logits (an ensemble; --out writes it as "
                         "a version-3 file), at a threshold chosen by the shipped rule "
                         "(choose_threshold_by_size: pastes of every size)")
    ap.add_argument("--crop-gate", type=float, metavar="G",
                    help="with --evaluate W1,W2,...: score the ensemble as a version-4 file "
                         "does (a frame whose one-pass score reaches G takes the highest of it "
                         "and its five crops'), choose its threshold on those scores, and "
                         "--out writes it as version 4 with this gate")
    ap.add_argument("--compare", metavar="WEIGHTS",
                    help="with --evaluate: also score these weights on the same images and "
                         "report the paired AUROC differences (evaluated minus these)")
    ap.add_argument("--save-torch", metavar="PATH",
                    help="also save the trained network's PyTorch state (unfolded), "
                         "for experiments on a trained model")
    ap.add_argument("--checkpoint", metavar="DIR",
                    help="save the state of each training (DIR/final.ckpt, DIR/cvF.ckpt) "
                         "after every epoch and, when the same command runs again (the same "
                         "tool, libraries, options and data; otherwise training starts at "
                         "epoch 1 and says why), go on from it: a resumed training gives the "
                         "same bytes as one never stopped, and a finished one is not trained "
                         "again. Removed once the command has written everything")
    ap.add_argument("--stop-at-epoch", type=int, metavar="N",
                    help="with --checkpoint: stop once a training has done N epochs (or "
                         "more, when resumed past N), its state saved, and exit 3; the same "
                         "command without it goes on from there")
    ap.add_argument("--smoke", action="store_true",
                    help="a few frames, one epoch: checks the tool runs end to end (with "
                         "--cv-epochs N, the cross-validation trains N epochs)")
    a = ap.parse_args()
    if a.compare and not a.evaluate:
        ap.error("--compare goes with --evaluate")
    if a.checkpoint and (a.evaluate or a.write_heldout):
        ap.error("--checkpoint goes with training (not --evaluate or --write-heldout)")
    if a.stop_at_epoch is not None and (not a.checkpoint or a.stop_at_epoch < 1):
        ap.error("--stop-at-epoch takes N >= 1 and goes with --checkpoint (the state it stops "
                 "with is saved there)")
    # --source-label-balance M1,M2,...: one network per mode, in lockstep
    balances = a.source_label_balance.split(",")
    if any(b not in SOURCE_LABEL_BALANCE for b in balances) or len(set(balances)) != len(balances):
        ap.error("--source-label-balance takes %s, or a list of distinct ones (got %r)"
                 % (", ".join(SOURCE_LABEL_BALANCE), a.source_label_balance))
    metrics_paths = a.metrics.split(",") if len(balances) > 1 else [a.metrics]
    fold_dirs = [None] * len(balances)
    if a.fold_weights:
        fold_dirs = a.fold_weights.split(",") if len(balances) > 1 else [a.fold_weights]
    if len(balances) > 1:
        if a.part != "cv" or a.evaluate or a.write_heldout:
            ap.error("--source-label-balance with several modes (networks trained in lockstep) "
                     "goes with --part cv")
        if len(metrics_paths) != len(balances) or len(fold_dirs) != len(balances) \
                or len(set(metrics_paths)) != len(balances):
            ap.error("--source-label-balance %s trains %d networks: give as many distinct "
                     "--metrics files (and --fold-weights folders), comma-separated"
                     % (a.source_label_balance, len(balances)))
    a.source_label_balance = balances[0]  # the one mode of every single-network path
    if a.crop_gate is not None:
        if not a.evaluate or "," not in a.evaluate:
            ap.error("--crop-gate goes with --evaluate W1,W2,... (a version-4 file is an ensemble)")
        try:
            check_crop_gate(a.crop_gate)
        except ValueError as e:
            ap.error(f"--crop-gate: {e}")
    if a.fold != 4 and not (a.evaluate or a.write_heldout):
        ap.error("--fold goes with --evaluate or --write-heldout (training holds out fold 4 "
                 "for the final model)")
    if a.input_side not in INPUT_SIDES:
        ap.error("--input-side takes a multiple of 16 from 64 to 160")
    set_input_side(a.input_side)
    WIDTHS = tuple(int(v) for v in a.widths.split(","))
    LIGHT_SHARE, CAPSULE_ZOOM = a.light_share, a.capsule_zoom
    PASTE_NEGATIVES, KVASIR_BACKGROUND = a.paste_negatives, a.kvasir_background
    # below 0.08 a polyp's label may cover under the 4 heatmap cells that make
    # a frame positive; above 0.6 the cutout with its margin may not fit
    PASTE_SIDE = share_range(a.paste_side, 0.08, 0.6)
    if PASTE_SIDE is None:
        ap.error("--paste-side takes LO,HI with 0.08 <= LO < HI <= 0.6")
    CAPSULE_NEGATIVES = a.capsule_negatives
    KVASIR_INPAINTED = a.kvasir_inpainted
    INPAINT_KIND = a.inpaint_kind
    POLYP_PAIRS, PAIR_WEIGHT = a.polyp_pairs, a.pair_weight
    COLOUR_SWAP = a.colour_swap
    SWAP_KIND = a.swap_kind
    OVERLAY_LOOKALIKES = a.overlay_lookalikes
    OVERLAY_MEASURES = a.overlay_measures
    if len(WIDTHS) != 4 or min(WIDTHS) < 1:
        ap.error("--widths takes four positive integers")
    if min(PASTE_NEGATIVES, KVASIR_BACKGROUND, KVASIR_INPAINTED, POLYP_PAIRS) < 0 \
            or CAPSULE_NEGATIVES < 1:
        ap.error("--paste-negatives, --kvasir-background, --kvasir-inpainted and --polyp-pairs "
                 "take a count >= 0, --capsule-negatives a count >= 1")
    if a.level_weight < 0:
        ap.error("--level-weight takes a weight >= 0 (0 = off)")
    if a.level_ceiling is not None and not a.level_weight:
        ap.error("--level-ceiling goes with --level-weight (it bounds that penalty's capsule side)")
    if a.level_ceiling is not None and not math.isfinite(a.level_ceiling):
        ap.error("--level-ceiling takes a finite level in logits")
    if not 0 <= a.mixstyle <= 1:
        ap.error("--mixstyle takes a share of batches from 0 to 1")
    mix_levels = tuple(x for x in a.mixstyle_levels.split(",") if x)
    if not mix_levels or any(x not in MIXSTYLE_LEVELS for x in mix_levels) \
            or len(set(mix_levels)) != len(mix_levels):
        ap.error("--mixstyle-levels takes enc0, enc1 or enc0,enc1 (got %r)" % a.mixstyle_levels)
    mix_levels = tuple(x for x in MIXSTYLE_LEVELS if x in mix_levels)  # one spelling per set
    if mix_levels != MIXSTYLE_LEVELS and not a.mixstyle:
        ap.error("--mixstyle-levels goes with --mixstyle (it names where that mixing acts)")
    if a.mixstyle_samples != "all" and not a.mixstyle:
        ap.error("--mixstyle-samples goes with --mixstyle (it names which samples that mixing takes)")
    tkw = dict(source_weight=a.source_weight, overlay_weight=a.overlay_weight,
               domain_weight=a.domain_weight, level_weight=a.level_weight,
               level_ceiling=a.level_ceiling, mixstyle=a.mixstyle, mixstyle_levels=mix_levels,
               mixstyle_samples=a.mixstyle_samples,
               source_label_balance=a.source_label_balance)

    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    np.random.seed(a.seed)
    t_start = time.time()
    log = lambda s: print(s, file=sys.stderr, flush=True)

    for sub in ("kvasir-seg", "wcebleedgen"):
        if not os.path.isfile(os.path.join(a.shared, sub, "labels.csv")):
            log(f"train_polyp: no {sub}/labels.csv under {a.shared}")
            return 2
    if not a.out and not a.evaluate and not a.write_heldout:
        ap.error("--out is needed to train")
    if a.evaluate:
        if a.out and "," not in a.evaluate:
            ap.error("--out with --evaluate writes an ensemble: give --evaluate W1,W2")
        try:
            members = a.evaluate.split(",")
            bodies = [open(p, "rb").read() for p in members]  # scored and written alike
            nets = [read_weights(p, b) for p, b in zip(members, bodies)]
            # with --crop-gate: scored, and written, as a version-4 file
            gate = None if a.crop_gate is None else check_crop_gate(a.crop_gate)
            net, thr = nets[0] if len(nets) == 1 else (MeanLogits([n for n, _ in nets], gate), None)
            ref = read_weights(a.compare)[0] if a.compare else None
        except (OSError, ValueError, struct.error) as e:
            log(f"train_polyp: {e}")
            return 2
        data = build_cache(a.shared, a.cache, (40, 80) if a.smoke else None)
        kfold = group_split(data["kgroup"], 5, a.seed)
        wpart = group_split(data["wgroup"], 5, a.seed + 1)
        kva, wh = np.nonzero(kfold == a.fold)[0], np.nonzero(wpart == 0)[0]
        ktr, wtr = np.nonzero((kfold != a.fold) & (kfold >= 0))[0], np.nonzero(wpart != 0)[0]
        if a.smoke and len(kva) == 0:  # as the smoke training scores itself
            kva = np.nonzero((kfold != 4) & (kfold >= 0))[0][:5]
        # the capsule set drawn as the run that made fold F's report drew it
        fold_seed = report_seed(a.seed, a.fold)
        rep, ps, ns = fold_report(net, data, kva, wh, fold_seed)
        # the shipped threshold's rule (choose_threshold_by_size): pastes of
        # every size band against the capsule frames, the blur-fill colon
        # stand-in as a floor
        band_scores = [predict(net, pasted_at(data, kva, wh, a.seed + SIZE_BAND_SEED_OFFSET,
                                              lo, hi)[0])[1] for lo, hi in SIZE_BANDS]
        colon_blur = colon_rendered_scores(net, data, kva, a.seed + 303, "blur")
        by_size = choose_threshold_by_size(band_scores, ns, colon_blur[1])
        training_rule = choose_threshold(ps, ns)["threshold"]
        if thr is None:  # an ensemble: its threshold chosen here, by the shipped rule
            thr = by_size["threshold"]
        rep["capsule"].update(operating_point(ps, ns, thr))
        rep["threshold_rule"] = dict(
            chosen=by_size, at_threshold=size_rule_at(band_scores, ns, colon_blur[1], thr),
            at_training_rule=size_rule_at(band_scores, ns, colon_blur[1], training_rule),
            training_rule_operating_point=operating_point(ps, ns, training_rule),
            crossfit=crossfit_size_rule(band_scores, ns, data["wgroup"][wh], colon_blur[1],
                                        a.seed + 305),
            size_bands=[list(b) for b in SIZE_BANDS],
            note="docs/polyp-trials.md, 'A threshold for polyps of every size': chosen = the "
                 "shipped rule's threshold; at_threshold = this file's (an ensemble's is the "
                 "chosen one); at_training_rule = best sensitivity + specificity with "
                 "specificity >= 0.93 on the 22-60 % pastes, the rule before it")
        kis = rep.pop("_inpainted_scores")
        rep["source_auroc_inpainted"]["kvasir_flagged_at_final_threshold"] = \
            float(np.mean(kis >= thr))
        rep["source_auroc_polyp_free_training_frames"] = training_frames_gap(
            net, data, ktr, wtr, a.seed + 301, thr)
        rep["source_auroc_capsule_rendered"] = capsule_rendered_gap(
            net, data, kva, wh, a.seed + 302, thr)
        for j, fill in enumerate(("blur", "copy")):
            rep[f"colon_rendered_polyp_{fill}"] = colon_rendered_report(
                net, data, kva, a.seed + 303 + j, thr, fill, colon_blur if fill == "blur" else None)
        if a.compare:
            rep["paired_vs_compare"] = compare_models(net, ref, data, kva, wh, ktr, wtr, a.seed + 300,
                                                      fold_seed)
            rep["paired_vs_compare"]["compare_weights"] = os.path.basename(a.compare)
        write_report(a.metrics, dict(
            tool="tools/train_polyp.py --evaluate", weights=",".join(
                os.path.basename(p) for p in members), seed=a.seed, fold=a.fold, threshold=thr,
            threshold_chosen_here=len(members) > 1,
            crop_gate=getattr(net, "crop_gate", None), final=rep))
        log(f"evaluate: {json.dumps(rep)}")
        if a.out:
            write_ensemble(bodies, a.out, thr, getattr(net, "crop_gate", None))
            if a.reference:  # as training writes it, from the file just written
                pos, _ = capsule_set(data, kva[:1], wh, a.seed + 300)
                write_reference(read_weights(a.out)[0], a.reference, pos[0])
            log(f"wrote {a.out}: {len(members)} networks, threshold {thr:.6f}" +
                ("" if a.crop_gate is None else f", crop gate {a.crop_gate:g} (version 4)"))
        return 0
    if a.write_heldout:
        npos, nneg, nsel = write_heldout(a.shared, a.write_heldout, a.seed, a.fold)
        log(f"wrote {a.write_heldout}: {npos} Kvasir-SEG fold-{a.fold} frames with masks, "
            f"{nneg} held-out capsule frames, labels.csv")
        if a.fold != 4:  # the outline sets are the shipped model's (fold 4)
            return 0
        counts = write_outline_sets(build_cache(a.shared, a.cache), a.write_heldout, a.seed)
        log(f"and beside them: folds0-3 ({nsel} frames), " +
            ", ".join(f"{k} ({v} frames)" for k, v in counts.items()))
        return 0
    data = build_cache(a.shared, a.cache, (40, 80) if a.smoke else None)
    kfold = group_split(data["kgroup"], 5, a.seed)
    wpart = group_split(data["wgroup"], 5, a.seed + 1)
    widx_train = np.nonzero(wpart != 0)[0]
    widx_held = np.nonzero(wpart == 0)[0]
    if a.smoke:  # one epoch; cross-validation only when asked for (its --cv-epochs)
        a.epochs, a.cv_epochs = 1, (a.cv_epochs or 0)
    if a.cv_epochs is None:
        a.cv_epochs = a.epochs

    metrics = dict(tool="tools/train_polyp.py", seed=a.seed, input_side=IN, heatmap_side=OUT,
                   cache_side=CACHE_SIDE, topk=TOPK,
                   widths=list(WIDTHS), threads=a.threads, epochs=a.epochs,
                   cv_epochs=a.cv_epochs, smoke=a.smoke,
                   source_weight=a.source_weight, overlay_weight=a.overlay_weight,
                   light_share=a.light_share, capsule_zoom=a.capsule_zoom,
                   colour_swap=a.colour_swap, swap_kind=a.swap_kind,
                   domain_weight=a.domain_weight, overlay_lookalikes=a.overlay_lookalikes,
                   overlay_measures=OVERLAY_MEASURES,
                   paste_negatives=PASTE_NEGATIVES, kvasir_background=KVASIR_BACKGROUND,
                   capsule_negatives=CAPSULE_NEGATIVES, kvasir_inpainted=KVASIR_INPAINTED)
    if INPAINT_KIND != "blur":  # recorded only when changed: the shipped metrics stay as they are
        metrics["inpaint_kind"] = INPAINT_KIND
    if POLYP_PAIRS:
        metrics.update(polyp_pairs=POLYP_PAIRS, pair_weight=PAIR_WEIGHT)
    if a.level_weight:  # recorded only when used, as inpaint_kind
        metrics["level_weight"] = a.level_weight
    if a.level_ceiling is not None:
        metrics["level_ceiling"] = a.level_ceiling
    if a.mixstyle:
        metrics["mixstyle"] = a.mixstyle
    if mix_levels != MIXSTYLE_LEVELS:  # recorded only when not the default, as level_weight
        metrics["mixstyle_levels"] = list(mix_levels)
    if a.mixstyle_samples != "all":  # the same
        metrics["mixstyle_samples"] = a.mixstyle_samples
    if PASTE_SIDE != (0.22, 0.6):
        metrics["paste_side"] = list(PASTE_SIDE)

    def arm_metrics(mode):  # the metrics file of the network of one balance mode
        doc = dict(metrics)
        if mode != "off":  # recorded only when used, as level_weight
            doc["source_label_balance"] = mode
        return doc

    docs = [arm_metrics(mode) for mode in balances]
    metrics = docs[0]

    def save(doc=None, path=None):
        doc, path = (metrics, a.metrics) if doc is None else (doc, path)
        with open(path + ".partial", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(path + ".partial", path)

    # --checkpoint: what a saved state must match beyond the training's own
    # inputs (training_key): this tool's bytes, the libraries, the options
    # that shape training (not where the outputs go, nor when to stop)
    ck = None
    if a.checkpoint:
        with open(os.path.abspath(__file__), "rb") as f:
            tool_sha = hashlib.sha256(f.read()).hexdigest()
        shaping = {k: v for k, v in sorted(vars(a).items()) if k not in CHECKPOINT_FREE}
        ck = dict(tool=tool_sha, torch=torch.__version__, numpy=np.__version__,
                  pil=PIL.__version__, machine=platform.machine(), cpu=cpu_model(),
                  options=json.loads(json.dumps(shaping)))
        os.makedirs(a.checkpoint, exist_ok=True)

    def trained(name, **kw):  # train_arms with its checkpoint; None when stopped (exit 3)
        progress = {}
        path = None if ck is None else os.path.join(a.checkpoint, f"{name}.ckpt")
        try:
            nets = train_arms(data, **kw, checkpoint=None if ck is None else (path, ck),
                              stop_at=a.stop_at_epoch, progress=progress)
        except Stopped as e:
            log(f"train_polyp: {e}")
            return None, progress
        return nets, progress

    if a.part in ("all", "final"):
        # the shipped model: Kvasir folds 0-3, capsule train groups
        t0 = time.time()
        ktr = np.nonzero((kfold != 4) & (kfold >= 0))[0]
        kva = np.nonzero(kfold == 4)[0]
        if a.smoke and len(kva) == 0:
            kva = ktr[:5]
        train_seed = a.seed if a.train_seed is None else a.train_seed
        nets, progress = trained("final", kidx=ktr, widx=widx_train, epochs=a.epochs,
                                 seed=train_seed, log=log, tags=["final"], arms=[tkw])
        if nets is None:
            return 3
        net = nets[0]
        t0 -= progress["seconds_before"]  # the earlier runs' training time counts
        rep, ps, ns = fold_report(net, data, kva, widx_held, a.seed + 300)
        op = choose_threshold(ps, ns)
        rep["capsule"].update(op)
        kis = rep.pop("_inpainted_scores")
        rep["source_auroc_inpainted"]["kvasir_flagged_at_final_threshold"] = \
            float(np.mean(kis >= op["threshold"]))
        metrics["final"] = rep
        metrics["final"]["train_seconds"] = round(time.time() - t0)
        if a.train_seed is not None:
            metrics["train_seed"] = a.train_seed
        metrics["threshold"] = op["threshold"]
        write_weights(net, a.out, op["threshold"])
        if a.save_torch:
            torch.save(net.state_dict(), a.save_torch)
        if a.reference:
            # a held-out capsule frame with a held-out polyp pasted in
            pos, _ = capsule_set(data, kva[:1], widx_held, a.seed + 300)
            write_reference(net, a.reference, pos[0])
        metrics["total_seconds"] = round(time.time() - t_start + progress["seconds_before"])
        if progress["resumed_at"]:
            metrics["final"]["resumed_at_epoch"] = progress["resumed_at"]
        save()
        log(f"final: {json.dumps(rep)}")
        log(f"wrote {a.out} (threshold {op['threshold']:.4f}) and {a.metrics} "
            f"in {metrics['total_seconds']} s")

    # grouped 5-fold cross-validation on Kvasir-SEG. At --cv-epochs equal to
    # --epochs, fold 4's model is the shipped model (same folds, same
    # setting): it is not trained twice.
    if a.cv_epochs > 0 and a.part in ("all", "cv"):
        ts = a.seed if a.train_seed is None else a.train_seed
        arms = []  # per balance mode: its metrics, where they go, its folds done
        for mode, doc, path, fold_dir in zip(balances, docs, metrics_paths, fold_dirs):
            if a.part == "cv" and os.path.exists(path):
                # cross-validation joins an existing metrics file only when that
                # file describes the same recipe: folds of one recipe never sit
                # beside the final model of another.
                with open(path) as f:
                    have = json.load(f)
                have.setdefault("input_side", 80)
                have.setdefault("inpaint_kind", "blur")
                have.setdefault("polyp_pairs", 0)
                have.setdefault("pair_weight", None)
                have.setdefault("level_weight", 0.0)
                have.setdefault("level_ceiling", None)
                have.setdefault("mixstyle", 0.0)
                have.setdefault("mixstyle_levels", list(MIXSTYLE_LEVELS))
                have.setdefault("mixstyle_samples", "all")
                have.setdefault("paste_side", [0.22, 0.6])
                have.setdefault("source_label_balance", "off")
                want = dict(doc, inpaint_kind=INPAINT_KIND, polyp_pairs=POLYP_PAIRS,
                            pair_weight=PAIR_WEIGHT if POLYP_PAIRS else None,
                            level_weight=a.level_weight, level_ceiling=a.level_ceiling,
                            mixstyle=a.mixstyle, mixstyle_levels=list(mix_levels),
                            mixstyle_samples=a.mixstyle_samples,
                            paste_side=list(PASTE_SIDE),
                            source_label_balance=mode)
                want = json.loads(json.dumps(want))  # as the file holds them (tuples as lists)
                # a setting the file does not record counts as different: an
                # older or foreign file is not taken for this recipe
                differ = [k for k in CV_RECIPE_KEYS if have.get(k, "(missing)") != want.get(k)]
                if differ:
                    log(f"train_polyp: {path} describes another recipe ("
                        + ", ".join(f"{k} {have.get(k, '(missing)')!r} there, {want.get(k)!r} here"
                                    for k in differ)
                        + "); give --metrics a new file for this recipe's cross-validation")
                    return 2
                doc = have
            old = doc.get("cv", {})
            done = {r["fold"]: r for r in old.get("folds", [])} \
                if old.get("cv_epochs") == a.cv_epochs and old.get("train_seed", a.seed) == ts else {}
            arms.append(dict(mode=mode, doc=doc, path=path, fold_dir=fold_dir, done=done,
                             seconds=old.get("seconds", 0) if done else 0))
        for f in [int(v) for v in a.folds.split(",")]:
            t0 = time.time()
            kva = np.nonzero(kfold == f)[0]
            # fold 4 at the final model's setting is the final model itself
            reuse = [f == 4 and a.cv_epochs == a.epochs and "final" in arm["doc"]
                     and arm["doc"].get("train_seed", a.seed) == ts for arm in arms]
            fresh = [i for i in range(len(arms)) if not reuse[i]]
            nets, progress = {}, dict(resumed_at=0, seconds_before=0)
            if fresh:
                ktr = np.nonzero((kfold != f) & (kfold >= 0))[0]
                tags = [f"cv{f}" + (f" [{arms[i]['mode']}]" if len(arms) > 1 else "") for i in fresh]
                trained_nets, progress = trained(
                    f"cv{f}", kidx=ktr, widx=widx_train, epochs=a.cv_epochs, seed=ts + 100 + f, log=log,
                    tags=tags, arms=[dict(tkw, source_label_balance=arms[i]["mode"])
                                     for i in fresh])
                if trained_nets is None:
                    return 3
                nets = dict(zip(fresh, trained_nets))
                t0 -= progress["seconds_before"]  # the earlier runs' training time counts
            for i, arm in enumerate(arms):
                if reuse[i]:
                    rep = {k: v for k, v in arm["doc"]["final"].items() if k != "train_seconds"}
                    rep["capsule"] = {k: rep["capsule"][k] for k in ("n_pos", "n_neg", "auroc")}
                    rep["shipped_model"] = True
                else:
                    rep, ps, ns = fold_report(nets[i], data, kva, widx_held, a.seed + 200 + f)
                    rep.pop("_inpainted_scores")
                    if arm["fold_dir"]:
                        os.makedirs(arm["fold_dir"], exist_ok=True)
                        write_weights(nets[i], os.path.join(arm["fold_dir"], f"fold{f}.bin"),
                                      choose_threshold(ps, ns)["threshold"])
                rep["fold"] = f
                if progress["resumed_at"] and not reuse[i]:
                    rep["resumed_at_epoch"] = progress["resumed_at"]
                arm["done"][f] = rep
                # in lockstep: the fold's wall time so far, shared training included
                arm["seconds"] += round(time.time() - t0)
                log(f"cv{f}: {json.dumps(rep)}")
                folds = [arm["done"][k] for k in sorted(arm["done"])]
                keys = ["dice", "iou", "hit_rate"]
                doc = arm["doc"]
                doc["cv"] = dict(
                    cv_epochs=a.cv_epochs, train_seed=ts,
                    folds=folds,
                    mean={k: float(np.mean([r["kvasir"][k] for r in folds])) for k in keys},
                    std={k: float(np.std([r["kvasir"][k] for r in folds])) for k in keys},
                    capsule_auroc_mean=float(np.mean([r["capsule"]["auroc"] for r in folds])),
                    source_auroc_polyp_free_mean=float(np.mean(
                        [r["source_auroc_polyp_free"]["auroc"] for r in folds])),
                    seconds=arm["seconds"])
                if len(arms) > 1:  # how it was trained: its seconds are shared
                    doc["cv"]["lockstep_with"] = [b["mode"] for b in arms if b is not arm]
                doc["cv_epochs"] = a.cv_epochs
                doc["total_seconds"] = doc.get("final", {}).get("train_seconds", 0) + arm["seconds"]
                save(doc, arm["path"])  # after every fold: a stopped run keeps what it finished
        for arm in arms:
            log(f"cv{'' if len(arms) == 1 else ' [' + arm['mode'] + ']'}: "
                f"{json.dumps(arm['doc']['cv']['mean'])}")
    if a.checkpoint:  # everything is written: the trainings' states go
        for name in os.listdir(a.checkpoint):
            if name.endswith(".ckpt"):
                os.remove(os.path.join(a.checkpoint, name))
        if not os.listdir(a.checkpoint):
            os.rmdir(a.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
