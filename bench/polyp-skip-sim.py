#!/usr/bin/python3
"""Would reading one frame per redundant run speed up the polyp triage safely?

Reads a summary written by `capscreen analyze` (every frame analysed, as
the engine does) and simulates the route the issue allows: run the network
on an anchor frame and give its near-identical followers the anchor's score
without running it. Prints, from the summary alone:

- for consecutive frames at signature distance <= D (the summary's
  `distance_prev`), how often the two differ in their polyp flag, and how
  often one scores under the crop gate while its near-twin is flagged;
- for a scheme (anchors every G frames; a follower is skipped when its
  chained distance to the anchor is <= D and the anchor scores under a gate),
  the share of detector passes it would save and the highest score among
  the frames it would skip (a flagged one would have been hidden).

The passes a frame costs are estimated from its final score (the one-pass
score that gates the crops is not in the summary): one, five more at or
over the file's crop gate, eight more when flagged. Distances chain by the
triangle inequality (the distance is a mean absolute difference), so the
chained sum bounds the distance to the anchor from above.

Usage: bench/polyp-skip-sim.py SUMMARY.json
"""
import json
import sys


def passes(frame, gate):
    p = frame["polyp_probability"]
    return 1 + (5 if gate is not None and p >= gate else 0) + (8 if frame["polyp"] else 0)


def twins(frames, thr, gate, dist):
    pairs = differ = hidden = 0
    worst = []
    for i in range(1, len(frames)):
        d = frames[i]["redundancy"]["distance_prev"]
        if d is None or d > dist:
            continue
        a = frames[i - 1]["polyp_probability"]
        b = frames[i]["polyp_probability"]
        pairs += 1
        differ += (a >= thr) != (b >= thr)
        if min(a, b) < (gate or thr) and max(a, b) >= thr:
            hidden += 1
            worst.append((min(a, b), max(a, b), d, i))
    return pairs, differ, hidden, sorted(worst)[:3]


def scheme(frames, gate, group, dist, anchor_gate):
    total = sum(passes(f, gate) for f in frames)
    saved = skipped = 0
    top = 0.0
    for a in range(0, len(frames), group):
        if frames[a]["polyp_probability"] >= anchor_gate:
            continue
        chained = 0.0
        for j in range(a + 1, min(a + group, len(frames))):
            d = frames[j]["redundancy"]["distance_prev"]
            if d is None:
                break
            chained += d
            if chained > dist:
                break
            saved += passes(frames[j], gate)
            skipped += 1
            top = max(top, frames[j]["polyp_probability"])
    return skipped, saved / total, top


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        summary = json.load(f)
    frames = summary["frames"]
    if any(not isinstance(fr.get("polyp_probability"), (int, float)) for fr in frames):
        sys.exit("polyp-skip-sim: every frame needs a polyp_probability (a broken frame?)")
    model = summary["polyp_model"]
    thr, gate = model["threshold"], model.get("crop_gate")
    print(f"{len(frames)} frames, {sum(f['polyp'] for f in frames)} polyp-flagged; "
          f"threshold {thr:.4f}, crop gate {gate}")
    for dist in (1, 2, 4):
        pairs, differ, hidden, worst = twins(frames, thr, gate, dist)
        shown = ", ".join(f"{lo:.3f} -> {hi:.3f} (distance {d:.2f}, seq {i})" for lo, hi, d, i in worst)
        print(f"near-twins at distance <= {dist}: {pairs} pairs, flag differs in {differ}, "
              f"one under the crop gate and the other flagged in {hidden}" + (f": {shown}" if shown else ""))
    for group in (2, 4):
        for dist in (2, 4, 8):
            for anchor_gate in (0.02, 0.05, 0.1):
                skipped, share, top = scheme(frames, gate, group, dist, anchor_gate)
                print(f"anchor every {group}, distance <= {dist}, anchor under {anchor_gate}: "
                      f"{skipped} frames skipped, {share:.1%} of passes saved, "
                      f"highest skipped score {top:.3f}" + (" (FLAGGED)" if top >= thr else ""))


if __name__ == "__main__":
    main()
