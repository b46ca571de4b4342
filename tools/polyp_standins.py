#!/usr/bin/python3
"""polyp_standins.py - how far the colon-capsule stand-ins of the polyp
detector can be trusted (docs/polyp-trials.md, "How far the colon
stand-ins can be trusted").

There are no colon-capsule frames here, with or without polyps. The
training tool's stand-in for the issue's colon-capsule check
(train_polyp.py, colon_rendered_report) scores each held-out Kvasir-SEG
polyp frame against the same frame with its polyp removed, both rendered
as capsule video. The removal is a fill, and a fill leaves a trace of its
own that the network may see: a smooth patch (blur fill) or a feathered
copy of the frame's own wall with a seam round it (copy fill). This tool
measures those traces and adds a stand-in that needs no fill:

- fill_artefact: every held-out capsule frame (no polyp) against itself
  filled under a held-out polyp's mask, both through one draw of the
  capsule look. AUROC 0.5 and equal flag rates mean the fill alone moves
  nothing; above 0.5 the fill itself looks like a polyp (the copy stand-in
  then understates the model), below 0.5 it hides polyp-like wall (the
  blur stand-in then flatters it).
- copy_peaks: in the copy-filled colon frames that are flagged, the share
  whose heatmap peak lies in the fill (or its seam ring): the model fires
  on the fill, not elsewhere on the colon wall.
- rest_of_frame: each polyp frame as rendered, against the same rendered
  frame scored with the polyp region (grown by a G x G maximum filter at
  cache size, train_polyp.grown) left out of
  the frame score's top-K pooling: polyp against the colon wall it sits
  in, with no fill at all. Its own biases, measured beside it: the wall
  next to the polyp still sees the polyp (pessimistic), and fewer cells
  are pooled (optimistic; exclusion_control: held-out capsule frames
  scored whole and with the same share left out).

- source_offset: what the source measures (train_polyp.py's
  source_auroc_*) are made of. For each pair of sets, the mean over frames
  of the frame's median logit on each side, and the AUROC again with each
  frame's score taken relative to its own median logit: if a colonoscopy
  frame sits higher than a capsule frame everywhere, not only at its
  peak, the relative score no longer tells the sources apart. The same
  for the capsule check and the colon stand-ins, which the relative score
  must not cost. A diagnosis, not the engine's score.

- colon_blur_draws (with --colon-draws N): the blur-fill colon stand-in
  of `--evaluate` (draw 0, its very images) and N other draws of the
  capsule look over the same frames: the polyp-free frames' specificity
  at the file's threshold, the polyp frames flagged and the AUROC of
  each. The shipped threshold's rule puts a floor on draw 0's
  specificity (train_polyp.choose_threshold_by_size), so draw 0 reads it
  in-sample; the other draws say how far from it the same frames, drawn
  anew, fall.

A version-4 weights file (its frame score also reads five crops above
its crop gate) is measured here on its one pass, except by the colon
draws, which score as the file does; the report says so (`reading`).

Every image is read as the engine reads a frame (train_polyp.frame_input:
through its lit field when it has a wide black border, as about a tenth
of the capsule-look renders do); a region given in the frame's heatmap
cells is seen through the cells of the map read on that field
(to_field, frame_cell).

With --compare OTHER every AUROC is paired against another weights file
on the same images (train_polyp.paired_auroc_difference). The frames and
draws are those of `train_polyp.py --evaluate` for the same --seed and
--fold (the copy pairs as its colon_rendered_polyp_copy, the rest-of-frame
renders as its colon_rendered_polyp_blur polyp frames).

    polyp_standins.py --weights W.bin [--compare OTHER.bin] --metrics OUT.json
        [--into METRICS.json --key shipped.standins] [--shared DIR] [--cache DIR]
        [--seed 13] [--fold 4] [--colon-draws N] [--smoke]

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
import train_polyp as tp  # noqa: E402  (the checks reuse the training tool's code)

# rest_of_frame: the polyp region grown by a G x G maximum filter at cache
# size (train_polyp.grown: 4 and 12 pixels each way)
GROWS = (9, 25)
SEAM_RING = 5  # copy_peaks: the fill grown by a 5 x 5 filter (2 heatmap cells each way)


class Reads:
    """The logit maps of images as the engine reads them (logits): `lg`,
    N x OUT x OUT, each of the image's lit field where the engine reads one
    (train_polyp.frame_input), and `fields`, each None (the whole image) or
    the field's (u0, v0, su, sv). Indexing by a boolean mask keeps both."""
    def __init__(self, lg, fields):
        self.lg, self.fields = lg, fields

    def __len__(self):
        return len(self.lg)

    def __getitem__(self, ok):
        return Reads(self.lg[ok], [f for f, k in zip(self.fields, ok) if k])

    def __iter__(self):
        return iter(zip(self.lg, self.fields))


