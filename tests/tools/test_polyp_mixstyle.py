#!/usr/bin/env python3
"""tests/tools/test_polyp_mixstyle.py - the training-only style mixing of
tools/train_polyp.py (cross_source_mixstyle, --mixstyle-samples):

- with every sample eligible it draws and mixes exactly as without the
  option, so `--mixstyle-samples all` is the earlier recipe;
- with only the polyp-free samples eligible, a polyp sample's features
  come back unchanged, and a polyp-free sample takes its new statistics
  from a polyp-free sample of the other source only;
- a batch without an eligible sample of either source is left alone.

Exit 77 (skipped) without numpy, PIL or torch (the tool imports them).
"""
import sys

from tap import check, failed, train_polyp  # tests/tools/tap.py: the checks' lines and count

tp = train_polyp()  # or exit 77 (skipped)
import numpy as np  # noqa: E402  (present once the tool imports)
import torch  # noqa: E402


K = tp.KINDS
# a batch of every kind: colonoscopy frames (polyp), background crops and
# copy-filled frames (colon, polyp-free); capsule negatives and pasted
# backgrounds (capsule, polyp-free); pasted polyps (capsule, polyp)
names = ["k", "k", "kb", "ki", "w", "w", "pn", "pp", "pp", "kb"]
polyp = np.array([1, 1, 0, 0, 0, 0, 0, 1, 1, 0], bool)
kind = torch.tensor([K[n] for n in names])
colon = tp.colon_context(kind).numpy()
gen = torch.Generator().manual_seed(3)
# each sample's channels with its own, distinct statistics
feat = torch.randn(len(names), 6, 9, 9, generator=gen) * torch.arange(1, 11).view(-1, 1, 1, 1) \
    + 5 * torch.arange(len(names)).view(-1, 1, 1, 1)

# 1. all eligible == the option absent: the same draws, the same mixing
a = tp.cross_source_mixstyle(np.random.RandomState(7), kind)(feat)
b = tp.cross_source_mixstyle(np.random.RandomState(7), kind, np.ones(len(names), bool))(feat)
check("every sample eligible mixes as before the option", torch.equal(a, b))
check("the default mixes polyp samples too (the earlier recipe)",
      not torch.allclose(a[polyp], feat[polyp], atol=1e-3))

# 2. polyp-free only, over many draws
free = ~polyp
mu = feat.mean((2, 3))
unchanged_polyp = True
partner_ok = True
mixed_some = 0
for seed in range(200):
    mix = tp.cross_source_mixstyle(np.random.RandomState(seed), kind, free)
    out = mix(feat)
    unchanged_polyp &= bool(torch.allclose(out[polyp], feat[polyp], atol=1e-4))
    om = out.mean((2, 3))
    for i in np.flatnonzero(free):
        # the new mean is lam * own + (1 - lam) * partner's: solve for the
        # partner's share and check the rest is a polyp-free other-source mean
        if torch.allclose(om[i], mu[i], atol=1e-3):
            continue
        mixed_some += 1
        fits = []
        for j in np.flatnonzero(free & (colon != colon[i])):
            d = mu[j] - mu[i]
            t = float((om[i] - mu[i]) @ d / (d @ d))
            fits.append(bool(torch.allclose(om[i], mu[i] + t * d, atol=1e-2)))
        partner_ok &= any(fits)
check("polyp-free only: a polyp sample's features come back unchanged", unchanged_polyp)
check("polyp-free only: polyp-free samples do mix", mixed_some > 100, f"{mixed_some} mixes")
check("polyp-free only: a mixed sample's statistics come from a polyp-free sample of "
      "the other source", partner_ok)

# 3. no eligible sample of one source: nothing to mix with
only_colon_free = free & colon
check("no polyp-free capsule sample: no mixing",
      tp.cross_source_mixstyle(np.random.RandomState(1), kind, only_colon_free) is None)

print("passed" if not failed() else f"{failed()} failed")
sys.exit(1 if failed() else 0)
