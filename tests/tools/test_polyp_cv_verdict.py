#!/usr/bin/env python3
"""tests/tools/test_polyp_cv_verdict.py - tools/polyp_cv_verdict.py, the
bars of F's cross-validation as written before any fold's result: each bar
is met by folds built to meet it and missed by the smallest change across
its line; fold 4 is read from the committed metrics file (the figures the
trials log reports for it); a missing fold gives no verdict (exit 3). Plain
Python, no training data."""
import copy
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(root, "tools"))
import polyp_cv_verdict as v  # noqa: E402

SMALL = dict(crop_source_auroc=0.76, rendered_source_auroc=0.79, capsule_auroc=0.990,
             dice_tool=0.76, hit_rate_tool=0.93, standin_blur_auroc=0.92,
             standin_copy_auroc=0.82, smallest_band_auroc=0.85, c_hit_rate=0.93,
             c_dice=0.76, c_specificity=0.97)
# F meeting every bar with some room: crops 0.05 lower on every fold
GOOD = dict(SMALL, crop_source_auroc=0.71, rendered_source_auroc=0.74, capsule_auroc=0.990,
            dice_tool=0.755, standin_blur_auroc=0.91, standin_copy_auroc=0.83,
            smallest_band_auroc=0.84)


def folds(balance=None, small=None):
    return [{"fold": k, "arms": {"small": copy.deepcopy((small or {}).get(k, SMALL)),
                                 "balance": copy.deepcopy((balance or {}).get(k, GOOD))}}
            for k in range(5)]


def bars(fs):
    return {name.split(".")[0]: met for name, met, _ in v.verdict(fs)}


tap.check("every bar met by folds built to meet them", all(bars(folds()).values()), bars(folds()))

# 1: the mean at least 0.03 below ...
fs = folds({k: dict(GOOD, crop_source_auroc=0.735) for k in range(5)})  # -0.025 each
tap.check("bar 1 missed when the crops fall by 0.025 on the mean", not bars(fs)["1"])
# ... and lower on at least 4 of 5 folds (the mean still far below)
fs = folds({0: dict(GOOD, crop_source_auroc=0.77), 1: dict(GOOD, crop_source_auroc=0.77),
            2: dict(GOOD, crop_source_auroc=0.60)})
tap.check("bar 1 missed when lower on 3 of 5 folds", not bars(fs)["1"])
fs = folds({0: dict(GOOD, crop_source_auroc=0.77)})
tap.check("bar 1 met when lower on 4 of 5 folds and 0.03 on the mean", bars(fs)["1"])

fs = folds({k: dict(GOOD, rendered_source_auroc=0.79) for k in range(5)})
tap.check("bar 2 missed when the rendered measure is not lower", not bars(fs)["2"])

fs = folds({2: dict(GOOD, capsule_auroc=0.979)}, {2: dict(SMALL, capsule_auroc=0.979)})
tap.check("bar 3 missed on one fold under 0.98", not bars(fs)["3"])
fs = folds({3: dict(GOOD, capsule_auroc=0.984)}, {3: dict(SMALL, capsule_auroc=0.990)})
tap.check("bar 3 missed on one fold 0.006 below", not bars(fs)["3"])

fs = folds({1: dict(GOOD, c_hit_rate=0.895)})
tap.check("bar 4 missed on one fold's C-engine hit rate under 0.90", not bars(fs)["4"])
fs = folds({1: dict(GOOD, c_dice=0.699)})
tap.check("bar 4 missed on one fold's C-engine Dice under 0.70", not bars(fs)["4"])
fs = folds({k: dict(GOOD, dice_tool=0.745) for k in range(5)})
tap.check("bar 4 missed when the mean Dice falls by 0.015", not bars(fs)["4"])

for key, below in (("standin_blur_auroc", 0.025), ("standin_copy_auroc", 0.025),
                   ("smallest_band_auroc", 0.035)):
    fs = folds({k: dict(GOOD, **{key: SMALL[key] - below}) for k in range(5)})
    tap.check(f"bar 5 missed when {key} falls by {below}", not bars(fs)["5"])

# fold 4 from the committed metrics file: the trials log's figures
f4 = v.fold4(os.path.join(root, "models", "polyp-unet.metrics.json"))
s, b = f4["arms"]["small"], f4["arms"]["balance"]
tap.check("fold 4: crop source AUROC 0.755 shipped, 0.660 F",
          round(s["crop_source_auroc"], 3) == 0.755 and round(b["crop_source_auroc"], 3) == 0.660,
          f"{s['crop_source_auroc']}, {b['crop_source_auroc']}")