@torch.no_grad()
def logits(net, imgs):
    """uint8 images (INxINx3) -> Reads: each read through its lit field
    where the engine reads one, as train_polyp.predict reads it, so that
    frame_score gives predict's score."""
    views = [tp.frame_input(img) for img in imgs]
    out = [net(tp.channels_last(tp.to_input(np.stack([v for v, _ in views[b:b + 64]])))).numpy()
           for b in range(0, len(views), 64)]
    lg = np.concatenate(out) if out else np.zeros((0, tp.OUT, tp.OUT), np.float32)
    return Reads(lg, [f for _, f in views])


def frame_cells(field, side):
    """The frame's heatmap row and column under the centre of each row and
    column of a side x side map read on `field` (u0, v0, su, sv)."""
    u0, v0, su, sv = field
    c = (np.arange(side) + 0.5) / side
    return (np.clip(((v0 + c * sv) * side).astype(int), 0, side - 1),
            np.clip(((u0 + c * su) * side).astype(int), 0, side - 1))


def to_field(region, field):
    """A region in the frame's heatmap cells (bool OUTxOUT) as seen by the
    cells of a map read on `field` (each field cell takes the frame cell
    under its centre); the region itself when the frame is read whole."""
    if field is None:
        return region
    row, col = frame_cells(field, region.shape[0])
    return region[np.ix_(row, col)]


def frame_cell(y, x, field, side):
    """The frame's heatmap cell under cell (y, x) of a map read on `field`."""
    if field is None:
        return y, x
    row, col = frame_cells(field, side)
    return int(row[y]), int(col[x])


def frame_score(lg, keep=None):
    """The frame score (train_polyp.frame_logit, the same torch operations,
    so the same bits as train_polyp.predict) of one logit map, pooled over
    the cells where `keep` is true (all when None)."""
    t = torch.from_numpy(np.ascontiguousarray(lg, np.float32)).reshape(1, -1)
    if keep is not None:
        t = t[:, torch.from_numpy(np.ascontiguousarray(keep).reshape(-1))]
    return float(torch.sigmoid(tp.frame_logit(t))[0])


def kept_cells(reads, excl):
    """For each read and its excluded region (frame cells), the map cells
    left to pool: the region's complement seen by the read's cells."""
    return [to_field(~e, f) for (_, f), e in zip(reads, excl)]


def enough_cells(reads, excl):
    """Which reads leave at least TOPK cells to pool once their region is
    left out."""
    return np.array([k.sum() >= tp.TOPK for k in kept_cells(reads, excl)], bool)


def summary(pos, neg, seed, thr, pos_name, neg_name):
    pos, neg = np.asarray(pos), np.asarray(neg)
    return {"n": len(pos), "auroc": tp.auroc(pos, neg), "interval95": tp.auroc_interval(pos, neg, seed),
            f"{pos_name}_flagged": float(np.mean(pos >= thr)) if len(pos) else None,
            f"{neg_name}_flagged": float(np.mean(neg >= thr)) if len(neg) else None}


