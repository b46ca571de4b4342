#!/usr/bin/env bash
# train_polyp_smoke.sh - the polyp training tool runs end to end on a few
# frames for one epoch (tools/train_polyp.py --smoke): it writes a weights
# file the C engine loads and runs, a metrics file with the validation
# sections and two cross-validation folds (fold 4 being the shipped model
# itself), gives the same bytes twice, can be read back and scored again
# (--evaluate, paired against other weights with --compare; its colon
# pairs are one draw of the capsule look; W1,W2 an ensemble, written as a
# version-3 file the engine runs), draws again on the same split
# (--train-seed), trains on polyp pairs (--polyp-pairs, one augmentation
# for both samples of a pair) and with cross-source MixStyle and small
# pastes (--mixstyle, --paste-side), measures its colon stand-ins' own
# biases (tools/polyp_standins.py) and its score by polyp size
# (tools/polyp_size_sensitivity.py), and never
# touches models/. Skips (77) without ../shared or
# Debian's python3-torch.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_polyp_training
# every file under models/ (the cross-validation's draws in models/cv-draws/ too)
shipped_files() { (cd "$CS_SOURCE_DIR" && find models -type f -exec sha256sum {} + && sha256sum tests/data/polyp-ref.bin) | sort; }
models_before=$(shipped_files)

/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/w.bin" --metrics "$T/m.json" --reference "$T/ref.bin" \
    --cv-epochs 1 --folds 0,4 \
    >"$T/train.out" 2>"$T/train.err" || die "training failed: $(tail -5 "$T/train.err")"
[ -s "$T/w.bin" ] && [ -s "$T/ref.bin" ] || fail "no weights or reference written"
python3 - "$T/m.json" <<'PY' || fail "metrics file incomplete"
import json, sys
m = json.load(open(sys.argv[1]))
f = m["final"]
for k in ("kvasir", "capsule", "source_auroc_polyp_free", "overlay_removal",
          "trivial_features_on_polyp_frames"):
    assert k in f, k
assert 0 < m["threshold"] < 1, m["threshold"]
assert m["smoke"] is True
c = m["cv"]
assert [r["fold"] for r in c["folds"]] == [0, 4], c["folds"]
assert c["folds"][1].get("shipped_model") is True and "shipped_model" not in c["folds"][0]
assert c["folds"][1]["kvasir"] == f["kvasir"], "fold 4 is not the shipped model's figures"
assert set(c["mean"]) == {"dice", "iou", "hit_rate"}
PY
ok "smoke training writes weights, reference and metrics"

# seeded and deterministic: a second run gives the same bytes
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/w2.bin" --metrics "$T/m2.json" >/dev/null 2>"$T/train2.err" \
    || die "second training failed: $(tail -5 "$T/train2.err")"
cmp -s "$T/w.bin" "$T/w2.bin" || fail "two smoke trainings gave different weights"
ok "training is reproducible"

# --evaluate reads the weights file back and scores it on the same
# held-out material: the same figures as the training's own report, and a
# damaged file is refused by name
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e.json" --evaluate "$T/w.bin" --compare "$T/w2.bin" \
    >/dev/null 2>"$T/eval.err" \
    || die "--evaluate failed: $(tail -5 "$T/eval.err")"
python3 - "$T/m.json" "$T/e.json" <<'PY' || fail "--evaluate does not reproduce the training's report"
import json, sys
m, e = json.load(open(sys.argv[1]))["final"], json.load(open(sys.argv[2]))["final"]
for k in ("dice", "iou", "hit_rate"):
    assert abs(m["kvasir"][k] - e["kvasir"][k]) < 0.02, (k, m["kvasir"], e["kvasir"])
assert abs(m["capsule"]["auroc"] - e["capsule"]["auroc"]) < 0.02, (m["capsule"], e["capsule"])
assert abs(m["capsule"]["threshold"] - e["capsule"]["threshold"]) < 1e-6
for k in ("source_auroc_polyp_free_alike", "source_auroc_inpainted_alike",
          "source_auroc_polyp_free_training_frames", "source_auroc_capsule_rendered"):
    assert e[k]["n_kvasir"] > 0 and e[k]["n_capsule"] > 0, e[k]
c = e["colon_rendered_polyp_blur"]
assert c["n_pairs"] > 0 and c["fill"] == "blur" and 0 <= c["pair_share_polyp_higher"] <= 1, c
assert e["colon_rendered_polyp_copy"]["fill"] == "copy", e["colon_rendered_polyp_copy"]
o = c["site_threshold_spec90"]
assert o is None or (len(o["thresholds"]) == 2 and 0 <= o["mean_specificity"] <= 1), o
# --compare with the same bytes: every paired difference and its interval is 0
p = e["paired_vs_compare"]
assert p["compare_weights"] == "w2.bin", p
for k in ("capsule_auroc", "source_auroc_polyp_free", "source_auroc_inpainted",
          "source_auroc_polyp_free_training_frames", "source_auroc_capsule_rendered",
          "colon_rendered_polyp_blur", "colon_rendered_polyp_copy"):
    if k == "colon_rendered_polyp_copy" and e[k]["n_pairs"] == 0:  # no frame the fill covers
        assert p[k]["difference"] is None, p[k]
        continue
    assert p[k]["difference"] == 0 and p[k]["interval95"] == [0, 0], (k, p[k])
    # the pairs are drawn on the very images the report scored
    own = e["capsule"]["auroc"] if k == "capsule_auroc" else e[k]["auroc"]
    assert abs(p[k]["evaluated"] - own) < 1e-9, (k, p[k], own)
# the outline, frame by frame on the report's own frames
for k, own in (("outline_dice", "dice"), ("outline_hit_rate", "hit_rate")):
    assert p[k]["difference"] == 0 and p[k]["interval95"] == [0, 0], (k, p[k])
    assert abs(p[k]["evaluated"] - e["kvasir"][own]) < 1e-12, (k, p[k], e["kvasir"])
assert p["outline_hit_rate"]["hit_only_evaluated"] == p["outline_hit_rate"]["hit_only_compared"] == 0
PY
# and on two different sets of per-frame measures: evaluated minus compared,
# its interval around it
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" <<'PY' \
    || fail "paired_mean_difference is wrong"
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
a = np.array([1, 1, 1, 0, 1, 1, 0, 1], float)
b = np.array([1, 0, 0, 0, 1, 1, 0, 0], float)
r = tp.paired_mean_difference(a, b, 1)
assert abs(r["difference"] - 0.375) < 1e-12 and r["evaluated"] == 0.75 and r["compared"] == 0.375, r
lo, hi = r["interval95"]
assert 0 <= lo < 0.375 < hi <= 1, r
assert abs(tp.paired_mean_difference(b, a, 1)["difference"] + 0.375) < 1e-12
assert tp.paired_mean_difference([], [], 1)["difference"] is None
PY
# each colon pair is one draw of the capsule look: with a "polyp removed"
# frame equal to the frame itself, the two sides come out identical
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$CS_SHARED_DIR/data" "$T/cache" <<'PY' \
    || fail "a colon pair is not one draw of the capsule look"
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
data = tp.build_cache(sys.argv[2], sys.argv[3], (40, 80))
idx = [i for i in range(len(data["kimg"])) if (data["kmask"][i] >= 128).any()][:6]
data["_inpainted"] = {i: data["kimg"][i] for i in idx}
polyp, free, _ = tp.colon_rendered_pairs(data, idx, 7, "blur")
assert len(polyp) > 0 and np.array_equal(polyp, free), len(polyp)
data["_inpainted"] = {i: np.zeros_like(data["kimg"][i]) for i in idx}
polyp, free, _ = tp.colon_rendered_pairs(data, idx, 7, "blur")
assert not np.array_equal(polyp, free)
PY
# a site's own threshold, chosen on one half of the pairs: the lowest score
# there with specificity >= 0.9, measured on the other half
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$T/w.bin" <<'PY' \
    || fail "site_operating_point or MeanLogits is wrong"
import sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
# an ensemble's logits are the mean of its members' (a net with itself: its own)
net = tp.read_weights(sys.argv[2])[0]
x = torch.randn(2, 3, tp.IN, tp.IN)
with torch.no_grad():
    assert torch.allclose(tp.MeanLogits([net, net])(x), net(x), atol=1e-6)
