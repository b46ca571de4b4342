#!/usr/bin/env python3
"""tests/tools/test_polyp_fourier.py - train_polyp.swap_low_amplitude
(--swap-kind fourier) against the whole-image FFT it replaced: on
synthetic frames of the sizes training sees (square cache frames, crops,
odd sides, black borders), the uint8 frame the swap gives must be the same
byte for byte; the swap must change only the (2b+1)^2 window of the
spectrum around the DC term, and set its amplitude to the blend. Needs
Debian's numpy, PIL and torch (the tool imports them); skips (77)
without them."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

tp = tap.train_polyp()
np = tp.np


def whole_fft_swap(f, ref, b, a):
    """The swap as first written (Fourier domain adaptation, Yang and
    Soatto 2020): fft2 of the whole frame, the low-frequency window's
    amplitude blended towards ref's, ifft2 of every frequency."""
    h, w = f.shape[:2]
    fs = np.fft.fftshift(np.fft.fft2(f, axes=(0, 1)), axes=(0, 1))
    fr = np.fft.fftshift(np.fft.fft2(ref, axes=(0, 1)), axes=(0, 1))
    amp, pha = np.abs(fs), np.angle(fs)
    cy, cx = h // 2, w // 2
    win = (slice(cy - b, cy + b + 1), slice(cx - b, cx + b + 1))
    amp[win] = (1 - a) * amp[win] + a * np.abs(fr)[win]
    return np.fft.ifft2(np.fft.ifftshift(amp * np.exp(1j * pha), axes=(0, 1)), axes=(0, 1)).real


def to_u8(f, out):
    """As fourier_swap finishes: the lit field takes the swap, rounded."""
    lit = (f @ tp.LUMA) > 20
    return np.clip(np.where(lit[..., None], out, f) + 0.5, 0, 255).astype(np.uint8)


def frame(rng, h, w):
    """A frame-like image: a smooth colour gradient, texture, a few bright
    blobs, and (often) black corners as a round field leaves them."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, 3) + rng.uniform(-60, 60, 3) * (x / w)[..., None] \
        + rng.uniform(-60, 60, 3) * (y / h)[..., None]
    img = base + rng.normal(0, rng.uniform(2, 25), (h, w, 3))
    for _ in range(rng.randint(0, 4)):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 20)
        img += 80 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
    if rng.rand() < 0.6:
        outside = (y - h / 2) ** 2 + (x - w / 2) ** 2 > (0.55 * min(h, w)) ** 2
        img[outside] = rng.uniform(0, 12)
    return np.clip(img, 0, 255).astype(np.uint8)


rng = np.random.RandomState(7)
sizes = [(160, 160)] * 4 + [(48, 48), (97, 131), (160, 73), (61, 59), (128, 160)]
n = differ = worst = 0
for i in range(240):
    h, w = sizes[i % len(sizes)]
    f = frame(rng, h, w).astype(np.float32)
    ref = frame(rng, h, w).astype(np.float32)
    b = max(1, int(min(h, w) * rng.uniform(0.006, 0.025)))
    a = rng.uniform(0.5, 1.0)
    fast, slow = to_u8(f, tp.swap_low_amplitude(f, ref, b, a)), to_u8(f, whole_fft_swap(f, ref, b, a))
    n += 1
    if not np.array_equal(fast, slow):
        differ += 1
        worst = max(worst, int(np.abs(fast.astype(int) - slow.astype(int)).max()))
tap.check("the same uint8 frames as the whole-image FFT", differ == 0,
          f"{differ} of {n} swaps differ, by up to {worst} levels")

# The spectrum: only the window changes, and its amplitude is the blend.
f = frame(rng, 97, 131).astype(np.float32)
ref = frame(rng, 97, 131).astype(np.float32)
b, a = 3, 0.7
out = tp.swap_low_amplitude(f, ref, b, a)
so = np.fft.fftshift(np.fft.fft2(out, axes=(0, 1)), axes=(0, 1))
sf = np.fft.fftshift(np.fft.fft2(f, axes=(0, 1)), axes=(0, 1))
sr = np.fft.fftshift(np.fft.fft2(ref, axes=(0, 1)), axes=(0, 1))
win = np.zeros((97, 131), bool)
win[97 // 2 - b:97 // 2 + b + 1, 131 // 2 - b:131 // 2 + b + 1] = True
outside = np.abs(so - sf)[~win].max() / np.abs(sf).max()
tap.check("frequencies outside the window unchanged", outside < 1e-9, f"relative change {outside:.3g}")
blend = (1 - a) * np.abs(sf) + a * np.abs(sr)
amp_err = (np.abs(np.abs(so) - blend)[win] / blend[win]).max()
tap.check("the window's amplitude is the blend towards ref's", amp_err < 1e-9, f"relative error {amp_err:.3g}")
ph = np.angle(so[win] * np.conj(sf[win]))
tap.check("the window keeps its phase", np.abs(ph).max() < 1e-6, f"up to {np.abs(ph).max():.3g} rad")
# b = 0, a = 1: the window is the DC term alone, so the mean colour becomes
# ref's (float32 means: to 1e-3 of a level)
dc = np.abs(tp.swap_low_amplitude(f, ref, 0, 1.0).mean((0, 1)) - ref.mean((0, 1), dtype=np.float64)).max()
tap.check("b = 0 swaps the mean colour alone", dc < 1e-3, f"off by {dc:.3g} levels")
sys.exit(1 if tap.failed() else 0)
