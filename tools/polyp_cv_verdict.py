#!/usr/bin/env python3
"""polyp_cv_verdict.py - the measures and the bars of F's cross-validation
(docs/polyp-trials.md, "F's cross-validation", rule of 2026-12-07, written
before any fold's result; this code written before any fold's result too).

  --fold-summary DIR --fold K --out FILE
      DIR holds one fold's scores as tools/polyp-cv.sh score writes them
      (small-eval.json and balance-eval.json from train_polyp.py
      --evaluate, ARM-size.json from polyp_size_sensitivity.py, ARM-c.out
      from capscreen eval --masks); FILE gets the rule's measures of both
      arms (small: the shipped recipe's ensemble; balance: F's).
      Any trial arm scored beside them (negatives: N, on fold 3) is
      written too when DIR holds its reports.
  --judge-n FILE
      N's bars on one fold (docs/polyp-trials.md, "N: the label
      independent of the source, polyp frames untouched", rule of
      2026-12-07 evening, written, with this code, before any result),
      from that fold's score file (STORE/score-fold3.json): each bar, met
      or missed, and a JSON line last; exits 0 when judged, 3 when the
      file has no N arm (then no verdict).
  --store STORE --metrics METRICS
      The verdict: folds 0-3 from STORE/score-foldK.json, fold 4 from the
      metrics file (the shipped file, 'shipped', against F's ensemble,
      'ensembles_evaluated_not_shipped.source_label_balance_frame_2026_12_06',
      scored on the same images). Prints each bar, met or missed, and a
      JSON line last; exits 0 when every fold is in (whatever the
      verdict), 3 when a fold is missing (then no verdict).

Bar 6 (on the file that would ship: C-engine specificity, the bench,
the tests) is judged on that file, not here."""
import argparse
import json
import os
import sys

ARMS = ("small", "balance")
EXTRA_ARMS = ("negatives",)  # trials scored beside F on some folds (N on fold 3)
F4_ENTRY = "source_label_balance_frame_2026_12_06"
SMALLEST_BAND = [0.08, 0.14]


def measures(final, bands, c_engine):
    """The rule's measures of one arm on one fold."""
    band = bands[0]
    if [round(v, 4) for v in band["box_side_share"]] != SMALLEST_BAND:
        raise ValueError(f"the first size band is {band['box_side_share']}, not {SMALLEST_BAND}")
    return {
        "crop_source_auroc": final["source_auroc_polyp_free"]["auroc"],
        "rendered_source_auroc": final["source_auroc_capsule_rendered"]["auroc"],
        "capsule_auroc": final["capsule"]["auroc"],
        "dice_tool": final["kvasir"]["dice"],
        "hit_rate_tool": final["kvasir"]["hit_rate"],
        "standin_blur_auroc": final["colon_rendered_polyp_blur"]["auroc"],
        "standin_copy_auroc": final["colon_rendered_polyp_copy"]["auroc"],
        "smallest_band_auroc": band["auroc"],
        "c_hit_rate": c_engine["hit_rate"],
        "c_dice": c_engine["dice"],
        "c_specificity": c_engine["specificity"],
    }


def last_json_line(path):
    """capscreen eval prints its result as the last line, one JSON object."""
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")
    return json.loads(lines[-1])


def load(path):
    with open(path) as f:
        return json.load(f)


def fold_summary(d, fold, out):
    arms = {}
    extra = [a for a in EXTRA_ARMS if os.path.exists(os.path.join(d, f"{a}-eval.json"))]
    for arm in ARMS + tuple(extra):
        ev = load(os.path.join(d, f"{arm}-eval.json"))
        size = load(os.path.join(d, f"{arm}-size.json"))
        if ev.get("fold") != fold or size.get("fold") != fold:
            raise ValueError(f"{d}: {arm}'s reports are of fold {ev.get('fold')}/{size.get('fold')}, "
                             f"not {fold}")
        c = last_json_line(os.path.join(d, f"{arm}-c.out"))
        arms[arm] = measures(ev["final"], size["bands"], c)
        arms[arm]["threshold"] = ev.get("threshold")
    res = {"fold": fold, "arms": arms,
           "note": "small: the shipped recipe's three draws, balance: F's"
                   + (", negatives: N's" if extra else "")
                   + ", each as a version-4 file at crop gate 0.1 (tools/polyp-cv.sh score)"}
    tmp = out + ".partial"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    os.replace(tmp, out)
    print(f"fold {fold}: " + json.dumps(res["arms"]))