def fill_pairs(data, kval, wval, seed, fill):
    """Each held-out capsule frame as it is and filled under the mask of a
    held-out polyp (cycled), both through one draw of the capsule look.
    Frames the copy fill cannot cover are left out."""
    rng = np.random.RandomState(seed)
    z = np.zeros((tp.CACHE_SIDE, tp.CACHE_SIDE), np.float32)
    orig, filled = [], []
    for j, w in enumerate(wval):
        km = data["kmask"][kval[j % len(kval)]] >= 128
        img = data["wimg"][w]
        f = tp.inpaint(img, km) if fill == "blur" else tp.inpaint_copy(img, km, np.zeros(km.shape, bool))
        if f is None:
            continue
        st = rng.get_state()
        a, _ = tp.capsule_look(rng, img, z)
        rng.set_state(st)
        b, _ = tp.capsule_look(rng, f, z)
        orig.append(a)
        filled.append(b)
    return np.stack(orig), np.stack(filled)


def copy_pairs_with_fill(data, kval, seed):
    """train_polyp.colon_rendered_pairs(..., "copy") with the fill region
    carried through the same draw: (polyp frames, filled frames, fill
    regions at heatmap size)."""
    rng = np.random.RandomState(seed)
    polyp, free, region = [], [], []
    for i in kval:
        filled = tp.copy_inpainted_kvasir(data, i)
        if filled is None:
            continue
        m0 = data["kmask"][i] >= 128
        st = rng.get_state()
        a, m = tp.capsule_look(rng, data["kimg"][i], m0.astype(np.float32))
        rng.set_state(st)
        b, r = tp.capsule_look(rng, filled, tp.grown(m0, 9).astype(np.float32))  # inpaint_copy's
        if m.any():
            polyp.append(a)
            free.append(b)
            region.append(r > 0)
    return np.stack(polyp), np.stack(free), np.stack(region)


def rendered_regions(rng, img, masks):
    """One draw of the capsule look for `img`, with each of `masks` (cache
    size, bool) carried through it: (rendered image, [region at heatmap
    size, ...]). The rng ends where one capsule_look call leaves it (the
    look's draws do not depend on the mask)."""
    st = rng.get_state()
    regions = []
    for m in masks:
        rng.set_state(st)
        a, r = tp.capsule_look(rng, img, m.astype(np.float32))
        regions.append(r > 0)
    return a, regions


def rest_renders(data, kval, seed, grows):
    """The polyp frames as colon_rendered_pairs(..., "blur") renders them,
    with the polyp region grown by each of `grows` carried through the same
    draw: (images, {grow: regions})."""
    rng = np.random.RandomState(seed)
    imgs, excl = [], {g: [] for g in grows}
    for i in kval:  # the blur fill covers every frame: no frame is left out there either
        m0 = data["kmask"][i] >= 128
        # colon_rendered_pairs then draws the filled frame from the same
        # state, which leaves the rng where this draw leaves it
        a, (m, *gs) = rendered_regions(rng, data["kimg"][i], [m0] + [tp.grown(m0, g) for g in grows])
        if m.any():
            imgs.append(a)
            for g, r in zip(grows, gs):
                excl[g].append(r)
    return np.stack(imgs), {g: np.stack(r) for g, r in excl.items()}


def capsule_exclusions(data, kval, wval, seed, grows):
    """Held-out capsule frames rendered as capsule video, each with a
    held-out polyp's region (cycled; grown by each of `grows`) carried
    through the same draw: (images, {grow: regions})."""
    rng = np.random.RandomState(seed)
    imgs, excl = [], {g: [] for g in grows}
    for j, w in enumerate(wval):
        m0 = data["kmask"][kval[j % len(kval)]] >= 128
        a, gs = rendered_regions(rng, data["wimg"][w], [tp.grown(m0, g) for g in grows])
        imgs.append(a)
        for g, r in zip(grows, gs):
            excl[g].append(r)
    return np.stack(imgs), {g: np.stack(r) for g, r in excl.items()}


def relative_score(lg):
    """The frame score's logit (top-K mean) minus the frame's median logit."""
    v = lg.reshape(-1)
    return float(np.sort(v)[-tp.TOPK:].mean() - np.median(v))


