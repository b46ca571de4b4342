#!/usr/bin/python3
"""polyp_mirror_score.py - would averaging the frame score over the
frame's mirror images help? (docs/polyp-trials.md, "Mirror
averaging of the frame score").

The engine scores a frame from one pass of the network and runs the
mirror passes only for the outline of a flagged frame. This tool scores
the same sets as `train_polyp.py --evaluate --compare` twice with the
same weights: as the engine does, and with the heatmap logits averaged
over the frame and its three mirror images (each mirrored back) before
the top-K pooling. Each AUROC is paired (mirrored minus plain, 95 %
bootstrap interval over the images), and the capsule set's threshold is
chosen for both by training's rule.

    polyp_mirror_score.py --weights W.bin --metrics OUT.json [--fold 4]
        [--shared DIR] [--cache DIR] [--seed 13] [--smoke]

Single thread, seeded: the same weights and data give the same report.
Exit 2 on a missing or damaged weights file or data directory.
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_polyp as tp  # noqa: E402  (the sets and measures are the training tool's)


MEASURES = ("capsule_auroc", "source_auroc_polyp_free", "source_auroc_inpainted",
            "source_auroc_capsule_rendered", "colon_rendered_polyp_blur", "colon_rendered_polyp_copy")


class MirrorMean(torch.nn.Module):
    """The mean of the logit maps of the frame and its three mirror images."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):  # x: N x 3 x H x W; logits N x OUT x OUT
        out = self.net(x)
        out = out + torch.flip(self.net(torch.flip(x, [3])), [2])
        out = out + torch.flip(self.net(torch.flip(x, [2])), [1])
        out = out + torch.flip(self.net(torch.flip(x, [2, 3])), [1, 2])
        return out / 4


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="polyp weights file (one network or an ensemble)")
    ap.add_argument("--metrics", required=True, help="where to write the report (JSON)")
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--cache", default=os.path.join(here, "..", "build-polyp-cache"))
    ap.add_argument("--seed", type=int, default=13, help="as train_polyp.py --seed (the splits)")
    ap.add_argument("--fold", type=int, default=4, choices=range(5), help="Kvasir-SEG fold held out")
    ap.add_argument("--smoke", action="store_true", help="a few frames (the CI check of this tool)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    sub = tp.missing_shared(a.shared)
    if sub:
        print(f"polyp_mirror_score: no {sub}/labels.csv under {a.shared}", file=sys.stderr)
        return 2
    try:
        net = tp.read_weights(a.weights)[0]
    except (OSError, ValueError, struct.error) as e:
        print(f"polyp_mirror_score: {e}", file=sys.stderr)
        return 2
    net.eval()
    mirrored = MirrorMean(net)
    data, kval, wval = tp.heldout_material(a.shared, a.cache, a.seed, a.fold, a.smoke)
    # the very images of train_polyp.py --evaluate --compare (its seeds)
    seed = a.seed + 300
    sets = tp.compare_sets(data, kval, wval, None, None, seed, tp.report_seed(a.seed, a.fold),
                           names=MEASURES)
    rep = {}
    with torch.no_grad():
        for name, (p, q) in sets.items():
            mp, mn = tp.predict(mirrored, p)[1], tp.predict(mirrored, q)[1]
            pp, pn = tp.predict(net, p)[1], tp.predict(net, q)[1]
            d = tp.paired_auroc_difference(mp, mn, pp, pn, seed)
            if name == "capsule_auroc":
                d["mirrored_operating_point"] = tp.choose_threshold(mp, mn)
                d["plain_operating_point"] = tp.choose_threshold(pp, pn)
            rep[name] = d
    doc = dict(tool="tools/polyp_mirror_score.py", weights=os.path.basename(a.weights), seed=a.seed,
               fold=a.fold, smoke=a.smoke, report=rep,
               note="AUROC with the score from the mean logits of the frame and its three mirror "
                    "images ('evaluated') minus the engine's one-pass score ('compared'), same "
                    "weights and images; 95 % paired bootstrap interval over the images")
    tp.write_report(a.metrics, doc)
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
