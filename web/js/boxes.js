// The detector's boxes over a displayed frame, and the polyp size estimate
// from a box. The frames index (GET .../frames) gives, for each flagged
// frame, {"w", "h", "b": [[x, y, w, h, score‰], ...], "p": [...]} in the
// frame's own pixels: "b" bleeding regions, "p" polyp regions. A layer of
// positioned elements (no inline style attributes: CSSOM only, so the
// strict CSP holds) sits exactly over the image as object-fit: contain
// shows it, and follows the stage's zoom. See docs/web.md, "Boxes".
import { h } from './util.js';

// ---- the size estimate ------------------------------------------------------
// A capsule's wide-angle lens (about 140-170 degrees) sees, at the usual
// 5-15 mm from the wall, roughly SCENE_MM of mucosa across the middle of
// the frame. A box spanning a fraction f of the frame's width is then about
// f x SCENE_MM across. The distance is not known from one frame (no depth,
// no scale in the image), so the estimate is rough; and capsule size
// estimates are known to run 3-4 mm large (BIAS_LOW..BIAS_HIGH). The UI
// therefore shows the estimate with the size it likely stands for: the
// estimate less 3-4 mm, never below SIZE_FLOOR (docs/web.md, "Size
// estimate").
export const SCENE_MM = 30;
export const BIAS_LOW = 3, BIAS_HIGH = 4, SIZE_FLOOR = 1;
export const SIZE_CAVEAT = 'Capsule size estimates run 3–4 mm large.';
// The short form, beside a size in lists and forms.
export const SIZE_CAVEAT_SHORT = 'capsule sizes run 3–4 mm large';
// The polyp detector misses small polyps (models/MODEL_CARD-polyp.md,
// "Known failure modes": of held-out polyps pasted into capsule frames,
// those under a seventh of the frame wide are flagged in 65 % of frames,
// those 14-22 % in 91 %, larger ones in 97.5-99 %).
export const POLYP_MISS_NOTE = 'The polyp detector misses small polyps (about one in three narrower than a ' +
  'seventh of the frame, in tests): a frame or study without a polyp flag may still show one.';

// The estimate for box [x, y, w, h] of a frame fw x fh px: its larger
// side, as a share of the frame's larger side, times SCENE_MM; rounded to
// 0.5 mm (the findings form's step), at least 0.5.
export function estimatePolypSizeMm(box, fw, fh) {
  const side = Math.max(box[2], box[3]) / Math.max(1, fw, fh);
  return Math.max(0.5, Math.round(side * SCENE_MM * 2) / 2);
}
// The size an estimate of mm likely stands for: [mm - 4, mm - 3], each
// end at least SIZE_FLOOR ([1, 1] for an estimate of 4 mm or less).
export function likelySizeMm(mm) {
  return [Math.max(SIZE_FLOOR, mm - BIAS_HIGH), Math.max(SIZE_FLOOR, mm - BIAS_LOW)];
}
// "≈ 5.5 mm (true size likely 1.5–2.5 mm)"; "≈ 4 mm (true size likely
// 1 mm or less)".
export function sizeRangeText(mm) {
  const [lo, hi] = likelySizeMm(mm);
  const likely = hi <= SIZE_FLOOR ? `${SIZE_FLOOR} mm or less` : `${lo}–${hi} mm`;
  return `≈ ${mm} mm (true size likely ${likely})`;
}

// ---- the overlay ------------------------------------------------------------
// A layer for one stage slot. place(seq, img, boxes) draws the boxes of
// frame seq (boxes as in the index, or undefined) over img; onPolyp(seq,
// box, w, h) is called when a polyp box is clicked.
const LABEL_PX = 15; // a box label's height (app.css: .fbox-label)
export function createBoxLayer(slot, onPolyp) {
  const layer = h('div.box-layer', { testid: 'box-layer', 'aria-hidden': 'false' });
  slot.appendChild(layer);
  let cur = null; // {seq, img, boxes}

  function fit() {
    if (!cur || !cur.boxes) { layer.hidden = true; return; }
    const { img, boxes } = cur;
    const sw = slot.clientWidth, sh = slot.clientHeight;
    const iw = (img && img.naturalWidth) || boxes.w, ih = (img && img.naturalHeight) || boxes.h;
    if (!sw || !sh || !iw || !ih) { layer.hidden = true; return; }
    const k = Math.min(sw / iw, sh / ih); // object-fit: contain
    const dw = iw * k, dh = ih * k;
    layer.style.left = `${(sw - dw) / 2}px`;
    layer.style.top = `${(sh - dh) / 2}px`;
    layer.style.width = `${dw}px`;
    layer.style.height = `${dh}px`;
    layer.hidden = false;
    // A label goes above its box, unless there is no room for it there
    // (the box at the top of the slot): then inside the box's top edge.
    const H = boxes.h || ih, top = (sh - dh) / 2;
    for (const el of layer.children) {
      el.classList.toggle('fbox-label-in', top + (Number(el.dataset.y) / H) * dh < LABEL_PX);
    }
  }

  function place(seq, img, boxes) {
    const same = cur && cur.seq === seq && cur.img === img && cur.boxes === boxes;
    cur = { seq, img, boxes };
    if (!same) {
      layer.replaceChildren();
      layer.dataset.seq = String(seq);
      if (boxes) {
        const W = boxes.w, H = boxes.h;
        const put = (b, kind, i) => {
          const pct = (v, of) => `${(100 * v) / of}%`;
          const score = (b[4] / 1000).toFixed(2);
          const polyp = kind === 'polyp';
          const mm = polyp ? estimatePolypSizeMm(b, W, H) : null;
          const el = h(polyp ? 'button.fbox.fbox-polyp' : 'div.fbox.fbox-bleed', {
            type: polyp ? 'button' : undefined,
            testid: `box-${kind}-${i}`,
            dataset: { kind, seq: String(seq), x: b[0], y: b[1], w: b[2], h: b[3] },
            title: polyp ? `Polyp region, peak p ${score}, ${sizeRangeText(mm)}. ${SIZE_CAVEAT} Click to add a polyp finding.`
              : `Bleeding region, p ${score}`,
            'aria-label': polyp ? `Add a polyp finding here, ${sizeRangeText(mm)}` : undefined,
          }, h('span.fbox-label', polyp ? `polyp ${score} · ≈${mm} mm*` : `blood ${score}`));
          el.style.left = pct(b[0], W);
          el.style.top = pct(b[1], H);
          el.style.width = pct(b[2], W);
          el.style.height = pct(b[3], H);
          if (polyp) {
            el.addEventListener('click', (ev) => {
              ev.stopPropagation();
              // Focus must not stay here: Enter would click the box again.
              el.blur();
              // The second click of a double-click (detail 2, 3, ...) adds
              // nothing more; a keyboard click has detail 0.
              if (ev.detail > 1) return;
              onPolyp(seq, b, W, H);
            });
          }
          layer.appendChild(el);
        };
        (boxes.b || []).forEach((b, i) => put(b, 'bleeding', i));
        (boxes.p || []).forEach((b, i) => put(b, 'polyp', i));
      }
    }
    fit();
  }
  return { place, fit, el: layer };
}