tap.check("fold 4: C engine hit rate 0.950 / 0.940, Dice 0.7667 / 0.7619",
          (s["c_hit_rate"], b["c_hit_rate"], s["c_dice"], b["c_dice"]) == (0.95, 0.94, 0.7667, 0.7619),
          f"{s['c_hit_rate']} {b['c_hit_rate']} {s['c_dice']} {b['c_dice']}")

# the command: no verdict while a fold is missing; a verdict when all are in
with tempfile.TemporaryDirectory() as d:
    tool = os.path.join(root, "tools", "polyp_cv_verdict.py")
    metrics = os.path.join(root, "models", "polyp-unet.metrics.json")
    for k in range(3):
        with open(os.path.join(d, f"score-fold{k}.json"), "w") as f:
            json.dump(folds()[k], f)
    r = subprocess.run([sys.executable, tool, "--store", d, "--metrics", metrics],
                       capture_output=True, text=True)
    last = json.loads(r.stdout.strip().splitlines()[-1])
    tap.check("a missing fold: exit 3, no verdict", r.returncode == 3 and last["verdict"] is None
              and last["missing_folds"] == [3], f"rc {r.returncode}: {r.stdout[-300:]}")
    with open(os.path.join(d, "score-fold3.json"), "w") as f:
        json.dump(folds()[3], f)
    r = subprocess.run([sys.executable, tool, "--store", d, "--metrics", metrics],
                       capture_output=True, text=True)
    last = json.loads(r.stdout.strip().splitlines()[-1])
    tap.check("every fold in: a verdict, one line per bar", r.returncode == 0
              and last["verdict"] in ("met", "missed") and sorted(last["bars"]) == list("12345")
              and r.stdout.count(" - ") == 5, f"rc {r.returncode}: {r.stdout[-400:]}")

# N's bars on fold 3 (rule of 2026-12-07 evening): met by a fold built to
# meet them, each missed by a change across its line, met at the line
N_GOOD = dict(SMALL, crop_source_auroc=0.69, dice_tool=0.757, capsule_auroc=0.988,
              c_hit_rate=0.92, c_dice=0.75, c_specificity=0.96)


def n_bars(**n):
    score = {"fold": 3, "arms": {"small": dict(SMALL), "balance": dict(GOOD),
                                 "negatives": dict(N_GOOD, **n)}}
    return {name.split(".")[0]: met for name, met, _ in v.judge_n(score)}


tap.check("N: every bar met by a fold built to meet them", all(n_bars().values()), n_bars())
tap.check("N: bar 1 met at its line (Dice 0.005 below)", n_bars(dice_tool=0.755)["1"])
tap.check("N: bar 1 missed 0.006 below", not n_bars(dice_tool=0.754)["1"])
tap.check("N: bar 2 met at its line (crops 0.05 below)", n_bars(crop_source_auroc=0.71)["2"])
tap.check("N: bar 2 missed 0.049 below", not n_bars(crop_source_auroc=0.711)["2"])
tap.check("N: bar 3 missed under 0.98", not n_bars(capsule_auroc=0.979)["3"])
tap.check("N: bar 3 missed 0.006 below the shipped recipe's",
          not n_bars(capsule_auroc=0.984)["3"] and n_bars(capsule_auroc=0.985)["3"])
for key, bad in (("c_hit_rate", 0.899), ("c_dice", 0.699), ("c_specificity", 0.949)):
    tap.check(f"N: bar 4 missed with {key} {bad}", not n_bars(**{key: bad})["4"])

with tempfile.TemporaryDirectory() as d:
    tool = os.path.join(root, "tools", "polyp_cv_verdict.py")
    p = os.path.join(d, "score-fold3.json")
    with open(p, "w") as f:
        json.dump(folds()[3], f)
    r = subprocess.run([sys.executable, tool, "--judge-n", p], capture_output=True, text=True)
    last = json.loads(r.stdout.strip().splitlines()[-1])
    tap.check("N: a score without its arm: exit 3, no verdict",
              r.returncode == 3 and last["verdict"] is None, f"rc {r.returncode}: {r.stdout}")
    with open(p, "w") as f:
        json.dump({"fold": 3, "arms": dict(folds()[3]["arms"], negatives=dict(N_GOOD))}, f)
    r = subprocess.run([sys.executable, tool, "--judge-n", p], capture_output=True, text=True)
    last = json.loads(r.stdout.strip().splitlines()[-1])
    tap.check("N: judged, one line per bar", r.returncode == 0 and last["verdict"] == "met"
              and sorted(last["bars"]) == list("1234") and r.stdout.count(" - ") == 4,
              f"rc {r.returncode}: {r.stdout}")
sys.exit(1 if tap.failed() else 0)
