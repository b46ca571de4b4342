#!/usr/bin/env python3
"""Compare the bleeding boxes of a capscreen summary with annotated boxes.

usage: tools/eval-boxes.py SUMMARY.json BOXES.csv

BOXES.csv has the WCEBleedGen columns file,x_center,y_center,width,height
(normalised, YOLO convention). For every annotated box, the best IoU with a
predicted box of the same frame counts as a hit at IoU >= 0.3 (recall); for
every predicted box on an annotated frame, a hit against any annotated box
counts towards precision. Prints one JSON line.
"""
import collections
import csv
import json
import sys


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    summary = json.load(open(sys.argv[1]))
    truth = collections.defaultdict(list)
    for r in csv.DictReader(open(sys.argv[2])):
        xc, yc, w, h = (float(r[k]) for k in ("x_center", "y_center", "width", "height"))
        truth[r["file"]].append((xc - w / 2, yc - h / 2, w, h))
    frames = {f["name"]: f for f in summary["frames"]}
    hits = total = pred_hits = pred_total = 0
    best_ious = []
    for name, boxes in truth.items():
        if name not in frames:
            continue
        pred = [(b["x"], b["y"], b["w"], b["h"]) for b in frames[name].get("boxes", [])]
        for g in boxes:
            best = max((iou(g, p) for p in pred), default=0.0)
            best_ious.append(best)
            total += 1
            hits += best >= 0.3
        for p in pred:
            pred_total += 1
            pred_hits += max(iou(g, p) for g in boxes) >= 0.3
    print(json.dumps({"annotated_boxes": total, "predicted_boxes": pred_total,
                      "recall_iou_0.3": round(hits / total, 4) if total else None,
                      "precision_iou_0.3": round(pred_hits / pred_total, 4) if pred_total else None,
                      "mean_best_iou": round(sum(best_ious) / total, 4) if total else None}))


if __name__ == "__main__":
    main()