def fold4(metrics):
    m = load(metrics)
    e = m["ensembles_evaluated_not_shipped"][F4_ENTRY]
    return {"fold": 4, "arms": {
        "small": measures(m["shipped"]["final"], e["size_sensitivity_shipped_same_run"]["bands"],
                          e["c_engine"]["heldout_shipped_same_run"]),
        "balance": measures(e["final"], e["size_sensitivity"]["bands"], e["c_engine"]["heldout"]),
    }}


def mean(v):
    return sum(v) / len(v)


def verdict(folds):
    """The bars of the rule, in its order: (name, met, detail)."""
    s = [f["arms"]["small"] for f in folds]
    b = [f["arms"]["balance"] for f in folds]

    def col(rows, k):
        return [r[k] for r in rows]

    bars = []
    ms, mb = mean(col(s, "crop_source_auroc")), mean(col(b, "crop_source_auroc"))
    lower = sum(x < y for x, y in zip(col(b, "crop_source_auroc"), col(s, "crop_source_auroc")))
    bars.append(("1. crop source AUROC: mean at least 0.03 below, lower on at least 4 of 5 folds",
                 mb <= ms - 0.03 and lower >= 4,
                 f"mean {mb:.3f} against {ms:.3f} ({mb - ms:+.3f}); lower on {lower} of {len(folds)}"))
    ms, mb = mean(col(s, "rendered_source_auroc")), mean(col(b, "rendered_source_auroc"))
    bars.append(("2. rendered whole-frame source AUROC: mean lower", mb < ms,
                 f"mean {mb:.3f} against {ms:.3f} ({mb - ms:+.3f})"))
    bad = [f["fold"] for f, x, y in zip(folds, b, s)
           if not (x["capsule_auroc"] >= 0.98 and x["capsule_auroc"] >= y["capsule_auroc"] - 0.005)]
    bars.append(("3. every fold: capsule AUROC at least 0.98, no more than 0.005 below", not bad,
                 "folds " + ", ".join(f"{f['fold']}: {x['capsule_auroc']:.4f} ({y['capsule_auroc']:.4f})"
                                      for f, x, y in zip(folds, b, s))
                 + (f"; missed on {bad}" if bad else "")))
    bad = [f["fold"] for f, x in zip(folds, b) if not (x["c_hit_rate"] >= 0.90 and x["c_dice"] >= 0.70)]
    ms, mb = mean(col(s, "dice_tool")), mean(col(b, "dice_tool"))
    bars.append(("4. every fold in the C engine: hit rate at least 0.90 and Dice at least 0.70; "
                 "mean Dice (tool) no more than 0.01 below",
                 not bad and mb >= ms - 0.01,
                 "C engine " + ", ".join(f"{f['fold']}: {x['c_hit_rate']:.3f} / {x['c_dice']:.4f}"
                                         for f, x in zip(folds, b))
                 + f"; mean Dice {mb:.4f} against {ms:.4f} ({mb - ms:+.4f})"
                 + (f"; missed on {bad}" if bad else "")))
    parts, ok = [], True
    for k, tol in (("standin_blur_auroc", 0.02), ("standin_copy_auroc", 0.02),
                   ("smallest_band_auroc", 0.03)):
        ms, mb = mean(col(s, k)), mean(col(b, k))
        ok = ok and mb >= ms - tol
        parts.append(f"{k} {mb:.3f} against {ms:.3f} ({mb - ms:+.3f}, bar -{tol})")
    bars.append(("5. colon stand-ins (blur, copy) no more than 0.02 below; smallest band no more "
                 "than 0.03 below (means)", ok, "; ".join(parts)))
    return bars


# a difference exactly at a bar's line meets it ("no more than 0.005
# below"), whatever the last bits of two floats' difference say
AT_LINE = 1e-9