ps, fs = np.linspace(0.3, 1.0, 40), np.linspace(0.0, 0.7, 40)
r = tp.site_operating_point(ps, fs, 3)
order = np.random.RandomState(3).permutation(40)
for k, (fit, test) in enumerate(((order[:20], order[20:]), (order[20:], order[:20]))):
    t = r["thresholds"][k]
    assert np.mean(fs[fit] < t) >= 0.9, (k, t)
    lower = [v for v in np.concatenate([ps[fit], fs[fit]]) if v < t]
    assert not lower or np.mean(fs[fit] < max(lower)) < 0.9, (k, t)
    assert r["sensitivity"][k] == np.mean(ps[test] >= t) and r["specificity"][k] == np.mean(fs[test] < t)
PY
# --evaluate W1,W2 scores the mean of their logits (a file and itself
# score as the file alone) and with --out writes that ensemble as a
# version-3 file, which reads back as the same scores
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e3.json" --evaluate "$T/w.bin,$T/w2.bin" \
    --out "$T/ens.bin" --reference "$T/ens-ref.bin" \
    >/dev/null 2>"$T/eval3.err" || die "--evaluate W1,W2 failed: $(tail -5 "$T/eval3.err")"
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e4.json" --evaluate "$T/ens.bin" \
    >/dev/null 2>"$T/eval4.err" || die "--evaluate of the ensemble file failed: $(tail -5 "$T/eval4.err")"
python3 - "$T/e.json" "$T/e3.json" "$T/e4.json" "$T/ens.bin" "$T/ens-ref.bin" <<'PY' \
    || fail "--evaluate W,W does not score as W, or its ensemble file is wrong"
import json, struct, sys
one, two, back = (json.load(open(p)) for p in sys.argv[1:4])
assert two["threshold_chosen_here"] is True and two["weights"] == "w.bin,w2.bin", two["weights"]
a, b, c = one["final"], two["final"], back["final"]
assert a["capsule"]["auroc"] == b["capsule"]["auroc"], (a["capsule"], b["capsule"])
assert a["kvasir"] == b["kvasir"], (a["kvasir"], b["kvasir"])
for k in ("source_auroc_polyp_free", "source_auroc_capsule_rendered", "colon_rendered_polyp_blur"):
    assert a[k]["auroc"] == b[k]["auroc"], (k, a[k]["auroc"], b[k]["auroc"])
e = open(sys.argv[4], "rb").read()
version, k, thr = struct.unpack_from("<IIf", e, 8)
assert e[:8] == b"CSPOLYP1" and (version, k) == (3, 2), (version, k)
assert thr == struct.unpack("<f", struct.pack("<f", two["threshold"]))[0], (thr, two["threshold"])
assert back["threshold"] == thr and back["threshold_chosen_here"] is False, back["threshold"]
assert c["capsule"] == b["capsule"] and c["kvasir"] == b["kvasir"], (c["capsule"], b["capsule"])
assert open(sys.argv[5], "rb").read()[:8] == b"CSPREF01"
PY
# --crop-gate G: the ensemble scored as a version-4 file (a frame whose
# one-pass score reaches G also reads its five crops and takes the
# highest) and written as one; it reads back with its gate and the same
# scores; at gate 0 no frame scores below its one pass
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e5.json" --evaluate "$T/w.bin,$T/w2.bin" --crop-gate 0 \
    --out "$T/ens4.bin" >/dev/null 2>"$T/eval5.err" || die "--evaluate --crop-gate failed: $(tail -5 "$T/eval5.err")"
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e6.json" --evaluate "$T/ens4.bin" \
    >/dev/null 2>"$T/eval6.err" || die "--evaluate of a version-4 file failed: $(tail -5 "$T/eval6.err")"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$T/e3.json" "$T/e5.json" "$T/e6.json" \
    "$T/ens.bin" "$T/ens4.bin" <<'PY' || fail "--crop-gate: the version-4 file or its scores are wrong"
import json, struct, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
v3, v4, back = (json.load(open(p)) for p in sys.argv[2:5])
e = open(sys.argv[6], "rb").read()
version, k, thr, gate = struct.unpack_from("<IIff", e, 8)
assert (version, k, gate) == (4, 2, 0.0), (version, k, gate)
assert v4["crop_gate"] == 0.0 and v3["crop_gate"] is None and back["crop_gate"] == 0.0, v4
assert back["threshold"] == thr and back["final"]["capsule"] == v4["final"]["capsule"]
# the same members, the same bytes after the gate: only the header differs
e3 = open(sys.argv[5], "rb").read()
assert e[24:-4] == e3[20:-4]
net3, _ = tp.read_weights(sys.argv[5])
net4, _ = tp.read_weights(sys.argv[6])
assert getattr(net3, "crop_gate", None) is None and net4.crop_gate == 0.0
rng = np.random.RandomState(5)
imgs = rng.randint(0, 255, (6, 2 * tp.IN, 2 * tp.IN, 3)).astype(np.uint8)
s3, s4 = tp.predict(net3, imgs)[1], tp.predict(net4, imgs)[1]
assert np.all(s4 >= s3), (s3, s4)
want = np.maximum(s3, [tp.crop_scores(net3, im).max() for im in imgs])
assert np.array_equal(s4, want.astype(np.float32)), (s4, want)
net4.crop_gate = float(s3.max()) + 1e-3  # no frame reaches it: the one pass's scores
assert np.array_equal(tp.predict(net4, imgs)[1], s3)
PY
for bad in "--crop-gate 1:--crop-gate: crop gate 1.0 outside [0, 1)" \
    "--crop-gate nan:--crop-gate: crop gate nan outside [0, 1)"; do
    # shellcheck disable=SC2086 # the option and its value, split on purpose
    if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
        --cache "$T/cache" --metrics "$T/e7.json" --evaluate "$T/w.bin,$T/w2.bin" ${bad%%:*} \
        2>"$T/bad.err" >/dev/null; then
        fail "${bad%%:*} was accepted"
    fi
    grep -qF -- "${bad#*:}" "$T/bad.err" || fail "no clear error for ${bad%%:*}: $(cat "$T/bad.err")"
done
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e7.json" --evaluate "$T/w.bin" --crop-gate 0.1 2>"$T/bad.err" >/dev/null; then
    fail "--crop-gate with one network was accepted"
fi
grep -q -- "--crop-gate goes with --evaluate W1,W2" "$T/bad.err" || fail "no clear error: $(cat "$T/bad.err")"
ok "--crop-gate scores and writes a version-4 ensemble, which reads back the same"
head -c 2000 "$T/w.bin" >"$T/cut.bin"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e2.json" --evaluate "$T/cut.bin" >/dev/null 2>"$T/eval2.err"; then
    fail "--evaluate accepted a cut weights file"
fi
grep -q "not a polyp weights file, or damaged" "$T/eval2.err" || fail "no clear error: $(cat "$T/eval2.err")"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e3.json" --compare "$T/w.bin" >/dev/null 2>"$T/eval3.err"; then
    fail "--compare without --evaluate was accepted"
fi
grep -q -- "--compare goes with --evaluate" "$T/eval3.err" || fail "no clear error: $(cat "$T/eval3.err")"
ok "--evaluate reproduces the training's figures, --compare pairs them, a damaged file is refused"

# the level penalty (--level-weight): the squared amount by which the
# middle-half level of polyp-free Kvasir-SEG samples sits above that of
# polyp-free capsule frames; only the middle cells take the gradient, the
# two sides equal and opposite (a shift of every logit changes nothing);
# frames with a polyp and a lower Kvasir-SEG side count for nothing
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" <<'PY' \
    || fail "level_loss is wrong"
