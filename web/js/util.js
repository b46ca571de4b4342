// Small DOM and formatting helpers shared by the pages. No innerHTML with
// data: every text goes in through textContent.

/** h('div.cls#id', {attrs, on: {click}}, children...) */
export function h(tag, attrs, ...children) {
  let name = tag, id = null;
  const classes = [];
  const m = tag.match(/^[a-z0-9-]+/i);
  name = m ? m[0] : 'div';
  for (const part of tag.slice(name.length).match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') classes.push(part.slice(1)); else id = part.slice(1);
  }
  const el = document.createElement(name);
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'class') {
      el.className = [el.className, v].filter(Boolean).join(' ');
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'testid') {
      el.dataset.testid = v;
    } else if (k === 'value') {
      el.value = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k in el && typeof v !== 'string' && k !== 'list') {
      el[k] = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Seconds (may be fractional) -> h:mm:ss */
export function fmtDuration(s) {
  if (!isFinite(s) || s < 0) return '';
  s = Math.floor(s);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return `${hh}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}`;
}

// The word lists the server and the pages share come from the server's one
// definition (GET /api/v1/vocabulary, src/server/api/vocabulary.c); they are
// filled in place by loadVocabulary() before the first page is drawn.
export const ROLES = [];            // role names
export const FINDING_TYPES = [];    // finding type names
export const LANDMARKS = [];        // [name, label]
export const SEGMENTS = [];         // [name, label] (cleansing)
export const GRADES = [];           // grade names
export const RECOMMENDATIONS = [];  // [name, label]
export const FRAME_FLAG = {};       // flag name -> its bit in a frame's flags
export const FINDING_SEGMENTS = []; // [name, label] (where a finding lies)
export const MORPHOLOGIES = [];     // [name, label] (Paris classification, polyps)

export async function loadVocabulary() {
  const r = await fetch('/api/v1/vocabulary', { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`vocabulary: HTTP ${r.status}`);
  const v = await r.json();
  const names = (list) => list.map((w) => w.name);
  const pairs = (list) => list.map((w) => [w.name, w.label]);
  ROLES.splice(0, ROLES.length, ...names(v.roles));
  FINDING_TYPES.splice(0, FINDING_TYPES.length, ...names(v.finding_types));
  LANDMARKS.splice(0, LANDMARKS.length, ...pairs(v.landmarks));
  SEGMENTS.splice(0, SEGMENTS.length, ...pairs(v.segments));
  GRADES.splice(0, GRADES.length, ...names(v.grades));
  RECOMMENDATIONS.splice(0, RECOMMENDATIONS.length, ...pairs(v.recommendations));
  v.frame_flags.forEach((w, i) => { FRAME_FLAG[w.name] = 1 << i; });
  FINDING_SEGMENTS.splice(0, FINDING_SEGMENTS.length, ...pairs(v.finding_segments || []));
  MORPHOLOGIES.splice(0, MORPHOLOGIES.length, ...pairs(v.morphologies || []));
}

// An NHS number as it is printed: 943 476 5919.
export function fmtNhs(n) {
  return n && n.length === 10 ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}` : (n || '');
}

export function label(s) {
  return String(s || '').replace(/_/g, ' ');
}

export function frameRange(f) {
  return f.seq_to !== undefined && f.seq_to !== null && f.seq_to !== f.seq_from
    ? `frames ${f.seq_from}–${f.seq_to}` : `frame ${f.seq_from}`;
}

let toastTimer = null;
export function toast(msg, kind = 'info') {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = msg;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

/** The text for an API error, conflicts spelt out. */
export function errorText(e) {
  if (!e) return '';
  if (e.status === 409 && e.code === 'version_conflict')
    return 'Conflict: someone else changed this in the meantime. Reload to see their version, then apply your change again.';
  if (e.status === 409 && e.code === 'report_signed')
    return 'The report is signed: this study is read-only now.';
  if (e.status === 403) return `Not allowed: ${e.message}`;
  return e.message || String(e);
}

// Which polyp detector flagged a study's frames, for the viewer's and the
// report's heads, from the study JSON (docs/api.md): polyp_settings
// (weights CRC-32C and threshold, with each setting's frame count),
// polyp_settings_total and counts.analysed. One setting covering every analysed frame is
// named quietly; several settings, or analysed frames that no setting
// covers (never screened for polyps), are a warning, since a frame's flag
// then depends on when it was analysed (docs/workstation.md). Null when
// nothing was analysed or the server could not say.
export function polypSettingNote(study) {
  const settings = study.polyp_settings, analysed = study.counts ? study.counts.analysed : 0;
  if (!Array.isArray(settings)) return null; // the server could not say
  const n = Math.max(settings.length, Number(study.polyp_settings_total) || 0);
  const screened = settings.reduce((a, p) => a + (Number(p.frames) || 0), 0);
  // ok frames analysed without a polyp result (stored before the polyp
  // detector existed): never shown as screened
  const unscreened = n === settings.length && analysed > screened ? analysed - screened : 0;
  if (n === 0) {
    return analysed > 0
      ? h('span.chip.warn.polyp-setting', { testid: 'polyp-setting' }, 'No frame screened for polyps')
      : null;
  }
  // two settings must never read alike: more digits when 4 would merge them
  const digits = new Set(settings.map((p) => Number(p.threshold).toPrecision(4))).size < settings.length ? 9 : 4;
  const name = (p) => (p.weights_crc32c
    ? `weights ${p.weights_crc32c}, threshold ${Number(p.threshold).toPrecision(digits)}`
    : 'not recorded (analysed before this was kept)');
  // a setting's frames need not be one run (A, B, then A again): its first
  // and last frame and its count, never a range that claims every frame
  const detail = settings.map((p) => `${p.frames} frames, first ${p.first_seq}, last ${p.last_seq}: ${name(p)}`);
  if (n > settings.length) detail.push(`and ${n - settings.length} more settings`);
  if (unscreened) detail.push(`${unscreened} analysed frames were not screened for polyps`);
  if (n === 1 && !unscreened) {
    return h('span.muted.polyp-setting', { testid: 'polyp-setting', title: `Polyp flags: ${detail[0]}` },
      `Polyp detector: ${name(settings[0])}`);
  }
  const text = n > 1
    ? `Polyp flags at ${n} detector settings${unscreened ? `, ${unscreened} frames not screened` : ''}: hover for details`
    : `Polyp detector: ${name(settings[0])}; ${unscreened} frames not screened for polyps`;
  return h('span.chip.warn.polyp-setting', { testid: 'polyp-setting', title: `Polyp flags:\n${detail.join('\n')}` }, text);
}