def source_offset(net, data, kval, wval, seed, fold):
    """source_offset (module docstring), on the images train_polyp.py
    --evaluate draws for the same seed."""
    s0 = tp.report_seed(seed, fold)  # as train_polyp.py --evaluate --fold
    pos, neg = tp.capsule_set(data, kval, wval, s0)
    sets = dict(
        source_auroc_polyp_free=tp.background_crops(data, kval, wval, s0 + 1),
        source_auroc_inpainted=(np.stack([tp.resize_u8(tp.inpainted_kvasir(data, i)) for i in kval]), neg),
        source_auroc_capsule_rendered=tp.capsule_rendered_sets(data, kval, wval, seed + 302),
        capsule_auroc=(pos, neg))
    for j, fill in enumerate(("blur", "copy")):
        sets[f"colon_rendered_polyp_{fill}"] = tp.colon_rendered_pairs(data, kval, seed + 303 + j, fill)[:2]
    out = {}
    for name, (a, b) in sets.items():
        la, lb = logits(net, a), logits(net, b)
        out[name] = dict(
            n=[len(la), len(lb)],
            mean_median_logit=[float(np.mean([np.median(g) for g, _ in la])),
                               float(np.mean([np.median(g) for g, _ in lb]))],
            auroc=tp.auroc(np.array([frame_score(g) for g, _ in la]),
                           np.array([frame_score(g) for g, _ in lb])),
            auroc_relative=tp.auroc(np.array([relative_score(g) for g, _ in la]),
                                    np.array([relative_score(g) for g, _ in lb])))
    out["note"] = ("each pair of sets as train_polyp.py --evaluate draws it (first side: Kvasir-SEG, "
                   "or the polyp frames): mean median logit of each side, AUROC of the frame "
                   "score, and of the score relative to the frame's own median logit")
    return out