import sys
import torch
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
K = tp.KINDS
n = 40 * 40
base = torch.linspace(-1.0, 1.0, n).reshape(40, 40)  # middle half: mean 0
lg = torch.stack([base - 5, base - 7, base - 6, base + 3]).requires_grad_()
kind = torch.tensor([K["kb"], K["w"], K["ki"], K["kb"]])
y = torch.tensor([0.0, 0.0, 0.0, 1.0])  # the last has a polyp: not counted
loss = tp.level_loss(lg, y, kind)
assert abs(float(loss) - ((-5.5) - (-7)) ** 2) < 1e-4, float(loss)
loss.backward()
g = lg.grad.reshape(4, -1)
assert float(g[3].abs().sum()) == 0, "the polyp frame moved"
for i in (0, 1, 2):  # the middle half of the sorted cells, and only those
    order = lg[i].detach().reshape(-1).argsort()
    mid = order[n // 4:n - n // 4]
    assert int((g[i] != 0).sum()) == len(mid), i
    assert bool((g[i][mid] > 0).all()) if i != 1 else bool((g[i][mid] < 0).all()), i
assert abs(float(g.sum())) < 1e-5, "a shift of every logit would change the penalty"
lower = torch.stack([base - 8, base - 7])
assert float(tp.level_loss(lower, torch.zeros(2), torch.tensor([K["kb"], K["w"]]))) == 0
assert float(tp.level_loss(lower, torch.zeros(2), torch.tensor([K["kb"], K["ki"]]))) == 0
# --level-ceiling: the capsule side's level (-7 here) may not rise above it
# either; below it, it adds nothing, and it pulls the capsule side down only
lg.grad = None
assert abs(float(tp.level_loss(lg, y, kind, -6.0)) - float(loss)) < 1e-6
over = tp.level_loss(lg, y, kind, -7.5)
assert abs(float(over) - (1.5 ** 2 + 0.5 ** 2)) < 1e-4, float(over)
over.backward()
g2 = lg.grad.reshape(4, -1)
assert abs(float(g2[1].sum()) - (-2 * 1.5 + 2 * 0.5)) < 1e-4, float(g2[1].sum())
assert abs(float(g2[0].sum() + g2[2].sum()) - 2 * 1.5) < 1e-4
assert float(tp.level_loss(lower, torch.zeros(2), torch.tensor([K["kb"], K["w"]]), -7.5)) > 0.2
half = tp.level_loss(lower, torch.zeros(2), torch.tensor([K["kb"], K["w"]]), -7.5, 0.5)
assert abs(float(half) - 0.5 * 0.5 ** 2) < 1e-5, float(half)
# the ceiling waits out the warm-up (15 % of the epochs), then ramps to 1
ramp = [tp.ceiling_ramp(ep, 100) for ep in range(100)]
assert ramp[:16] == [0.0] * 16 and ramp[30:] == [1.0] * 70, ramp
assert all(0 < r < 1 for r in ramp[16:30]) and ramp == sorted(ramp), ramp
PY
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --part final --level-weight 0.5 --level-ceiling -6.75 --out "$T/wl.bin" --metrics "$T/ml.json" \
    2>"$T/level.log" || fail "training with --level-weight failed: $(tail -3 "$T/level.log")"
grep -q " level [0-9.]* kvasir -\?[0-9.]* capsule -\?[0-9.]* (" "$T/level.log" \
    || fail "the level penalty and its sides are not logged: $(cat "$T/level.log")"
python3 -c 'import json,sys; m = json.load(open(sys.argv[1]))
assert (m["level_weight"], m["level_ceiling"]) == (0.5, -6.75)' "$T/ml.json" \
    || fail "level_weight and level_ceiling not recorded in the metrics"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --part final --level-weight -1 --out "$T/wl2.bin" --metrics "$T/ml2.json" \
    2>"$T/level2.err"; then
    fail "a negative --level-weight was accepted"
fi
grep -q -- "--level-weight takes a weight >= 0" "$T/level2.err" || fail "no clear error: $(cat "$T/level2.err")"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --part final --level-ceiling -6 --out "$T/wl3.bin" --metrics "$T/ml3.json" \
    2>"$T/level3.err"; then
    fail "--level-ceiling without --level-weight was accepted"
fi
grep -q -- "--level-ceiling goes with --level-weight" "$T/level3.err" \
    || fail "no clear error: $(cat "$T/level3.err")"
ok "level penalty and its ceiling: their value, their gradient, their record"

# a negative sample count is refused by name, before any data is read
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/w3.bin" --metrics "$T/m3.json" --paste-negatives -1 \
    >/dev/null 2>"$T/count.err"; then
    fail "--paste-negatives -1 was accepted"
fi
grep -q "take a count >= 0" "$T/count.err" || fail "no clear error: $(cat "$T/count.err")"
[ ! -e "$T/w3.bin" ] || fail "a weights file was written despite the bad count"
ok "sample counts out of range are refused"

# a second draw of a recipe (--train-seed) keeps the splits, so it is scored
# on the same held-out images; copy-filled inpainted negatives train; both
# are recorded in the metrics, and --train-seed is refused outside --part final
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/w4.bin" --metrics "$T/m4.json" --part final --train-seed 14 \
    --kvasir-inpainted 4 --inpaint-kind copy >/dev/null 2>"$T/train4.err" \
    || die "--train-seed/--inpaint-kind copy training failed: $(tail -5 "$T/train4.err")"
# the same options drawn with --seed's own value, without --train-seed,
# and with the blur fill: only --train-seed and --inpaint-kind differ
smoke_final() {  # OUT_BASE, then extra options
    local out=$1; shift
    /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
        --cache "$T/cache" --out "$T/$out.bin" --metrics "$T/$out.json" --part final \
        --kvasir-inpainted 4 "$@" >/dev/null 2>"$T/$out.err" \
        || die "smoke training $out failed: $(tail -5 "$T/$out.err")"
}
smoke_final w4s --train-seed 13 --inpaint-kind copy
smoke_final w4d --inpaint-kind copy
smoke_final w4b --inpaint-kind blur
smoke_final w4p --inpaint-kind copy --polyp-pairs 4
cmp -s "$T/w4s.bin" "$T/w4d.bin" || fail "--train-seed equal to --seed changed the weights"
! cmp -s "$T/w4.bin" "$T/w4s.bin" || fail "--train-seed 14 gave the same weights as seed 13"
! cmp -s "$T/w4d.bin" "$T/w4b.bin" || fail "--inpaint-kind copy trained the same weights as blur"
! cmp -s "$T/w4d.bin" "$T/w4p.bin" || fail "--polyp-pairs trained the same weights as without"
python3 - "$T/m.json" "$T/m4.json" "$T/w4p.json" <<'PY' || fail "second draw not recorded or not on the same split"
import json, sys
m, m4 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert m4["train_seed"] == 14 and m4["seed"] == m["seed"], m4
assert m4["inpaint_kind"] == "copy" and m4["kvasir_inpainted"] == 4, m4
assert "train_seed" not in m and "inpaint_kind" not in m, "defaults must leave the metrics as shipped"
assert "polyp_pairs" not in m and "polyp_pairs" not in m4, "no pairs asked, none recorded"
mp = json.load(open(sys.argv[3]))
assert mp["polyp_pairs"] == 4 and mp["pair_weight"] == 1.0, mp
for k in ("n_pos", "n_neg"):
    assert m4["final"]["capsule"][k] == m["final"]["capsule"][k], (k, m4["final"], m["final"])
assert m4["final"]["kvasir"]["n"] == m["final"]["kvasir"]["n"]
PY
# a polyp pair is one frame under one draw of every augmentation: outside
# the (grown) polyp the two samples are the same pixels, unlike two
# unpaired samples
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$CS_SHARED_DIR/data" "$T/cache" <<'PY' \
    || fail "a --polyp-pairs pair is not one frame under one augmentation"
import sys
import numpy as np
from PIL import Image, ImageFilter
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
data = tp.build_cache(sys.argv[2], sys.argv[3], (40, 80))
s = tp.Sampler(data, np.arange(len(data["kimg"])), np.arange(len(data["wimg"])), 13)
x, m, kinds, pairs = s.epoch(0, 0, 0, 0, 0, 0, 0, 6)
first = np.nonzero(pairs == 2)[0]
assert len(first) == 6 and len(x) == 12, (len(first), len(x))
same, other = [], []
for i in first:
    assert m[i + 1].sum() == 0, "the polyp-free partner has a polyp label"
    assert (kinds[i], kinds[i + 1]) == (tp.KINDS["k"], tp.KINDS["ki"]), kinds[i:i + 2]
    grown = Image.fromarray((m[i] * 255).astype(np.uint8)).resize((tp.IN, tp.IN)).filter(
        ImageFilter.MaxFilter(17))
    out = np.asarray(grown) == 0
    diff = lambda j: (np.abs(x[i].astype(int) - x[j].astype(int)).max(2)[out] > 12).mean()
    same.append(diff(i + 1))
    other.append(diff((i + 2) % len(x)))
assert np.mean(same) < 0.1 < np.mean(other), (same, other)
PY
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/w5.bin" --metrics "$T/m5.json" --fold 2 \
    >/dev/null 2>"$T/fold.err"; then
    fail "--fold without --evaluate was accepted"
fi
grep -q -- "--fold goes with --evaluate or --write-heldout" "$T/fold.err" || fail "no clear error: $(cat "$T/fold.err")"
ok "a second draw keeps the held-out split; copy-filled negatives train"

# --write-heldout DIR --fold F: fold F's Kvasir-SEG frames (by the training
# split) with their masks as the positives, the held-out capsule frames as
# the negatives, for `capscreen eval --masks` with a network that held F out
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/wh.json" --write-heldout "$T/wh2" --fold 2 >/dev/null 2>"$T/wh.err" \
    || die "--write-heldout --fold 2 failed: $(tail -3 "$T/wh.err")"
/usr/bin/python3 - "$T/wh2" "$CS_SHARED_DIR/data" "$CS_SOURCE_DIR/tools" <<'PY' || fail "--write-heldout --fold 2 wrote the wrong folder"
import csv, os, sys
d, shared = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import numpy as np
import train_polyp as tp
kv = sorted(tp.read_csv(os.path.join(shared, "kvasir-seg", "labels.csv")), key=lambda r: r["file"])
fold = tp.group_split(np.array([int(r["group"]) for r in kv]), 5, 13)
want = sorted(r["file"] for r, f in zip(kv, fold) if f == 2)
rows = list(csv.DictReader(open(os.path.join(d, "labels.csv"))))
pos = sorted(r["file"] for r in rows if r["polyp"] == "1")
neg = [r["file"] for r in rows if r["polyp"] == "0"]
assert pos == want and len(pos) > 0, (len(pos), len(want))
assert sorted(os.listdir(os.path.join(d, "masks"))) == want
assert len(neg) > 0 and all(os.path.exists(os.path.join(d, "frames", f)) for f in pos + neg)
assert not os.path.exists(os.path.join(d, "folds0-3")), "fold 4's training folder written for fold 2"
PY
ok "--write-heldout --fold 2 writes that fold's frames and masks and the held-out capsule frames"

# draws of a cross-validation fold: --train-seed redraws fold F's model
# (seed + 100 + F), --fold-weights keeps it, and --evaluate A,B --fold F
# scores them together on that fold
for d in a b; do cp "$T/m.json" "$T/mcv-$d.json"; done
cv_fold0() { # tag, extra options
    local tag=$1
    shift
    /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
        --cache "$T/cache" --out "$T/unused.bin" --metrics "$T/mcv-$tag.json" --part cv \
        --cv-epochs 1 --folds 0 --fold-weights "$T/fw-$tag" "$@" >/dev/null 2>"$T/cv-$tag.err" \
        || die "fold 0 ($tag) failed: $(tail -5 "$T/cv-$tag.err")"
}
cv_fold0 a
cv_fold0 b --train-seed 14
[ -s "$T/fw-a/fold0.bin" ] && [ -s "$T/fw-b/fold0.bin" ] || fail "no fold weights written"
! cmp -s "$T/fw-a/fold0.bin" "$T/fw-b/fold0.bin" || fail "--train-seed drew the same fold model"
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/ecv.json" --evaluate "$T/fw-a/fold0.bin,$T/fw-b/fold0.bin" \
    --fold 0 >/dev/null 2>"$T/ecv.err" || die "--evaluate --fold 0 failed: $(tail -5 "$T/ecv.err")"
# one draw alone, scored with --fold 0, gives the figures its
# cross-validation report gave (the same held-out capsule draw); paired
# with the other draw, on the very images of its own report
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/ecv1.json" --evaluate "$T/fw-a/fold0.bin" \
    --compare "$T/fw-b/fold0.bin" --fold 0 >/dev/null 2>"$T/ecv1.err" \
    || die "--evaluate --fold 0 failed: $(tail -5 "$T/ecv1.err")"
python3 - "$T/mcv-a.json" "$T/mcv-b.json" "$T/ecv.json" "$T/ecv1.json" <<'PY' || fail "fold draws recorded wrong"
import json, sys
a, b, e = (json.load(open(p)) for p in sys.argv[1:4])
assert a["cv"]["train_seed"] == 13 and b["cv"]["train_seed"] == 14, (a["cv"], b["cv"])
# the seed-13 fold merges with the first training's folds 0 and 4 (same
# draw); the seed-14 one does not (another draw of the folds)
assert [r["fold"] for r in a["cv"]["folds"]] == [0, 4], a["cv"]["folds"]
assert [r["fold"] for r in b["cv"]["folds"]] == [0], b["cv"]["folds"]
assert e["fold"] == 0 and e["final"]["kvasir"]["n"] == a["cv"]["folds"][0]["kvasir"]["n"], e
one, cv0 = json.load(open(sys.argv[4]))["final"], a["cv"]["folds"][0]
for k in ("n_pos", "n_neg"):
    assert one["capsule"][k] == cv0["capsule"][k], (k, one["capsule"], cv0["capsule"])
assert abs(one["capsule"]["auroc"] - cv0["capsule"]["auroc"]) < 0.02, (one["capsule"], cv0["capsule"])
p = one["paired_vs_compare"]
for k in ("capsule_auroc", "source_auroc_polyp_free", "source_auroc_polyp_free_alike",
          "source_auroc_inpainted", "source_auroc_polyp_free_training_frames",
          "source_auroc_capsule_rendered", "colon_rendered_polyp_blur"):
    own = one["capsule"]["auroc"] if k == "capsule_auroc" else one[k]["auroc"]
    assert p[k]["evaluated"] is not None and abs(p[k]["evaluated"] - own) < 1e-9, (k, p[k], own)
assert abs(p["outline_dice"]["evaluated"] - one["kvasir"]["dice"]) < 1e-12, (p, one["kvasir"])
PY
# cross-validation joins a metrics file only of its own recipe, and starts
# one when there is none
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/unused.bin" --metrics "$T/mcv-a.json" --part cv --cv-epochs 1 \
    --folds 0 --swap-kind fourier >/dev/null 2>"$T/cv-other.err"; then
    fail "--part cv joined the metrics of another recipe"
fi
grep -q "describes another recipe (swap_kind 'colour' there, 'fourier' here)" "$T/cv-other.err" \
    || fail "no clear error: $(cat "$T/cv-other.err")"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); del m["overlay_measures"]; json.dump(m,open(sys.argv[2],"w"))' \
    "$T/mcv-a.json" "$T/mcv-old.json"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --out "$T/unused.bin" --metrics "$T/mcv-old.json" --part cv --cv-epochs 1 \
    --folds 0 >/dev/null 2>"$T/cv-old.err"; then
    fail "--part cv joined a metrics file that does not record its recipe"
