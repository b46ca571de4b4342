#!/usr/bin/python3
"""polyp_size_sensitivity.py - how does the polyp score fall with the
polyp's size? (models/MODEL_CARD-polyp.md, "Small polyps").

The capsule check of `train_polyp.py --evaluate` pastes each held-out
polyp into a held-out capsule frame with its box side drawn from 22-60 %
of the frame, as training does. Capsule polyps are often smaller. This
tool pastes the same held-out polyps into held-out capsule frames at
fixed size bands (box side as a share of the frame side) and, for each
band, reports against the held-out capsule frames (no polyp): the AUROC,
the sensitivity at the weights file's own threshold (the one the engine
flags at), and how often the heatmap's peak cell lies in the polyp (one
pass; the engine's hit rate uses its nine-pass outline, so this is a
lower-effort proxy of it). Each band pastes the same polyp into the
same capsule frame at the same centre with the same feathered edge;
only the size differs (pasted_at). The edge's feather is fixed in pixels
as in training, so the smallest pastes are more edge than core: that is
how a small pasted polyp looks in training too. The shipped capsule check (the
22-60 % pastes of `--evaluate`, the same images) is reported beside them.
The held-out Kvasir-SEG frames themselves, grouped by the size of their
own polyp, get the outline measures of `--evaluate` (Dice, hit rate of
the nine-pass outline) and the share flagged, band by band.

Beside the file's threshold, each band's sensitivity is also reported at
the thresholds a site would set for specificity 0.95 and 0.90 on these
same capsule frames (`at_specificity`: the lowest threshold whose
specificity on them is at least the target; the sensitivities are those
`capscreen eval --target-specificity` would report): how much of the
small-polyp miss is the threshold's, not the heatmap's. Chosen and measured on the same 392
frames, so that specificity is in-sample.

With `--topk K` the frame score pools the K largest heatmap logits
instead of the file's 16 (no training: a question of how the score is
read), and the threshold is then chosen on the shipped capsule check by
training's rule (best sensitivity + specificity with specificity >= 0.93)
rather than read from the file.

    polyp_size_sensitivity.py --weights W.bin --metrics OUT.json [--fold 4]
        [--shared DIR] [--cache DIR] [--seed 13] [--topk K] [--score engine|max|outline]
        [--smoke]

With `--score max` or `--score outline` the frame score also reads the
five crops of 0.6 of the frame that the engine's outline reads, on
every frame (no training; docs/polyp-trials.md, "A closer look for small
polyps"): `max` takes the highest of the six frame scores (the one pass
and each crop, each its own top-k mean: a version-4 file's reading with
a gate of 0), `outline` the top-k mean of the nine-pass outline's
averaged logit map. The threshold is then the one that gives the capsule
frames the specificity the file's own reading has at its threshold, so
that the bands compare at equal specificity. The default, `engine`,
scores as the engine does with the file (one pass; a version-4 file's
gated crops).

Single thread, seeded: the same weights and data give the same report.
Exit 2 on a missing or damaged weights file or data directory.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_polyp as tp  # noqa: E402  (the sets and measures are the training tool's)

SITE_SPECIFICITIES = (0.95, 0.90)  # the at_specificity targets


# The bands, the pastes and the site thresholds are the training tool's
# (the shipped threshold's rule is chosen on the same pastes); named here
# too, as this tool's own.
BANDS = tp.SIZE_BANDS
pasted_at = tp.pasted_at
threshold_at_specificity = tp.threshold_at_specificity


def peak_in_polyp(prob, labels):
    """Share of frames whose heatmap peak cell lies in the polyp (a label
    with no cell at the heatmap's side counts as a miss)."""
    flat = prob.reshape(len(prob), -1).argmax(1)
    return float(np.mean([labels[i].reshape(-1)[c] for i, c in enumerate(flat)]))


def logit_of(p):
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def outline_scores(net, frames_u8):
    """--score outline: per frame, the sigmoid of the top-k mean of the
    nine-pass outline's averaged logit map (predict_outline); cells outside
    a read field (probability 0) never reach the top k of a lit frame."""
    out = []
    for b in range(0, len(frames_u8), 32):
        prob = tp.predict_outline(net, frames_u8[b:b + 32])
        flat = np.sort(prob.reshape(len(prob), -1), 1)[:, -tp.TOPK:]
        out.extend(logit_of(flat).mean(1))
    return (1 / (1 + np.exp(-np.array(out)))).astype(np.float32)


def colonoscopy_by_size(net, data, kval, threshold):
    """The held-out Kvasir-SEG frames in bands of their polyp's box side
    (the mask's bounding box, larger side, as a share of the frame side):
    frames, Dice, hit rate (train_polyp's seg_per_frame: the nine-pass
    outline) and the share flagged at `threshold`."""
    dice, _, hit, score = tp.seg_per_frame(net, data, kval)
    side = []
    for i in kval:
        ys, xs = np.nonzero(data["kmask"][i] >= 128)
        side.append(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / data["kmask"][i].shape[0]
                    if len(ys) else 0.0)
    side = np.array(side)
    out = []
    for lo, hi in ((0.0, 0.14), (0.14, 0.22), (0.22, 0.40), (0.40, 0.60), (0.60, 1.01)):
        sel = (side >= lo) & (side < hi)
        n = int(sel.sum())
        out.append(dict(box_side_share=[lo, min(hi, 1.0)], n=n,
                        dice=float(dice[sel].mean()) if n else None,
                        hit_rate=float(hit[sel].mean()) if n else None,
                        flagged=float((score[sel] >= threshold).mean()) if n else None))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="polyp weights file (one network or an ensemble)")
    ap.add_argument("--metrics", required=True, help="where to write the report (JSON)")
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--cache", default=os.path.join(here, "..", "build-polyp-cache"))
    ap.add_argument("--seed", type=int, default=13, help="as train_polyp.py --seed (the splits)")
    ap.add_argument("--fold", type=int, default=4, choices=range(5), help="Kvasir-SEG fold held out")
    ap.add_argument("--topk", type=int, default=None,
                    help="pool this many heatmap logits for the frame score (default: the "
                         "file's); the threshold is then chosen by training's rule")
    ap.add_argument("--score", choices=("engine", "max", "outline"), default="engine",
                    help="how the frame score is read: as the engine reads it with this file "
                         "(default: one pass; a version-4 file's gated crops), the highest of "
                         "the one pass and the five crops' on every frame (max), or the "
                         "nine-pass outline's map (outline); a measure, docs/polyp-trials.md")
    ap.add_argument("--paste-centre", default=None, metavar="LO,HI",
                    help="draw the pastes' centres from LO-HI of each axis (default 0.35,0.65, the "
                         "middle 30 %%: the threshold rule's pastes); wider to see polyps off-centre")
    ap.add_argument("--smoke", action="store_true", help="a few frames (the CI check of this tool)")
    a = ap.parse_args()
    if a.topk is not None and not 1 <= a.topk <= 64:
        ap.error("--topk takes 1 to 64 (the engine's CS_POLYP_MAX_TOPK)")
    centre = tp.PASTE_CENTRE
    if a.paste_centre is not None:
        centre = tp.share_range(a.paste_centre, 0.1, 0.9)
    if centre is None:
        ap.error("--paste-centre takes LO,HI with 0.1 <= LO < HI <= 0.9")
    if a.topk is not None and a.score != "engine":
        ap.error("--topk and --score are separate questions: ask one at a time")
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    sub = tp.missing_shared(a.shared)
    if sub:
        print(f"polyp_size_sensitivity: no {sub}/labels.csv under {a.shared}", file=sys.stderr)
        return 2
    try:
        net, threshold = tp.read_weights(a.weights)
    except (OSError, ValueError, struct.error) as e:
        print(f"polyp_size_sensitivity: {e}", file=sys.stderr)
        return 2
    net.eval()
    data, kval, wval = tp.heldout_material(a.shared, a.cache, a.seed, a.fold, a.smoke)
    seed = a.seed + tp.SIZE_BAND_SEED_OFFSET
    file_topk = tp.TOPK
    if a.topk is not None:
        tp.TOPK = a.topk  # frame_logit reads it
    # the shipped capsule check's very images (train_polyp.py --evaluate's seed)
    std_pos, neg = tp.capsule_set(data, kval, wval, tp.report_seed(a.seed, a.fold))
    # (one-pass maps, frame scores) as --score reads them: max is a
    # version-4 file's reading with a gate of 0, whatever the file's own
    read = dict(engine=lambda x: tp.predict(net, x),
                max=lambda x: tp.predict(net, x, crop_gate=0.0),
                outline=lambda x: (tp.predict(net, x)[0], outline_scores(net, x)))[a.score]
    threshold_from = "file"
    with torch.no_grad():
        neg_scores = tp.predict(net, neg)[1]
        if a.score != "engine":
            # compare at the specificity the file's own reading has at its threshold
            file_specificity = float(np.mean(neg_scores < threshold))
            neg_scores = read(neg)[1]
            threshold = threshold_at_specificity(neg_scores, file_specificity)
            threshold_from = "the capsule specificity of the file's own reading at its threshold"
        std_scores = read(std_pos)[1]
        if tp.TOPK != file_topk:
            threshold = tp.choose_threshold(std_scores, neg_scores)["threshold"]
            threshold_from = "chosen on the shipped capsule check by training's rule"
        standard = dict(tp.operating_point(std_scores, neg_scores, threshold),
                        auroc=tp.auroc(std_scores, neg_scores), box_side_share=[0.22, 0.6],
                        n_pos=len(std_pos), n_neg=len(neg))
        bands, band_scores = [], []
        for lo, hi in BANDS:
            pos, labels = pasted_at(data, kval, wval, seed, lo, hi, centre)
            prob, scores = read(pos)
            band_scores.append(scores)
            op = tp.operating_point(scores, neg_scores, threshold)
            bands.append(dict(
                box_side_share=[lo, hi], n_pos=len(pos), n_neg=len(neg),
                auroc=tp.auroc(scores, neg_scores),
                auroc_interval95=tp.auroc_interval(scores, neg_scores, seed),
                sensitivity_at_threshold=op["sensitivity"], tp=op["tp"], fn=op["fn"],
                peak_in_polyp=peak_in_polyp(prob, labels),
                median_score=float(np.median(scores))))
        colon = colonoscopy_by_size(net, data, kval, threshold)
    site = []
    for target in SITE_SPECIFICITIES:
        t = threshold_at_specificity(neg_scores, target)
        site.append(dict(target_specificity=target, threshold=t,
                         specificity=float(np.mean(neg_scores < t)),
                         shipped_capsule_check_sensitivity=float(np.mean(std_scores >= t)),
                         sensitivity_by_band=[float(np.mean(b >= t)) for b in band_scores]))
    doc = dict(tool="tools/polyp_size_sensitivity.py", weights=os.path.basename(a.weights),
               seed=a.seed, fold=a.fold, smoke=a.smoke, topk=tp.TOPK,
               score=a.score, paste_centre=list(centre), threshold=float(threshold),
               threshold_from=threshold_from,
               specificity_at_threshold=float((neg_scores < threshold).mean()),
               shipped_capsule_check=standard, bands=bands, colonoscopy_by_polyp_size=colon,
               at_specificity=site,
               note="held-out polyps pasted into held-out capsule frames at each band of box "
                    "side / frame side, against the held-out capsule frames; " +
                    ("as the engine scores a frame with this file" if a.score == "engine" else
                     "the frame score read over the five crops too (--score %s), not as the "
                     "engine scores a frame" % a.score))
    tp.write_report(a.metrics, doc)
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