def report(net, data, kval, wval, seed, thr, ref=None, fold=4):
    """The four measures (module docstring), and with `ref` the paired
    AUROC differences net - ref on the same images."""
    out, paired = {}, {}

    def pair(name, pos_imgs, neg_imgs, net_pos, net_neg, pos_score, neg_score):
        """With --compare: the paired AUROC difference of the net's scores
        (already computed) against the reference's on the same images."""
        if ref is not None:
            bp, bn = pos_score(logits(ref, pos_imgs)), neg_score(logits(ref, neg_imgs))
            paired[name] = tp.paired_auroc_difference(net_pos, net_neg, bp, bn, seed)

    whole = lambda reads: np.array([frame_score(g) for g, _ in reads])  # noqa: E731
    for j, fill in enumerate(("blur", "copy")):
        o, f = fill_pairs(data, kval, wval, seed + 305 + j, fill)
        so, sf = whole(logits(net, o)), whole(logits(net, f))
        out[f"fill_artefact_{fill}"] = dict(
            summary(sf, so, seed, thr, "filled", "original"),
            mean_score_change=float(np.mean(sf - so)),
            note=f"held-out capsule frames filled ({fill}) under a held-out polyp's mask against "
                 "themselves unfilled, one capsule-look draw each: 0.5 = the fill is not seen")
        pair(f"fill_artefact_{fill}", f, o, sf, so, whole, whole)

    p, f, region = copy_pairs_with_fill(data, kval, seed + 304)  # colon_rendered_polyp_copy's
    lf = logits(net, f)
    sf = whole(lf)
    flagged = sf >= thr
    in_fill, in_ring = [], []
    for (lg, field), r in zip(lf, region):
        y, x = np.unravel_index(int(lg.argmax()), lg.shape)
        y, x = frame_cell(y, x, field, lg.shape[0])
        in_fill.append(bool(r[y, x]))
        in_ring.append(bool(tp.grown(r, SEAM_RING)[y, x]) if r.any() else False)
    in_fill, in_ring = np.array(in_fill), np.array(in_ring)
    out["copy_peaks"] = dict(
        n=len(sf), filled_flagged=float(flagged.mean()), auroc=tp.auroc(whole(logits(net, p)), sf),
        flagged_peak_in_fill=float(in_fill[flagged].mean()) if flagged.any() else None,
        flagged_peak_in_fill_or_seam=float(in_ring[flagged].mean()) if flagged.any() else None,
        fill_share=float(region.mean()),
        note="copy-filled colon frames (colon_rendered_polyp_copy's): of those flagged, the share "
             f"whose heatmap peak is in the fill, or in it grown by a {SEAM_RING}x{SEAM_RING} "
             "filter (its seam)")

    imgs, excl_by_grow = rest_renders(data, kval, seed + 303, GROWS)
    lg_all = logits(net, imgs)
    cimgs, cex_by_grow = capsule_exclusions(data, kval, wval, seed + 307, GROWS)
    lc_all = logits(net, cimgs)
    for grow in GROWS:
        # a polyp so large that, grown, it leaves fewer cells than the
        # pooling takes has no "rest": that frame is left out, and counted
        ok = enough_cells(lg_all, excl_by_grow[grow])
        excl, lg = excl_by_grow[grow][ok], lg_all[ok]
        rest = lambda reads, ex=excl: np.array(  # noqa: E731
            [frame_score(g, k) for (g, _), k in zip(reads, kept_cells(reads, ex))])
        sp, sr = whole(lg), rest(lg)
        out[f"rest_of_frame_g{grow}"] = dict(
            summary(sp, sr, seed, thr, "polyp", "rest"), excluded_share=float(excl.mean()),
            left_out=int((~ok).sum()),
            note=f"polyp frames rendered as capsule video, scored whole against themselves with "
                 f"the polyp grown by a {grow}x{grow} maximum filter (cache size) left out of "
                 f"the top-{tp.TOPK} pooling")
        pair(f"rest_of_frame_g{grow}", imgs[ok], imgs[ok], sp, sr, whole, rest)
        # the same regions left out of polyp-free capsule frames: what
        # pooling fewer cells alone does to a score
        ok = enough_cells(lc_all, cex_by_grow[grow])
        cex, lc = cex_by_grow[grow][ok], lc_all[ok]
        sw = whole(lc)
        sx = np.array([frame_score(g, k) for (g, _), k in zip(lc, kept_cells(lc, cex))])
        out[f"exclusion_control_g{grow}"] = dict(
            n=len(sw), left_out=int((~ok).sum()), whole_flagged=float(np.mean(sw >= thr)),
            excluded_flagged=float(np.mean(sx >= thr)), mean_score_change=float(np.mean(sx - sw)),
            note="held-out capsule frames scored whole and with a held-out polyp's region (grown "
                 "alike) left out of the pooling: the rest-of-frame measure's area bias")
    out["source_offset"] = source_offset(net, data, kval, wval, seed, fold)
    if ref is not None:
        paired["note"] = ("AUROC of the evaluated weights minus the --compare weights on the same "
                          "images; 95 % paired bootstrap interval over those images")
        out["paired_vs_compare"] = paired
    return out