fi
grep -q "overlay_measures '(missing)' there" "$T/cv-old.err" || fail "no clear error: $(cat "$T/cv-old.err")"
cv_fold0 new --swap-kind fourier
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["swap_kind"] == "fourier" and [r["fold"] for r in m["cv"]["folds"]] == [0] and "final" not in m, m' \
    "$T/mcv-new.json" || fail "--part cv without a metrics file did not start one"
ok "cross-validation fold draws: --train-seed, --fold-weights, --evaluate --fold"

# three different draws as one ensemble: the C engine's mean of their
# logits matches the tool's (MeanLogits, via --reference) as the shipped
# network's does (test_polyp's c_matches_pytorch on these files)
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --metrics "$T/e5.json" --evaluate "$T/w4.bin,$T/w4d.bin,$T/w4b.bin" \
    --out "$T/ens3.bin" --reference "$T/ens3-ref.bin" >/dev/null 2>"$T/eval5.err" \
    || die "a three-member ensemble failed: $(tail -5 "$T/eval5.err")"
CS_POLYP_CHECK_WEIGHTS="$T/ens3.bin" CS_POLYP_CHECK_REF="$T/ens3-ref.bin" \
    "$CS_BUILD_DIR/tests/test_polyp" >"$T/c3.out" 2>&1 \
    || fail "the C engine's ensemble differs from the tool's: $(grep -E 'C vs PyTorch|ERROR|FAIL' "$T/c3.out" | head -3)"
grep -q "C vs PyTorch" "$T/c3.out" || fail "test_polyp did not compare the ensemble"
ok "a three-member ensemble: C matches the tool ($(grep -o 'max |logit difference| [^ ]*' "$T/c3.out"))"

# the C engine loads the fresh weights and runs them on real frames
head -4 "$WCE_LABELS" | awk -F, 'NR == 1 { print "file,polyp" } NR > 1 { print $1 ",0" }' >"$T/labels.csv"
run_cs "$T/out" "$T/err" eval --finding polyp --polyp-model "$T/w.bin" "$WCE_IMAGES" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval with the smoke weights exited $RC: $(cat "$T/err")"
tail -1 "$T/out" | python3 -c 'import json,sys; m=json.load(sys.stdin); assert m["n"] == 3, m' \
    || fail "eval did not score the 3 frames"
ok "the engine runs the smoke-trained weights"

