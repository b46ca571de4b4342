#!/usr/bin/env python3
"""tests/tools/test_polyp_balance.py - the training-only loss weights of
tools/train_polyp.py's --source-label-balance (independence_weights,
source_label_weights) on a synthetic epoch as skewed as a real one (more
of the colonoscopy samples carry a polyp than of the capsule ones):

- after weighting, the share of polyp samples is the same in both
  contexts, and each context and each label keeps its share;
- "pixel" does the same for the heatmap cells' labels, and "frame" gives
  every cell its sample's weight;
- "negatives" balances the samples' labels as "frame" does, but by the
  polyp-free samples' weights alone: every polyp sample keeps weight 1;
- a context without one of the labels gets no weight from nowhere (no
  division by zero, weights finite, mean 1).

Exit 77 (skipped) without numpy, PIL or torch (the tool imports them).
"""
import sys

from tap import check, failed, train_polyp  # tests/tools/tap.py: the checks' lines and count

tp = train_polyp()  # or exit 77 (skipped)
import numpy as np  # noqa: E402  (present once the tool imports)

K = tp.KINDS
rng = np.random.RandomState(5)
# sample counts near a full epoch of the member recipe (its training log
# gives the context x label totals: 792 / 566 colonoscopy, 496 / 1,105
# capsule; the split by kind here is made up): colonoscopy frames with a
# polyp, crops and copy-filled frames without; pasted polyps with,
# capsule frames and pasted backgrounds without
counts = dict(k=792, kb=400, ki=166, pp=496, w=900, pn=205)
kinds = np.concatenate([np.full(n, K[k]) for k, n in counts.items()])
side = tp.OUT
masks = np.zeros((len(kinds), side, side), np.float32)
for i, k in enumerate(kinds):
    if k in (K["k"], K["pp"]):
        # a polyp of a random size: larger on colonoscopy frames, as there
        r = rng.randint(4, 14 if k == K["k"] else 9)
        y, x = rng.randint(0, side - r, 2)
        masks[i, y:y + r, x:x + r] = 1
colon = tp.colon_context(kinds)
frame_y = masks.reshape(len(masks), -1).sum(1) >= 4


def share(w, sel, y):
    return float((w * (sel & y)).sum() / (w * sel).sum())


check("the epoch is skewed to start with (more colonoscopy samples carry a polyp)",
      frame_y[colon].mean() > frame_y[~colon].mean() + 0.2)
for mode in ("frame", "pixel"):  # both weight the frame loss alike
    fw, cw = tp.source_label_weights(masks, kinds, mode)
    check(f"{mode}: the weights are finite, mean 1",
          np.isfinite(fw).all() and np.isfinite(cw).all()
          and abs(fw.mean() - 1) < 1e-5 and abs(cw.mean() - 1) < 1e-5, f"{fw.mean()} {cw.mean()}")
    after = (share(fw, colon, frame_y), share(fw, ~colon, frame_y))
    check(f"{mode}: weighted, the share of polyp samples is the same in both contexts",
          abs(after[0] - after[1]) < 1e-5 and abs(after[0] - frame_y.mean()) < 1e-5, str(after))
    check(f"{mode}: the colonoscopy context keeps its weighted share",
          abs(float(fw[colon].sum() / fw.sum()) - colon.mean()) < 1e-5)

fw, cw = tp.source_label_weights(masks, kinds, "frame")
check("frame: every cell carries its sample's weight", np.array_equal(cw, np.broadcast_to(
    fw[:, None, None], masks.shape)))
fw, cw = tp.source_label_weights(masks, kinds, "pixel")
cells_colon = np.broadcast_to(colon[:, None, None], masks.shape)
pos = masks >= 0.5
raw = (float(pos[cells_colon].mean()), float(pos[~cells_colon].mean()))
wtd = (share(cw, cells_colon, pos), share(cw, ~cells_colon, pos))
check("pixel: polyp cells are commoner on colonoscopy samples to start with",
      raw[0] > 1.5 * raw[1], str(raw))
check("pixel: weighted, the share of polyp cells is the same in both contexts",
      abs(wtd[0] - wtd[1]) < 1e-5 and abs(wtd[0] - pos.mean()) < 1e-5, str(wtd))
check("pixel: the colonoscopy samples' cells keep their weighted share",
      abs(float(cw[cells_colon].sum() / cw.sum()) - cells_colon.mean()) < 1e-5)
check("pixel: each cell's weight follows its own label, not its frame's",
      len(np.unique(cw[(kinds == K["k"])[:, None, None] & pos])) == 1
      and cw[(kinds == K["k"])[:, None, None] & pos][0] < cw[(kinds == K["k"])[:, None, None] & ~pos][0])

fw, cw = tp.source_label_weights(masks, kinds, "negatives")
after = (share(fw, colon, frame_y), share(fw, ~colon, frame_y))
check("negatives: the weights are finite, mean 1",
      np.isfinite(fw).all() and abs(fw.mean() - 1) < 1e-5 and abs(cw.mean() - 1) < 1e-5,
      f"{fw.mean()} {cw.mean()}")
check("negatives: weighted, the share of polyp samples is the same in both contexts",
      abs(after[0] - after[1]) < 1e-5 and abs(after[0] - frame_y.mean()) < 1e-5, str(after))
check("negatives: every polyp sample keeps weight 1", np.all(fw[frame_y] == 1))
check("negatives: the polyp-free samples are reweighed (colonoscopy up, capsule down)",
      np.all(fw[colon & ~frame_y] > 1.2) and np.all(fw[~colon & ~frame_y] < 0.8),
      f"{np.unique(fw[~frame_y])}")
check("negatives: every cell carries its sample's weight", np.array_equal(cw, np.broadcast_to(
    fw[:, None, None], masks.shape)))

# a context with one label only: its cell needs no weight
only = np.array([K["k"]] * 3 + [K["w"]] * 5)
lab = np.array([1, 1, 1, 0, 0, 0, 0, 1], bool)
w = tp.independence_weights(tp.colon_context(only), lab)
check("a missing cell: weights finite, mean 1", np.isfinite(w).all() and abs(w.mean() - 1) < 1e-6,
      str(w))
# the filled cells keep their reweighing ratios (P(s)P(y)/P(s,y): 1/2,
# 5/8 and 5/2 for the three filled cells), only scaled
check("a missing cell: the other cells' ratios kept",
      np.allclose(w[[0, 3, 7]] / w[0], [1, 1.25, 5]), str(w))
w = tp.negative_weights(tp.colon_context(only), lab)
# the capsule context (items 3-7) still balanced to the overall share of
# label 1 (4 of 8), every label-1 item weighing alike
check("negatives, a missing cell: weights finite, mean 1, the other context balanced",
      np.isfinite(w).all() and abs(w.mean() - 1) < 1e-6
      and abs(w[7] / w[3:].sum() - 0.5) < 1e-6 and np.allclose(w[lab], w[0]), str(w))

print("passed" if not failed() else f"{failed()} failed")
sys.exit(1 if failed() else 0)