def judge_n(score):
    """N's bars on one fold against the shipped recipe's ensemble, in the
    rule's order: (name, met, detail)."""
    s, n = score["arms"]["small"], score["arms"]["negatives"]
    bars = []
    d = n["dice_tool"] - s["dice_tool"]
    bars.append(("1. Dice (tool) no more than 0.005 below", d >= -0.005 - AT_LINE,
                 f"{n['dice_tool']:.4f} against {s['dice_tool']:.4f} ({d:+.4f})"))
    d = n["crop_source_auroc"] - s["crop_source_auroc"]
    bars.append(("2. crop source AUROC at least 0.05 below", d <= -0.05 + AT_LINE,
                 f"{n['crop_source_auroc']:.3f} against {s['crop_source_auroc']:.3f} ({d:+.3f})"))
    d = n["capsule_auroc"] - s["capsule_auroc"]
    bars.append(("3. capsule AUROC at least 0.98 and no more than 0.005 below",
                 n["capsule_auroc"] >= 0.98 and d >= -0.005 - AT_LINE,
                 f"{n['capsule_auroc']:.4f} against {s['capsule_auroc']:.4f} ({d:+.4f})"))
    bars.append(("4. C engine: hit rate at least 0.90, Dice at least 0.70, held-out capsule "
                 "specificity at least 0.95",
                 n["c_hit_rate"] >= 0.90 and n["c_dice"] >= 0.70 and n["c_specificity"] >= 0.95,
                 f"{n['c_hit_rate']:.3f} / {n['c_dice']:.4f} / {n['c_specificity']:.4f}"))
    return bars


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fold-summary", metavar="DIR")
    ap.add_argument("--fold", type=int, choices=range(4))
    ap.add_argument("--out")
    ap.add_argument("--judge-n", metavar="FILE")
    ap.add_argument("--store")
    ap.add_argument("--metrics")
    a = ap.parse_args()
    if a.fold_summary:
        if a.fold is None or not a.out:
            ap.error("--fold-summary needs --fold and --out")
        fold_summary(a.fold_summary, a.fold, a.out)
        return 0
    if a.judge_n:
        score = load(a.judge_n)
        if "negatives" not in score.get("arms", {}):
            print(f"no verdict: {a.judge_n} has no N arm (tools/polyp-cv.sh draws 3, then score 3)")
            print(json.dumps({"verdict": None}))
            return 3
        bars = judge_n(score)
        for name, met, detail in bars:
            print(f"{'met' if met else 'MISSED'} - {name}: {detail}")
        every = all(met for _, met, _ in bars)
        print(f"N on fold {score.get('fold')}: " + (
            "every bar met: worth its other folds, under a ship rule written before they are scored"
            if every else "a bar missed: a trial that did not help, nothing shipped changes"))
        print(json.dumps({"verdict": "met" if every else "missed",
                          "bars": {name.split(".")[0]: met for name, met, _ in bars}}))
        return 0
    if not (a.store and a.metrics):
        ap.error("give --fold-summary DIR --fold K --out FILE, or --store STORE --metrics FILE")
    folds, missing = [], []
    for k in range(4):
        p = os.path.join(a.store, f"score-fold{k}.json")
        if os.path.exists(p):
            folds.append(load(p))
        else:
            missing.append(k)
    folds.append(fold4(a.metrics))
    for f in folds:
        print(f"fold {f['fold']}: " + ", ".join(
            f"{arm} crops {f['arms'][arm]['crop_source_auroc']:.3f}" for arm in ARMS))
    if missing:
        print(f"no verdict: folds {missing} are not scored yet (tools/polyp-cv.sh draws, then score)")
        print(json.dumps({"verdict": None, "missing_folds": missing}))
        return 3
    bars = verdict(folds)
    for name, met, detail in bars:
        print(f"{'met' if met else 'MISSED'} - {name}: {detail}")
    every = all(met for _, met, _ in bars)
    print("bars 1-5 " + ("all met: judge bar 6 on the file that would ship" if every else
                         "not all met: F stays a trial, nothing shipped changes"))
    print(json.dumps({"verdict": "met" if every else "missed",
                      "bars": {name.split(".")[0]: met for name, met, _ in bars}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