# the engine runs the ensemble file: the network and itself score every
# frame as the network alone
mkdir -p "$T/three"
tail -n +2 "$T/labels.csv" | cut -d, -f1 | while read -r f; do ln -s "$WCE_IMAGES/$f" "$T/three/$f"; done
# (one threshold for both, so that flags and outlines compare too)
run_cs "$T/one.json" "$T/err" analyze --polyp-threshold 0.01 --polyp-model "$T/w.bin" "$T/three"
[ "$RC" -eq 0 ] || fail "analyze with the smoke weights exited $RC: $(cat "$T/err")"
run_cs "$T/ens.json" "$T/err" analyze --polyp-threshold 0.01 --polyp-model "$T/ens.bin" "$T/three"
[ "$RC" -eq 0 ] || fail "analyze with the ensemble file exited $RC: $(cat "$T/err")"
python3 - "$T/one.json" "$T/ens.json" <<'PY' || fail "the engine scores the ensemble file differently"
import json, sys
one, ens = (json.load(open(p))["frames"] for p in sys.argv[1:3])
assert len(one) == 3 and [f["polyp_probability"] for f in one] == [f["polyp_probability"] for f in ens]
assert [f["polyp"] for f in one] == [f["polyp"] for f in ens], "flags differ"
assert [f["polyp_boxes"] for f in one] == [f["polyp_boxes"] for f in ens], "boxes differ"
PY
ok "the engine runs an ensemble file (version 3)"

# a larger input (--input-side 128): a version-2 file with its sides, a
# reference of that size, and the engine runs it (with its detail decode)
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --input-side 128 \
    --shared "$CS_SHARED_DIR/data" --cache "$T/cache" --out "$T/w128.bin" --metrics "$T/m128.json" \
    --reference "$T/ref128.bin" --cv-epochs 0 >/dev/null 2>"$T/train128.err" \
    || die "128 px training failed: $(tail -5 "$T/train128.err")"
python3 - "$T/w128.bin" "$T/ref128.bin" "$T/m128.json" <<'PY' || fail "128 px files wrong"
import json, struct, sys
w, r = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert w[:8] == b"CSPOLYP1" and struct.unpack("<III", w[8:20]) == (2, 128, 64), w[8:20]
assert struct.unpack("<II", r[8:16]) == (128, 64)
m = json.load(open(sys.argv[3]))
assert (m["input_side"], m["heatmap_side"], m["topk"]) == (128, 64, 41), m
PY
run_cs "$T/out" "$T/err" eval --finding polyp --polyp-model "$T/w128.bin" "$WCE_IMAGES" "$T/labels.csv"
[ "$RC" -eq 0 ] || fail "eval with the 128 px weights exited $RC: $(cat "$T/err")"
ok "a 128 px input trains into a version-2 file the engine runs"

# the one command that builds the shipped model (tools/train-polyp.sh with
# no options): three draws of the member recipe, combined into a version-4
# file (crop gate 0.1) whose reference the C engine matches, recorded in the
# metrics; run again, it reuses the trained members and writes the same bytes
ship() {
    POLYP_SMOKE=1 POLYP_JOBS=2 POLYP_WORK="$T/members" POLYP_CACHE="$T/cache" POLYP_OUT="$1" \
        "$CS_SOURCE_DIR/tools/train-polyp.sh" "$CS_SHARED_DIR/data" >/dev/null 2>"$2"
}
ship "$T/shipped" "$T/ship.err" || die "tools/train-polyp.sh failed: $(tail -5 "$T/ship.err")"
python3 - "$T/shipped" "$T/members" <<'PY' || fail "the shipped-model command wrote the wrong files"
import json, struct, sys
d, members = sys.argv[1], sys.argv[2]
w = open(d + "/w.bin", "rb").read()
assert w[:8] == b"CSPOLYP1" and struct.unpack("<II", w[8:16]) == (4, 3), w[8:16]
gate = struct.unpack("<f", w[20:24])[0]
assert gate == struct.unpack("<f", struct.pack("<f", 0.1))[0], gate
s = json.load(open(d + "/metrics.json"))["shipped"]
assert s["kind"] == "ensemble" and s["n_members"] == 3, s
assert s["weights_version"] == 4 and s["crop_gate"] == gate, s
assert [m["train_seed"] for m in s["members"]] == [13, 14, 15], s["members"]
assert all(m["smoke"] for m in s["members"])
assert struct.unpack("<f", w[16:20])[0] == struct.unpack("<f", struct.pack("<f", s["threshold"]))[0]
assert "--inpaint-kind copy" in s["recipe"] and "capsule" in s["final"], s["recipe"]
bodies = [open("%s/seed-%d/w.bin" % (members, k), "rb").read() for k in (13, 14, 15)]
assert len(set(bodies)) == 3, "two members are the same draw"
PY
CS_POLYP_CHECK_WEIGHTS="$T/shipped/w.bin" CS_POLYP_CHECK_REF="$T/shipped/ref.bin" \
    "$CS_BUILD_DIR/tests/test_polyp" >"$T/c4.out" 2>&1 \
    || fail "the C engine differs from the tool on the shipped-model command's file: $(grep -E 'C vs PyTorch|ERROR' "$T/c4.out" | head -3)"
# the entry's hand-measured fields stay while the weights are the same
# file, and go (with a notice) when they are not
mkdir -p "$T/again" "$T/other"
for d in again other; do
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m["shipped"]["bench"]={"by":"hand"}; m["shipped"]["weights_crc32c"]=sys.argv[3] or m["shipped"]["weights_crc32c"]; json.dump(m,open(sys.argv[2],"w"))' \
        "$T/shipped/metrics.json" "$T/$d/metrics.json" "$([ $d = other ] && echo 00000000)"
done
ship "$T/again" "$T/again.err" || die "tools/train-polyp.sh failed again: $(tail -5 "$T/again.err")"
ship "$T/other" "$T/other.err" || die "tools/train-polyp.sh failed a third time: $(tail -5 "$T/other.err")"
python3 - "$T/again/metrics.json" "$T/other/metrics.json" "$T/shipped/w.bin" <<'PY' \
    || fail "hand-measured fields of the shipped entry handled wrong"
import json, struct, sys
same, other = (json.load(open(p))["shipped"] for p in sys.argv[1:3])
crc = "%08x" % struct.unpack("<I", open(sys.argv[3], "rb").read()[-4:])[0]
assert same["bench"] == {"by": "hand"} and same["weights_crc32c"] == crc, same.get("bench")
assert "bench" not in other and other["weights_crc32c"] == crc, other.get("bench")
kept = json.load(open(sys.argv[2]))["shipped_before_00000000"]  # the replaced entry, whole
assert kept["bench"] == {"by": "hand"} and kept["weights_crc32c"] == "00000000", kept.keys()
assert "shipped_before_" + crc not in json.load(open(sys.argv[1])), "an unchanged file was moved"
PY
grep -q "dropped the hand-measured fields bench" "$T/other.err" || fail "no notice: $(cat "$T/other.err")"
grep -q "kept as shipped_before_00000000" "$T/other.err" || fail "no notice of the kept entry: $(cat "$T/other.err")"
[ "$(grep -c "already trained" "$T/again.err")" = 3 ] || fail "a second run did not reuse the members: $(cat "$T/again.err")"
cmp -s "$T/shipped/w.bin" "$T/again/w.bin" && cmp -s "$T/shipped/ref.bin" "$T/again/ref.bin" \
    || fail "the same members gave another shipped file"
# (the refusals run with smoke settings and their own folders: were a
# check to break, nothing would train for hours or reach models/)
if POLYP_JOBS=0 POLYP_SMOKE=1 POLYP_OUT="$T/neg" POLYP_WORK="$T/negw" POLYP_CACHE="$T/cache" \
    "$CS_SOURCE_DIR/tools/train-polyp.sh" "$CS_SHARED_DIR/data" >/dev/null 2>"$T/jobs.err"; then
    fail "POLYP_JOBS=0 was accepted"
fi
grep -q "POLYP_JOBS must be a whole number" "$T/jobs.err" || fail "no clear error: $(cat "$T/jobs.err")"
if POLYP_SMOKE=1 POLYP_WORK="$T/negw" POLYP_CACHE="$T/cache" \
    "$CS_SOURCE_DIR/tools/train-polyp.sh" "$CS_SHARED_DIR/data" >/dev/null 2>"$T/smoke.err"; then
    fail "a smoke ensemble was allowed to replace the shipped files"
fi
grep -q "POLYP_SMOKE=1 needs POLYP_OUT" "$T/smoke.err" || fail "no clear error: $(cat "$T/smoke.err")"
if POLYP_SMOKE=1 POLYP_WORK="$T/negw" POLYP_OUT="$T/negw" POLYP_CACHE="$T/cache" \
    "$CS_SOURCE_DIR/tools/train-polyp.sh" "$CS_SHARED_DIR/data" >/dev/null 2>"$T/same.err"; then
    fail "POLYP_OUT equal to the work directory was accepted"
