#!/usr/bin/python3
"""polyp_shipped_metrics.py - record a shipped polyp ensemble in the metrics
file (tools/train-polyp.sh calls it after the members are trained and
combined).

Writes the "shipped" entry of METRICS (created if missing; every other
entry, the history of trials and cross-validation, is kept as it is): the
recipe, each member's training metrics (m.json, train seed, seconds) and
the ensemble's held-out report from `train_polyp.py --evaluate A,B,C`
(threshold chosen there by the shipped rule, choose_threshold_by_size). Written to a temporary file
and renamed, so an interrupted run leaves the old file whole.

The entry's other fields were measured by hand on the shipped file (the C
engine's check, the bench, the date it shipped and who judged it). They
are kept when the new ensemble is the same file (same CRC-32C of the
weights, given by --weights), and dropped with a notice otherwise: they
would describe weights that are no longer shipped. The entry they belonged
to is not lost: a new file moves the whole old entry, as it was, to
"shipped_before_<its CRC-32C>" (history, like the other dated entries).

The weights' format version and, for version 4, the crop gate are read
from the file's header (docs/engine.md, "Polyp weights file").

    polyp_shipped_metrics.py --evaluate E.json --members DIR --seeds "13 14 15"
        --recipe "OPTIONS" --weights W.bin --into METRICS
"""
import argparse
import json
import os
import struct
import sys

TOOL_FIELDS = ("kind", "weights_version", "crop_gate", "n_members", "recipe", "seed",
               "threshold", "weights_crc32c", "note", "final", "members")


def weights_crc32c(path):
    """The CRC-32C a weights file carries in its last four bytes (little-
    endian; the C loader checks it), as the summary header names the
    weights: capscreen's polyp_model.crc32c."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return "%08x" % struct.unpack("<I", f.read(4))[0]


def weights_header(path):
    """(format version, crop gate or None) of an ensemble weights file: the
    version at byte 8; a version-4 file's gate (f32) at byte 20."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"CSPOLYP1":
        raise ValueError(f"{path}: not a polyp weights file")
    version = struct.unpack_from("<I", head, 8)[0]
    if version not in (3, 4):
        raise ValueError(f"{path}: version {version} is not an ensemble (3 or 4)")
    return version, (struct.unpack_from("<f", head, 20)[0] if version == 4 else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--evaluate", required=True, help="train_polyp.py --evaluate output")
    ap.add_argument("--members", required=True, help="directory holding seed-N/m.json")
    ap.add_argument("--seeds", required=True, help="the members' train seeds, space-separated")
    ap.add_argument("--recipe", required=True, help="the members' train_polyp.py options")
    ap.add_argument("--weights", required=True, help="the ensemble weights file written")
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
        crc = weights_crc32c(a.weights)
        version, gate = weights_header(a.weights)
        metrics = {}
        if os.path.exists(a.into):
            with open(a.into) as f:
                metrics = json.load(f)
    except (OSError, ValueError, KeyError) as e:
        print(f"polyp_shipped_metrics: {e}", file=sys.stderr)
        return 2
    old = metrics.get("shipped", {})
    same = old.get("weights_crc32c") == crc
    hand = {k: v for k, v in old.items() if k not in TOOL_FIELDS}
    if hand and not same:
        print("polyp_shipped_metrics: new weights (CRC-32C " + crc + ", was " +
              str(old.get("weights_crc32c")) + "): dropped the hand-measured fields " +
              ", ".join(sorted(hand)) + "; measure them again on the new file",
              file=sys.stderr)
    if old and not same:
        kept = "shipped_before_" + str(old.get("weights_crc32c"))
        metrics.setdefault(kept, old)
        print(f"polyp_shipped_metrics: the entry it replaces is kept as {kept}", file=sys.stderr)
    reading = ("the members' logits averaged (format version 3)" if gate is None else
               "the members' logits averaged; a frame whose one-pass score reaches the crop "
               "gate also reads its five 0.6 crops and takes the highest of the six scores "
               "(format version 4)")
    metrics["shipped"] = dict(
        kind="ensemble", weights_crc32c=crc, weights_version=version,
        **({} if gate is None else {"crop_gate": gate}), n_members=len(members),
        recipe="tools/train_polyp.py " + a.recipe + " --train-seed N",
        seed=ev["seed"], threshold=ev["threshold"],
        note="the shipped weights: " + reading + "; "
             "threshold chosen on the ensemble by the shipped rule (choose_threshold_by_size: "
             "held-out polyps pasted at every size band against held-out capsule frames, "
             "floors on capsule and colon stand-in specificity; final.threshold_rule), "
             "on the scores read as the file reads them; "
             "'final' is the ensemble's held-out report (train_polyp.py --evaluate)",
        final=ev["final"], members=members, **(hand if same else {}))
    tmp = a.into + ".partial"
    with open(tmp, "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.into)
    return 0


if __name__ == "__main__":
    sys.exit(main())