def merge_into(path, key, entry):
    """Put `entry` under `key` of the JSON file `path` (created if missing;
    a dotted key, "shipped.standins", names an entry inside another), every
    other entry kept; written beside it and renamed."""
    doc = {}
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    *parents, last = key.split(".")
    node = doc
    for k in parents:
        node = node.setdefault(k, {})
    node[last] = entry
    with open(path + ".partial", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(path + ".partial", path)


COLON_DRAW_STRIDE = 1000  # draw k's seed: --evaluate's blur seed + k * this


def colon_blur_draws(net, data, kval, seed, thr, n):
    """The blur colon stand-in at draw 0 (`train_polyp.py --evaluate`'s
    colon_rendered_polyp_blur: seed + 303) and n more draws of the
    capsule look over the same frames; each draw's polyp-free specificity
    at thr, polyp frames flagged and AUROC, and over the other draws the
    mean and range of the specificity."""
    t = np.float32(thr)
    draws = []
    for k in range(n + 1):
        ps, fs, _ = tp.colon_rendered_scores(net, data, kval, seed + 303 + k * COLON_DRAW_STRIDE, "blur")
        draws.append(dict(draw=k, seed=seed + 303 + k * COLON_DRAW_STRIDE, n_pairs=len(fs),
                          polyp_free_specificity=float(np.mean(fs < t)) if len(fs) else None,
                          polyp_flagged=float(np.mean(ps >= t)) if len(ps) else None,
                          auroc=tp.auroc(ps, fs)))
    other = [d["polyp_free_specificity"] for d in draws[1:] if d["polyp_free_specificity"] is not None]
    return dict(draws=draws, threshold=float(thr),
                other_draws_specificity_mean=float(np.mean(other)) if other else None,
                other_draws_specificity_range=[float(min(other)), float(max(other))] if other else None,
                note="draw 0 is --evaluate's colon_rendered_polyp_blur (the shipped threshold's "
                     "rule reads its floor there, in-sample); the others draw the capsule look anew "
                     "over the same held-out frames")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="polyp weights file (one network or an ensemble)")
    ap.add_argument("--compare", help="another weights file, scored on the same images (paired)")
    ap.add_argument("--metrics", required=True, help="where to write the report (JSON)")
    ap.add_argument("--into", help="also put the report into this metrics file, under --key")
    ap.add_argument("--key", help="the entry of --into that the report replaces (dotted: "
                                  "shipped.standins is the shipped entry's)")
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--cache", default=os.path.join(here, "..", "build-polyp-cache"))
    ap.add_argument("--seed", type=int, default=13, help="as train_polyp.py --seed (the splits)")
    ap.add_argument("--fold", type=int, default=4, choices=range(5), help="Kvasir-SEG fold held out")
    ap.add_argument("--colon-draws", type=int, default=0, metavar="N",
                    help="also score the blur colon stand-in under N more capsule-look draws "
                         "(colon_blur_draws; default 0: not measured)")
    ap.add_argument("--smoke", action="store_true", help="a few frames (the CI check of this tool)")
    a = ap.parse_args()
    if not 0 <= a.colon_draws <= 100:
        ap.error("--colon-draws takes 0 to 100")
    if bool(a.into) != bool(a.key):
        ap.error("--into and --key go together")
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    sub = tp.missing_shared(a.shared)
    if sub:
        print(f"polyp_standins: no {sub}/labels.csv under {a.shared}", file=sys.stderr)
        return 2
    try:
        net, thr = tp.read_weights(a.weights)
        ref = tp.read_weights(a.compare)[0] if a.compare else None
    except (OSError, ValueError, struct.error) as e:
        print(f"polyp_standins: {e}", file=sys.stderr)
        return 2
    data, kva, wh = tp.heldout_material(a.shared, a.cache, a.seed, a.fold, a.smoke)
    with torch.no_grad():
        rep = report(net, data, kva, wh, a.seed, thr, ref, a.fold)
        if a.colon_draws:
            rep["colon_blur_draws"] = colon_blur_draws(net, data, kva, a.seed, thr, a.colon_draws)
    doc = dict(tool="tools/polyp_standins.py", weights=os.path.basename(a.weights),
               compare=os.path.basename(a.compare) if a.compare else None, seed=a.seed,
               fold=a.fold, threshold=thr, smoke=a.smoke, report=rep)
    gates = [getattr(n, "crop_gate", None) for n in (net, ref) if n is not None]
    if any(g is not None for g in gates):
        # the measures pool one pass's logit map (the rest-of-frame
        # measure leaves cells out of it), which a version-4 file's score
        # is not; only the colon draws score through train_polyp.predict
        doc["reading"] = ("a version-4 file: every measure here reads the one pass's logits, not the "
                          "file's crop reading, except colon_blur_draws (train_polyp.predict)")
    tp.write_report(a.metrics, doc)
    if a.into:
        merge_into(a.into, a.key, doc)
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