fi
grep -q "POLYP_OUT must not be the work directory" "$T/same.err" || fail "no clear error: $(cat "$T/same.err")"
# with options it scores given weights (--evaluate W: no weights written)
POLYP_CACHE="$T/cache" "$CS_SOURCE_DIR/tools/train-polyp.sh" "$CS_SHARED_DIR/data" --smoke \
    --evaluate "$T/w.bin" --metrics "$T/ew.json" >/dev/null 2>"$T/ew.err" \
    || fail "train-polyp.sh --evaluate W failed: $(tail -3 "$T/ew.err")"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["weights"] == "w.bin"' "$T/ew.json" \
    || fail "train-polyp.sh --evaluate W wrote no report"
ok "tools/train-polyp.sh builds the shipped three-member version-4 file, resumes, and C matches it"

# tools/polyp_standins.py: the colon stand-ins' own biases. Against the same
# bytes every paired difference is 0; its renders are the very draws of
# train_polyp.py's colon pairs; the rest-of-frame score leaves the region
# out of the pooling; the report is merged into a metrics file with the
# other entries kept; bad arguments and damaged weights are refused
printf '{"keep": 1, "shipped": {"kind": "x"}}\n' >"$T/into.json"
/usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_standins.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --compare "$T/w2.bin" --metrics "$T/st.json" \
    --into "$T/into.json" --key shipped.standins --colon-draws 2 >/dev/null 2>"$T/st.err" \
    || die "polyp_standins.py failed: $(tail -5 "$T/st.err")"
python3 - "$T/st.json" "$T/into.json" "$T/e.json" <<'PY' || fail "polyp_standins.py report wrong"
import json, sys
d, into, e = (json.load(open(p)) for p in sys.argv[1:4])
assert into["keep"] == 1 and into["shipped"]["kind"] == "x", "merge lost an entry"
assert into["shipped"]["standins"] == d, "merged report differs"
r = d["report"]
for k in ("fill_artefact_blur", "fill_artefact_copy", "copy_peaks", "rest_of_frame_g9",
          "rest_of_frame_g25", "exclusion_control_g9", "exclusion_control_g25"):
    assert r[k]["n"] > 0, (k, r[k])
for k in ("fill_artefact_blur", "rest_of_frame_g9", "rest_of_frame_g25"):
    p = r["paired_vs_compare"][k]
    assert p["difference"] == 0 and p["interval95"] == [0, 0] and p["evaluated"] == r[k]["auroc"], (k, p)
o = r["source_offset"]
for k in ("source_auroc_polyp_free", "source_auroc_inpainted", "source_auroc_capsule_rendered",
          "capsule_auroc", "colon_rendered_polyp_blur"):
    assert min(o[k]["n"]) > 0 and 0 <= o[k]["auroc_relative"] <= 1, (k, o[k])
    # the very images --evaluate scored (e.json: w.bin, the same seed and fold)
    own = e["final"]["capsule"]["auroc"] if k == "capsule_auroc" else e["final"][k]["auroc"]
    assert abs(o[k]["auroc"] - own) < 1e-9, (k, o[k]["auroc"], own)
assert 0 < r["rest_of_frame_g25"]["excluded_share"] < 1
# --colon-draws: draw 0 is --evaluate's blur stand-in itself, the others new draws
cd = r["colon_blur_draws"]
assert [x["draw"] for x in cd["draws"]] == [0, 1, 2] and len({x["seed"] for x in cd["draws"]}) == 3, cd
own = e["final"]["colon_rendered_polyp_blur"]
assert abs(cd["draws"][0]["auroc"] - own["auroc"]) < 1e-9, (cd["draws"][0], own)
assert abs(cd["draws"][0]["polyp_free_specificity"] - (1 - own["polyp_free_flagged"])) < 1e-9, (cd["draws"][0], own)
lo, hi = cd["other_draws_specificity_range"]
assert lo <= cd["other_draws_specificity_mean"] <= hi, cd
assert r["rest_of_frame_g25"]["excluded_share"] > r["rest_of_frame_g9"]["excluded_share"]
PY
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$CS_SHARED_DIR/data" "$T/cache" "$T/w.bin" <<'PY' \
    || fail "polyp_standins.py does not score or draw what it says"
import sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
import polyp_standins as st
data = tp.build_cache(sys.argv[2], sys.argv[3], (40, 80))
idx = [i for i in range(len(data["kimg"])) if (data["kmask"][i] >= 128).any()][:6]
polyp, _, _ = tp.colon_rendered_pairs(data, idx, 7, "blur")
imgs, excl = st.rest_renders(data, idx, 7, (25,))
assert np.array_equal(polyp, imgs), "rest_of_frame renders differ from the colon pairs'"
cp, cf, _ = tp.colon_rendered_pairs(data, idx, 8, "copy")
sp, sf, region = st.copy_pairs_with_fill(data, idx, 8)
assert np.array_equal(cp, sp) and np.array_equal(cf, sf), "copy renders differ from the colon pairs'"
assert region.any(axis=(1, 2)).all(), "a fill region was lost in the render"
# the frame score is train_polyp's, and a region left out of the pooling
# no longer counts: a hot blob inside it does not raise the rest's score
lg = torch.randn(3, tp.OUT, tp.OUT)
for g in lg:
    assert abs(st.frame_score(g.numpy()) - float(torch.sigmoid(tp.frame_logit(g[None]))[0])) < 1e-5
