#!/usr/bin/python3
"""polyp_shipped_metrics.py - record a shipped polyp ensemble in the metrics
file (tools/train-polyp.sh calls it after the members are trained and
combined).

Writes the "shipped" entry of METRICS (created if missing; every other
entry, the history of trials and cross-validation, is kept as it is): the
recipe, each member's training metrics (m.json, train seed, seconds) and
the ensemble's held-out report from `train_polyp.py --evaluate A,B,C`
(threshold chosen there by training's rule). Written to a temporary file
and renamed, so an interrupted run leaves the old file whole.

    polyp_shipped_metrics.py --evaluate E.json --members DIR --seeds "13 14 15"
        --recipe "OPTIONS" --into METRICS
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--evaluate", required=True, help="train_polyp.py --evaluate output")
    ap.add_argument("--members", required=True, help="directory holding seed-N/m.json")
    ap.add_argument("--seeds", required=True, help="the members' train seeds, space-separated")
    ap.add_argument("--recipe", required=True, help="the members' train_polyp.py options")
    ap.add_argument("--into", required=True, help="metrics file to update")
    a = ap.parse_args()
    try:
        with open(a.evaluate) as f:
            ev = json.load(f)
        members = []
        for s in a.seeds.split():
            with open(os.path.join(a.members, f"seed-{s}", "m.json")) as f:
                m = json.load(f)
            members.append(dict(train_seed=int(s), threshold_alone=m["threshold"],
                                train_seconds=m["final"]["train_seconds"],
                                epochs=m["epochs"], smoke=m["smoke"], final=m["final"]))
        metrics = {}
        if os.path.exists(a.into):
            with open(a.into) as f:
                metrics = json.load(f)
    except (OSError, ValueError, KeyError) as e:
        print(f"polyp_shipped_metrics: {e}", file=sys.stderr)
        return 2
    metrics["shipped"] = dict(
        kind="ensemble", weights_version=3, n_members=len(members),
        recipe="tools/train_polyp.py " + a.recipe + " --train-seed N",
        seed=ev["seed"], threshold=ev["threshold"],
        note="the shipped weights: the members' logits averaged (format version 3); "
             "threshold chosen on the ensemble by training's rule on held-out capsule "
             "material; 'final' is the ensemble's held-out report (train_polyp.py --evaluate)",
        final=ev["final"], members=members)
    tmp = a.into + ".partial"
    with open(tmp, "w") as f:
        json.dump(metrics, f, indent=1)
    os.replace(tmp, a.into)
    return 0


if __name__ == "__main__":
    sys.exit(main())