g = np.full((tp.OUT, tp.OUT), -4.0, np.float32)
g[10:16, 10:16] = 6.0
blob = np.zeros(g.shape, bool)
blob[8:18, 8:18] = True
assert st.frame_score(g) > 0.99 and st.frame_score(g, ~blob) < 0.02
# a region that leaves fewer cells than the pooling takes is left out
few = np.ones(g.shape, bool)
few.reshape(-1)[: tp.TOPK - 1] = False
whole3 = st.Reads(np.stack([g, g, g]), [None, None, None])
assert list(st.enough_cells(whole3, np.stack([blob, few, ~few]))) == [True, False, True]
# a map read on a lit field (the middle half of the frame's width) sees a
# frame region through its own cells: frame column c/4 + 10 under field column c
S = tp.OUT
col = np.zeros((S, S), bool)
col[:, S // 4] = True
fld = (0.25, 0.0, 0.5, 1.0)
seen = st.to_field(col, fld)
assert seen[:, :2].all() and not seen[:, 2:].any(), np.nonzero(seen[0])
assert st.frame_cell(0, 0, fld, S) == (0, S // 4) and st.frame_cell(S - 1, S - 1, fld, S) == (S - 1, 3 * S // 4 - 1)
assert np.array_equal(st.to_field(col, None), col)
# its kept cells: a region over all the frame's rows but the last leaves a
# full-height field its last row (S cells); a field over the top half of
# the frame sees none of that row, so nothing is left to pool
band = np.zeros((S, S), bool)
band[: S - 1] = True
assert [int(k.sum()) for k in st.kept_cells(st.Reads(np.stack([g]), [fld]), band[None])] == [S]
top = (0.25, 0.0, 0.5, 0.5)
assert list(st.enough_cells(st.Reads(np.stack([g, g]), [fld, top]), np.stack([band, band]))) == [True, False]
# the relative score does not see a level shared by every cell
assert abs(st.relative_score(g + 3.0) - st.relative_score(g)) < 1e-5
assert abs(st.relative_score(g) - (6.0 + 4.0)) < 1e-5
PY
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_standins.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/cut.bin" --metrics "$T/st2.json" >/dev/null 2>"$T/st2.err"; then
    fail "polyp_standins.py accepted a cut weights file"
fi
grep -q "not a polyp weights file, or damaged" "$T/st2.err" || fail "no clear error: $(cat "$T/st2.err")"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_standins.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --metrics "$T/st3.json" --into "$T/into.json" \
    >/dev/null 2>"$T/st3.err"; then
    fail "polyp_standins.py accepted --into without --key"
fi
grep -q -- "--into and --key go together" "$T/st3.err" || fail "no clear error: $(cat "$T/st3.err")"
ok "polyp_standins.py measures the stand-ins' biases on the colon pairs' own draws"

# tools/polyp_mirror_score.py: its plain side is the engine's one-pass score
# on the very images --evaluate --compare scored (e.json: w.bin, the same
# seed and fold), and the mirrored side differs from it only by the
# mirrors: a network that sees every mirror alike scores the same
/usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_mirror_score.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --metrics "$T/mir.json" >/dev/null 2>"$T/mir.err" \
    || die "polyp_mirror_score.py failed: $(tail -5 "$T/mir.err")"
python3 - "$T/mir.json" "$T/e.json" <<'PY' || fail "polyp_mirror_score.py report wrong"
import json, sys
d, e = (json.load(open(p)) for p in sys.argv[1:3])
r = d["report"]
for k in ("capsule_auroc", "source_auroc_polyp_free", "source_auroc_inpainted",
          "source_auroc_capsule_rendered", "colon_rendered_polyp_blur", "colon_rendered_polyp_copy"):
    own = e["final"]["paired_vs_compare"][k]["evaluated"]
    if own is None:  # no pair on the smoke frames (the copy fill may cover none)
        assert r[k]["compared"] is None and r[k]["evaluated"] is None, (k, r[k])
        continue
    assert abs(r[k]["compared"] - own) < 1e-9, (k, r[k]["compared"], own)
    assert 0 <= r[k]["evaluated"] <= 1, (k, r[k])
assert r["capsule_auroc"]["plain_operating_point"]["threshold"] > 0
PY
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" <<'PY' \
    || fail "polyp_mirror_score.py does not average the mirror images"
import sys
import torch
sys.path.insert(0, sys.argv[1])
import polyp_mirror_score as pm
class Corner(torch.nn.Module):  # logits: the input's top-left pixel, at the top-left cell
    def forward(self, x):
        out = torch.zeros(x.shape[0], 4, 4)
        out[:, 0, 0] = x[:, 0, 0, 0]
        return out
x = torch.zeros(1, 3, 8, 8)
x[0, 0, 0, 0], x[0, 0, 7, 7], x[0, 0, 0, 7], x[0, 0, 7, 0] = 4.0, 8.0, 12.0, 16.0
m = pm.MirrorMean(Corner())(x)
# each mirror's corner lands back where it came from, a quarter each
assert abs(m[0, 0, 0] - 1.0) < 1e-6 and abs(m[0, 3, 3] - 2.0) < 1e-6, m
assert abs(m[0, 0, 3] - 3.0) < 1e-6 and abs(m[0, 3, 0] - 4.0) < 1e-6, m
PY
ok "polyp_mirror_score.py scores the --evaluate images plainly and over the mirrors"

# tools/polyp_size_sensitivity.py: its shipped capsule check is the very
# set --evaluate scored (e.json), its bands paste the same polyps larger
# band by band, and --topk re-reads the score without retraining
/usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_size_sensitivity.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --metrics "$T/size.json" >/dev/null 2>"$T/size.err" \
    || die "polyp_size_sensitivity.py failed: $(tail -5 "$T/size.err")"
/usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_size_sensitivity.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --topk 1 --metrics "$T/size1.json" >/dev/null 2>"$T/size1.err" \
    || die "polyp_size_sensitivity.py --topk 1 failed: $(tail -5 "$T/size1.err")"
python3 - "$T/size.json" "$T/size1.json" "$T/e.json" <<'PY' || fail "polyp_size_sensitivity.py report wrong"
import json, sys
d, d1, e = (json.load(open(p)) for p in sys.argv[1:4])
own = e["final"]["capsule"]["auroc"]
assert abs(d["shipped_capsule_check"]["auroc"] - own) < 1e-9, (d["shipped_capsule_check"], own)
assert d["topk"] == 16 and d["threshold_from"] == "file", d
assert [b["box_side_share"] for b in d["bands"]] == [[0.08, 0.14], [0.14, 0.22], [0.22, 0.4], [0.4, 0.6]]
for b in d["bands"]:
    assert b["n_pos"] > 0 and b["tp"] + b["fn"] == b["n_pos"] and 0 <= b["auroc"] <= 1, b
assert d1["topk"] == 1 and d1["threshold_from"] != "file", d1
# without --topk the file's threshold, the one --evaluate read the file at
assert abs(d["threshold"] - e["final"]["capsule"]["threshold"]) < 1e-6, (d["threshold"], e["final"]["capsule"])
# ... and --evaluate's threshold rule read the very same pastes: the same
# band sensitivities at that threshold
assert [b["sensitivity_at_threshold"] for b in d["bands"]] == \
    e["final"]["threshold_rule"]["at_threshold"]["sensitivity_by_band"], (d["bands"], e["final"]["threshold_rule"])
# a site's thresholds: the stricter target never has the lower threshold,
# each meets its target, and a lower threshold flags at least as many
sites = d["at_specificity"]
assert [o["target_specificity"] for o in sites] == [0.95, 0.9], sites
for o in sites:
    assert o["specificity"] >= o["target_specificity"], o
    assert len(o["sensitivity_by_band"]) == 4 and all(0 <= v <= 1 for v in o["sensitivity_by_band"]), o
assert sites[0]["threshold"] >= sites[1]["threshold"], sites
assert all(a <= b for a, b in zip(sites[0]["sensitivity_by_band"], sites[1]["sensitivity_by_band"])), sites
PY
# --score max|outline read the frame score over the five crops too: at the
# one pass's specificity, and (max) never below the one pass's score
for sc in max outline; do
  /usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_size_sensitivity.py" --smoke --shared "$CS_SHARED_DIR/data" \
      --cache "$T/cache" --weights "$T/w.bin" --score $sc --metrics "$T/size-$sc.json" >/dev/null 2>"$T/size-$sc.err" \
      || die "polyp_size_sensitivity.py --score $sc failed: $(tail -5 "$T/size-$sc.err")"
done
python3 - "$T/size.json" "$T/size-max.json" "$T/size-outline.json" <<'PY' || fail "polyp_size_sensitivity.py --score report wrong"
import json, sys
one, mx, ol = (json.load(open(p)) for p in sys.argv[1:4])
for d, sc in ((mx, "max"), (ol, "outline")):
    assert d["score"] == sc and d["threshold_from"] != "file", d
    assert d["specificity_at_threshold"] >= one["specificity_at_threshold"], (d, one)
    assert [b["n_pos"] for b in d["bands"]] == [b["n_pos"] for b in one["bands"]], d
    assert all(0 <= b["auroc"] <= 1 for b in d["bands"]), d
# the highest of six logits is never below the one pass's
for b1, bm in zip(one["bands"], mx["bands"]):
    assert bm["median_score"] >= b1["median_score"] - 1e-6, (b1, bm)
assert one["paste_centre"] == [0.35, 0.65], one["paste_centre"]
PY
# --paste-centre LO,HI draws the pastes' centres wider (the same polyps,
# frames and sizes); a value out of range is refused with the reason
/usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_size_sensitivity.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --paste-centre 0.2,0.8 --metrics "$T/size-wide.json" \
    >/dev/null 2>"$T/size-wide.err" || die "--paste-centre failed: $(tail -5 "$T/size-wide.err")"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1]))
assert d["paste_centre"] == [0.2, 0.8] and [b["n_pos"] for b in d["bands"]], d' "$T/size-wide.json" \
    || fail "--paste-centre not recorded"
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_size_sensitivity.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --paste-centre 0.05,0.8 --metrics "$T/size-bad.json" \
    >/dev/null 2>"$T/bad.err"; then
    fail "--paste-centre 0.05,0.8 was accepted"
fi
grep -q -- "--paste-centre takes LO,HI with 0.1 <= LO < HI <= 0.9" "$T/bad.err" \
    || fail "no clear error for --paste-centre: $(cat "$T/bad.err")"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" <<'PY' \
    || fail "polyp_size_sensitivity.threshold_at_specificity is not the lowest threshold meeting its target"
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import polyp_size_sensitivity as ps
up = lambda v: float(np.nextafter(np.float32(v), np.float32(np.inf)))  # next float32 above
spec = lambda neg, t: float(np.mean(np.asarray(neg, np.float32) < np.float32(t)))
neg = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], np.float32)
cases = [(neg, 0.9, up(0.9)),   # 9 of 10 must stay below: just above the ninth
         (neg, 0.5, up(0.5)),   # 5 of 10
         (neg, 1.0, up(0.95)),  # all: just above the highest, still above it in float32
         (np.float32([0.3, 0.3, 0.3, 0.8]), 0.75, up(0.3))]  # ties
for scores, target, want in cases:
    t = ps.threshold_at_specificity(scores, target)
    assert t == want, (target, t, want)
    lower = float(np.nextafter(np.float32(t), np.float32(-np.inf)))
    assert spec(scores, t) >= target and spec(scores, lower) < target, (target, t)
try:
    ps.threshold_at_specificity(neg, 0)
    raise AssertionError("target 0 accepted")
except ValueError:
    pass
PY
# the shipped threshold's rule (choose_threshold_by_size): both floors
# met, no threshold that meets them scores better, the highest of the best
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$T/e3.json" <<'PY' \
    || fail "train_polyp.choose_threshold_by_size does not choose as its rule says"
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import train_polyp as tp
rng = np.random.RandomState(5)
f32 = lambda a: np.asarray(a, np.float32)
for trial in range(40):
    neg = f32(rng.beta(1, 4, 60))
    colon = f32(rng.beta(2, 3, 30))
    bands = [f32(rng.beta(1 + b, 2, 25)) for b in range(4)]
    if trial % 4 == 0:  # coarse scores: ties between candidates
        neg, colon, bands = f32(np.round(neg, 1)), f32(np.round(colon, 1)), [f32(np.round(b, 1)) for b in bands]
    r = tp.choose_threshold_by_size(bands, neg, colon)
    t = np.float32(r["threshold"])
    spec, cspec = np.mean(neg < t), np.mean(colon < t)
    assert spec >= 0.95 and cspec >= 0.75, (trial, r)
    key = lambda u: np.mean([np.mean(b >= u) for b in bands]) + np.mean(neg < u)
    assert abs(key(t) - (r["mean_band_sensitivity"] + r["specificity"])) < 1e-12, r
    # every threshold that matters: each score, just above and below it
    grid = np.unique(np.concatenate([neg, colon, *bands]))
    grid = np.unique(np.concatenate([grid, np.nextafter(grid, np.float32(np.inf)),
                                     np.nextafter(grid, np.float32(-np.inf)), [np.float32(1.5)]]))
    ok = [u for u in grid if np.mean(neg < u) >= 0.95 and np.mean(colon < u) >= 0.75]
    best = max(key(u) for u in ok)
    assert key(t) >= best - 1e-12, (trial, key(t), best)
    # the highest of the best: above t, every allowed threshold of the
    # same key lies in t's own step (no frame score crossed)
    for u in ok:
        if u > t and key(u) >= best - 1e-12:
            crossed = [v for v in np.concatenate([neg, *bands]) if t <= v < u]  # flags changed
            assert not crossed, (trial, t, u)
# no colon stand-in frames: that floor is not applied, and the report says so
r = tp.choose_threshold_by_size([f32([0.5, 0.6])] * 4, f32([0.1, 0.2, 0.3]), f32([]))
assert r["colon_specificity"] is None and r["threshold"] == np.float32(0.5), r
assert tp.crossfit_size_rule([f32([0.5])] * 4, f32([0.1, 0.2]), np.array([7, 7]), f32([0.2]), 3) == []
# --evaluate W1,W2 wrote its ensemble at this rule's threshold
e = json.load(open(sys.argv[2]))
rule = e["final"]["threshold_rule"]
assert e["threshold"] == rule["chosen"]["threshold"] == rule["at_threshold"]["threshold"], rule
assert len(rule["crossfit"]) == 2 and len(rule["chosen"]["sensitivity_by_band"]) == 4, rule
PY
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" "$CS_SHARED_DIR/data" "$T/cache" <<'PY' \
    || fail "polyp_size_sensitivity.py does not paste by size band"
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
import polyp_size_sensitivity as ps
data = tp.build_cache(sys.argv[2], sys.argv[3], (40, 80))
k = np.array([i for i in range(len(data["kimg"])) if (data["kmask"][i] >= 128).any()][:6])
w = np.arange(len(data["wimg"]))[:10]
areas, corners = [], []
for lo, hi in ps.BANDS:
    imgs, labels = ps.pasted_at(data, k, w, 7, lo, hi)
    assert imgs.shape[1:] == (tp.IN, tp.IN, 3) and labels.shape[1:] == (tp.OUT, tp.OUT), imgs.shape
    assert len(imgs) == len(k), len(imgs)
    areas.append(labels.reshape(len(labels), -1).sum(1).mean())
    corners.append(imgs[:, :4, :4])
assert all(a < b for a, b in zip(areas, areas[1:])), areas  # the same polyps, larger band by band
# ... pasted into the same frames: a corner no small paste reaches is the frame's own
assert (corners[0] == corners[1]).all(), "the bands pasted into different frames"
assert len({tuple(c.reshape(-1)[:12]) for c in corners[0]}) > 1, "one frame for every polyp"
PY
if /usr/bin/python3 "$CS_SOURCE_DIR/tools/polyp_size_sensitivity.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --weights "$T/w.bin" --topk 0 --metrics "$T/size2.json" >/dev/null 2>"$T/size2.err"; then
    fail "polyp_size_sensitivity.py accepted --topk 0"
fi
grep -q -- "--topk takes 1 to 64" "$T/size2.err" || fail "no clear error: $(cat "$T/size2.err")"
ok "polyp_size_sensitivity.py scores the --evaluate capsule set and pastes by size band"

# --mixstyle: each sample's shallow feature statistics mixed with those of
# a sample of the other source (never its own); --paste-side: the pasted
# polyps' and backgrounds' sizes in training. Both recorded, both checked.
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$CS_SOURCE_DIR/tools" <<'PY' || fail "cross_source_mixstyle is wrong"
import sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
import train_polyp as tp
K = tp.KINDS
kind = torch.tensor([K["k"], K["w"], K["kb"], K["pp"], K["ki"], K["pn"]])
colon = tp.colon_context(kind)
assert colon.tolist() == [True, False, True, False, True, False], colon
assert tp.cross_source_mixstyle(np.random.RandomState(0), torch.tensor([K["w"], K["pp"]])) is None
# every sample of channel 0 a constant plane with its own mean and spread
x = torch.stack([torch.full((1, 6, 6), float(10 * i)) + torch.randn(1, 6, 6) * (i + 1)
                 for i in range(6)])
rng = np.random.RandomState(3)
partner_rng = np.random.RandomState(3)
mix = tp.cross_source_mixstyle(rng, kind)
y = mix(x)
mu_x, mu_y = x.mean((2, 3))[:, 0], y.mean((2, 3))[:, 0]
# the draws the function made, repeated: partners from the other source
c = colon.numpy()
ci, wi = np.flatnonzero(c), np.flatnonzero(~c)
partner = np.where(c, partner_rng.choice(wi, 6), partner_rng.choice(ci, 6))
lam = partner_rng.beta(tp.MIXSTYLE_ALPHA, tp.MIXSTYLE_ALPHA, 6)
assert all(c[i] != c[partner[i]] for i in range(6)), partner
want = lam * mu_x.numpy() + (1 - lam) * mu_x.numpy()[partner]
assert np.allclose(mu_y.numpy(), want, atol=1e-4), (mu_y, want)
PY
/usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
    --cache "$T/cache" --part final --mixstyle 1 --mixstyle-samples polyp-free --paste-side 0.08,0.6 \
    --out "$T/wm.bin" --metrics "$T/mm.json" 2>"$T/mix.log" \
    || fail "training with --mixstyle failed: $(tail -3 "$T/mix.log")"
python3 -c 'import json,sys; m = json.load(open(sys.argv[1]))
assert (m["mixstyle"], m["mixstyle_samples"], m["paste_side"]) == (1.0, "polyp-free", [0.08, 0.6]), m' \
    "$T/mm.json" || fail "mixstyle, mixstyle_samples and paste_side not recorded in the metrics"
for bad in "--mixstyle 1.5:--mixstyle takes a share of batches from 0 to 1" \
    "--mixstyle-samples polyp-free:--mixstyle-samples goes with --mixstyle" \
    "--mixstyle 1 --mixstyle-samples some:invalid choice" \
    "--paste-side 0.3,0.2:--paste-side takes LO,HI with 0.08 <= LO < HI <= 0.6" \
    "--paste-side 0.04,0.6:--paste-side takes LO,HI with 0.08" \
    "--paste-side x:--paste-side takes LO,HI"; do
    # shellcheck disable=SC2086 # the option and its value, split on purpose
    if /usr/bin/python3 "$CS_SOURCE_DIR/tools/train_polyp.py" --smoke --shared "$CS_SHARED_DIR/data" \
        --cache "$T/cache" --part final ${bad%%:*} --out "$T/wb.bin" --metrics "$T/mb.json" \
        2>"$T/bad.err"; then
        fail "${bad%%:*} was accepted"
    fi
    grep -q -- "${bad#*:}" "$T/bad.err" || fail "no clear error for ${bad%%:*}: $(cat "$T/bad.err")"
done
ok "--mixstyle mixes across the sources only (--mixstyle-samples: which samples), --paste-side sets the paste sizes; all recorded"

[ "$(shipped_files)" = "$models_before" ] \
    || fail "the smoke training changed models/ or tests/data/polyp-ref.bin"
ok "models/ and the shipped test vector untouched"
cs_finish
