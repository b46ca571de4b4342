// The viewer (#/study/ID): playback of a study's frames from the columnar
// frame index, 1/2/4-up layouts, the reduced view (frames flagged redundant
// hidden), a timeline canvas with bleeding and polyp flags, flagged-frame
// thumbnails filtered by finding, the detector's boxes over the frame
// (boxes.js), zoom, keyboard shortcuts, and a bounded prefetch so 40
// frames/s does not stall.
// See docs/web.md for the design.
import { get, post, studyPath } from './api.js';
import { studySource, readingClock } from './source.js';
import { h, clear, fmtTime, fmtDuration, label, toast, LANDMARKS, FRAME_FLAG, polypSettingNote } from './util.js';
import { session, can } from './app.js';
import { createFindingsPanel } from './findings.js';
import { createBoxLayer, estimatePolypSizeMm, sizeRangeText, SIZE_CAVEAT, SCENE_MM, SIZE_FLOOR, POLYP_MISS_NOTE } from './boxes.js';

const SPEEDS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40];
const MAX_CACHE = 60;          // frames held (decoded or in flight) at most
const LOOKAHEAD_S = 1.0;       // prefetch this much playback time ahead
const MAX_THUMBS = 600;         // thumbnails on one page of the strip

const LANDMARK_SHORT = { first_gastric: 'G', first_duodenal: 'D', first_caecal: 'C', excreted: 'X' };

// opts.training (training.js): {source, label, submitted(), onSubmit(), seq}
// reads a training case instead: its frames through the training routes,
// the trainee's findings in the attempt (source.js), no study, no report.
export async function mountViewer(main, studyId, opts = {}) {
  const tr = opts.training || null;
  const source = tr ? tr.source : studySource(studyId);
  // The study before its frame index: a study read as complete then has
  // every frame in the index (the notice below relies on it).
  const study = tr ? { label: tr.label } : await get(studyPath(studyId));
  const [idx, report] = tr
    ? [await get(`training/cases/${encodeURIComponent(studyId)}/frames`), null]
    : await Promise.all([
      get(studyPath(studyId, '/frames')),
      get(studyPath(studyId, '/report')).catch((e) => { if (e.status === 404) return null; throw e; }),
    ]);
  const count = idx.count ?? (idx.flags ? idx.flags.length : 0);
  const flags = idx.flags || [];
  const pcol = idx.p || [];
  const rgb = idx.rgb || [];
  const ctime = idx.capture_time_us || [];
  const findex = idx.frame_index || [];
  const ppcol = idx.polyp_p || [];   // polyp probability per mille; null = not scored
  const boxesOf = idx.boxes || {};   // seq -> boxes of its flagged findings
  const firstTime = ctime.find((t) => t >= 0);

  const fullOrder = Array.from({ length: count }, (_, i) => i);
  const reducedOrder = fullOrder.filter((s) => !(flags[s] & FRAME_FLAG.redundant));
  const flagged = fullOrder.filter((s) => flags[s] & FRAME_FLAG.bleeding);
  const polypFlagged = fullOrder.filter((s) => flags[s] & FRAME_FLAG.polyp);
  const anyFlagged = fullOrder.filter((s) => flags[s] & (FRAME_FLAG.bleeding | FRAME_FLAG.polyp));
  const COLOURS = { bleeding: '#ff3b3b', polyp: '#c77dff' }; // timeline ticks (app.css: --bleed, --polyp)

  const st = {
    reduced: false, order: fullOrder, pos: 0, layout: 1, fps: 10, dir: 1,
    playing: false, zoom: 1, stalls: 0, holding: false, nextDue: 0, raf: 0,
    signed: tr ? tr.submitted() : !!(report && report.state === 'signed'),
    boxes: true, stripFilter: 'all', stripPage: 0, panX: 0, panY: 0,
  };
  const cache = new Map(); // seq -> {img, state: 'loading'|'ready'|'error'|'noimage'}
  let destroyed = false;

  const cur = () => st.order[st.pos] ?? 0;
  const posOf = (order, seq) => {  // first position whose seq >= seq
    let lo = 0, hi = order.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (order[m] < seq) lo = m + 1; else hi = m; }
    return Math.min(lo, Math.max(0, order.length - 1));
  };

  // ---- DOM -----------------------------------------------------------------
  const slots = [0, 1, 2, 3].map((i) => h('div.slot', { testid: `frame-slot-${i}`, dataset: { slot: i } }));
  const stage = h('div.stage.layout-1#stage', { testid: 'stage', 'aria-label': 'Frames' }, slots);
  const canvas = h('canvas.timeline#timeline', { testid: 'timeline', tabindex: 0, role: 'slider', 'aria-label': 'Timeline: click to seek', 'aria-valuemin': 0, 'aria-valuemax': Math.max(0, count - 1) });
  const status = h('div.status-line#status-line', { testid: 'status-line', 'aria-live': 'off' });
  const info = h('dl.frame-info#frame-info', { testid: 'frame-info' });
  const strip = h('div.thumb-strip#flag-strip', { testid: 'flag-strip', 'aria-label': 'Bleeding and polyp frames' });
  const stripTitle = h('h2.strip-title', { testid: 'strip-title' });
  // Paging: MAX_THUMBS thumbnails a page; what is not on the page is said
  // in stripHidden, with the ways to reach it.
  const stripPrev = h('button.btn.btn-small.btn-quiet#strip-prev', { type: 'button', testid: 'strip-prev' }, `‹ Previous ${MAX_THUMBS}`);
  const stripNext = h('button.btn.btn-small.btn-quiet#strip-next', { type: 'button', testid: 'strip-next' }, `Next ${MAX_THUMBS} ›`);
  const stripPageOut = h('span.small.muted', { testid: 'strip-page' });
  const stripPages = h('div.strip-pages', { role: 'group', 'aria-label': 'Pages of thumbnails', hidden: true }, stripPrev, stripPageOut, stripNext);
  stripPrev.addEventListener('click', () => setStripPage(st.stripPage - 1));
  stripNext.addEventListener('click', () => setStripPage(st.stripPage + 1));
  const stripHidden = h('p.notice.small.strip-hidden#strip-hidden', { testid: 'strip-hidden', role: 'status', hidden: true });
  // The detector's measured blind spot (models/MODEL_CARD-polyp.md, "Small
  // polyps"): shown wherever polyp flags are listed, so that no reader
  // takes an empty or short polyp strip for a study without polyps.
  const polypMissNote = h('p.small.muted.polyp-miss-note', { testid: 'polyp-miss-note' }, POLYP_MISS_NOTE);
  const filterBtns = ['all', 'bleeding', 'polyp'].map((f) => {
    const b = h('button.btn.btn-small.btn-quiet.strip-filter', { type: 'button', testid: `strip-filter-${f}`, 'aria-pressed': String(f === 'all'), dataset: { filter: f } },
      f === 'all' ? 'All' : f === 'bleeding' ? 'Bleeding' : 'Polyp');
    b.addEventListener('click', () => setStripFilter(f));
    return b;
  });
  const stripHead = h('div.strip-head', stripTitle, h('div.strip-filters', { role: 'group', 'aria-label': 'Show flagged frames of' }, filterBtns), stripPages);
  const sizeNote = h('p.size-note.small#size-note', { testid: 'size-note' },
    `Polyp sizes from a box (≈ mm, marked *) assume about ${SCENE_MM} mm of mucosa across the frame; the distance is unknown, so they are rough. ${SIZE_CAVEAT} ` +
    `The true size is likely 3–4 mm smaller than the estimate (shown as “true size likely …”, never below ${SIZE_FLOOR} mm).`);

  const btn = (id, text, title, fn, extra = {}) => {
    const b = h(`button.ctl#${id}`, { type: 'button', title, 'aria-label': title, testid: id, ...extra }, text);
    b.addEventListener('click', fn);
    return b;
  };
  const playBtn = btn('play', '▶', 'Play (Space)', () => togglePlay());
  const speed = h('input#speed', { type: 'range', min: 1, max: 40, step: 1, value: String(st.fps), testid: 'speed', 'aria-label': 'Speed in frames per second' });
  const speedOut = h('output#speed-out', { for: 'speed', testid: 'speed-out' });
  speed.addEventListener('input', () => setFps(parseInt(speed.value, 10)));
  const layoutBtns = [1, 2, 4].map((n) => btn(`layout-${n}`, `${n}-up`, `${n === 1 ? 'Single' : n + '-up'} view (${n})`, () => setLayout(n)));
  const reducedBtn = btn('reduced', 'Reduced', 'Reduced view: hide redundant frames (R)', () => toggleReduced(), { 'aria-pressed': 'false' });
  const zoomBtn = btn('zoom', 'Zoom', 'Zoom (Z, or the mouse wheel over the frames); drag or Shift+arrows to pan', () => setZoom(st.zoom > 1 ? 1 : 2), { 'aria-pressed': 'false' });
  const boxesBtn = btn('boxes', 'Boxes', 'Show the detector\'s boxes (B)', () => toggleBoxes(), { 'aria-pressed': 'true' });
  const dirBtn = btn('direction', '⇄ Forward', 'Playback direction (D)', () => setDir(-st.dir));
  const controls = h('div.controls#controls', { role: 'toolbar', 'aria-label': 'Playback' },
    h('div.group',
      btn('prev-flag', '« Bleeding', 'Previous bleeding frame (P)', () => jumpFlag(-1)),
      btn('step-back', '◀', 'Step back (Left)', () => step(-1)),
      playBtn,
      btn('step-forward', '▶|', 'Step forward (Right)', () => step(1)),
      btn('next-flag', 'Bleeding »', 'Next bleeding frame (N)', () => jumpFlag(1)),
      dirBtn),
    h('div.group',
      btn('prev-polyp', '« Polyp', 'Previous polyp frame (Shift+Y)', () => jumpFlag(-1, 'polyp')),
      btn('next-polyp', 'Polyp »', 'Next polyp frame (Y)', () => jumpFlag(1, 'polyp')),
      boxesBtn),
    h('div.group', h('label.speed-label', { for: 'speed' }, 'Speed'), speed, speedOut),
    h('div.group', layoutBtns, reducedBtn, zoomBtn,
      btn('help', '?', 'Keyboard shortcuts (?)', () => toggleHelp())));

  const help = h('dialog.card.help#help', { testid: 'help', 'aria-labelledby': 'help-title' },
    h('h2#help-title', 'Keyboard shortcuts'),
    h('table.keys', h('tbody', [
      ['Space', 'play / pause'], ['← / →', 'step back / forward (by the view size)'],
      ['↑ / ↓', 'faster / slower'], ['D', 'playback direction'], ['1 / 2 / 4', 'single, 2-up, 4-up view'],
      ['R', 'reduced view / full study'], ['N / P', 'next / previous bleeding frame'],
      ['Y / Shift+Y', 'next / previous polyp frame'], ['B', 'show / hide the detector\'s boxes (click a polyp box to add a finding)'], ['Z', 'zoom'],
      ['Shift+arrows', 'pan the zoomed frames (or drag them)'],
      ['[ / ]', 'start / end a range for a finding'], ['F', 'add a finding at the current frame (or the range)'],
      ['Home / End', 'first / last frame'], ['?', 'this help'], ['Esc', 'close'],
    ].map(([k, v]) => h('tr', h('th', h('kbd', k)), h('td', v))))),
    h('form', { method: 'dialog' }, h('button.btn', { type: 'submit' }, 'Close')));

  const mayEdit = tr ? can(['trainee']) : can(['reader', 'consultant']);
  const panel = createFindingsPanel({
    source,
    getSeq: cur,
    seek: (s) => seekSeq(s),
    onChange: () => drawTimeline(),
    readOnly: () => !mayEdit || st.signed,
    readOnlyReason: () => tr && st.signed ? 'This case is submitted: your answer no longer changes. The feedback page compares it with the reference.'
      : st.signed ? `The report is signed${report && report.signed_by ? ` by ${report.signed_by}` : ''}: findings, landmarks and grades are read-only.`
      : `Your role (${session.role}) may view but not change findings.`,
  });

  // A study still arriving: the frame index above is what was analysed
  // when this view opened. Frames analysed since (perhaps flagged) are not
  // in it, so the view says so, with how many, until it is reloaded.
  // The stream is opened last, once the view is mounted (below), and kept
  // open while it is: a finished study that was not closed may still
  // receive another upload.
  const arriving = h('p.notice.small#study-arriving', { testid: 'study-arriving', role: 'status', hidden: true });
  const followArrivals = !tr && study.state && study.state !== 'complete';
  if (followArrivals) {
    arriving.hidden = false;
    arriving.textContent = 'This study is still arriving: frames analysed after this view opened are shown when you reload it.';
  }
  function openArrivals() {
    const es = new EventSource(`/api/v1/studies/${encodeURIComponent(studyId)}/events`);
    es.addEventListener('progress', (ev) => {
      let d = null;
      try { d = JSON.parse(ev.data); } catch { return; }
      const n = d && d.progress ? d.progress.frames_analysed : 0;
      if (n > count) {
        arriving.hidden = false;
        clear(arriving).append(`${n - count} more frame${n - count === 1 ? '' : 's'} analysed since this view opened, not shown here${d.state === 'complete' ? ' (the study is now complete)' : ''}. `,
          h('button.btn.btn-small', { type: 'button', testid: 'study-reload', on: { click: () => window.location.reload() } }, 'Reload'));
        arriving.dataset.more = String(n - count);
      }
    });
    es.addEventListener('session_ended', () => es.close());
    return es;
  }

  const root = h('section.viewer-page#viewer', { testid: 'viewer', dataset: { study: studyId, count } },
    tr ? h('div.viewer-head',
      h('a.back', { href: '#/training' }, '← Training'),
      h('h1', study.label), h('span.muted', 'Training case: the reference opens when you submit'),
      h('span.spacer'), tr.headExtra)
      : h('div.viewer-head',
        h('a.back', { href: '#/worklist' }, '← Worklist'),
        h('h1', study.label || studyId), h('span.mono.muted', studyId),
        polypSettingNote(study),
        h('span.spacer'),
        h('a.btn.btn-small', { href: `#/study/${encodeURIComponent(studyId)}/report`, testid: 'open-report' }, 'Report')),
    arriving,
    h('div.viewer-grid',
      h('div.stage-col', stage, canvas, controls, h('div.info-row', status, info),
        sizeNote, stripHead, polypMissNote, stripHidden, strip),
      h('aside.side-col', panel.el)),
    help);
  main.appendChild(root);
  document.body.classList.add('dark');
  const layers = slots.map((slot) => createBoxLayer(slot, (seq, b, w, hh) => addPolypFromBox(seq, b, w, hh)));

  // ---- the frame cache and prefetch ----------------------------------------
  function ensure(seq) {
    let e = cache.get(seq);
    if (e) { cache.delete(seq); cache.set(seq, e); return e; } // most recent last
    if (!(flags[seq] & FRAME_FLAG.image) && flags.length) {
      e = { img: null, state: 'noimage' };
    } else {
      const img = new Image();
      img.decoding = 'async';
      img.alt = `Frame ${seq}`;
      img.className = 'frame-img';
      img.dataset.seq = seq;
      img.draggable = false;
      e = { img, state: 'loading' };
      img.src = source.frameUrl(seq);
      img.decode().then(() => { e.state = 'ready'; onLoaded(seq); },
        () => { e.state = img.complete && img.naturalWidth > 0 ? 'ready' : 'error'; onLoaded(seq); });
    }
    cache.set(seq, e);
    return e;
  }
  const isReady = (seq) => { const e = cache.get(seq); return !!e && e.state !== 'loading'; };

  function shownSeqs(pos = st.pos) {
    return st.order.slice(pos, pos + st.layout);
  }

  // The frames the next LOOKAHEAD_S of playback (at the current speed and
  // direction) will show, nearest first, at most MAX_CACHE minus the shown.
  function wanted() {
    const out = [];
    const budget = MAX_CACHE - st.layout;
    const ahead = Math.max(st.layout * 2, Math.ceil(st.fps * LOOKAHEAD_S) + st.layout);
    for (let k = 1; out.length < Math.min(ahead, budget); k++) {
      const p = st.pos + st.dir * st.layout * k;
      if (p < 0 || p >= st.order.length) break;
      for (const s of st.order.slice(p, p + st.layout)) if (out.length < budget) out.push(s);
    }
    return out;
  }

  function prefetch() {
    const shown = shownSeqs();
    const want = wanted();
    const keep = new Set([...shown, ...want]);
    for (const s of want) ensure(s);
    // Evict what is neither shown nor wanted, oldest use first.
    if (cache.size > MAX_CACHE) {
      for (const [s, e] of cache) {
        if (cache.size <= MAX_CACHE) break;
        if (keep.has(s)) continue;
        if (e.img && e.state === 'loading') e.img.src = ''; // cancel the request
        cache.delete(s);
      }
    }
  }

  function onLoaded(seq) {
    if (destroyed) return;
    if (shownSeqs().includes(seq)) renderFrames();
  }

  // ---- rendering -------------------------------------------------------------
  function renderFrames() {
    const seqs = shownSeqs();
    slots.forEach((slot, i) => {
      const seq = seqs[i];
      slot.hidden = i >= st.layout;
      if (i >= st.layout) return;
      if (seq === undefined) {
        if (slot.dataset.seq !== '') { clear(slot).append(layers[i].el); layers[i].place(-1, null, undefined); slot.dataset.seq = ''; }
        return;
      }
      const e = ensure(seq);
      const want = e.state === 'ready' || e.state === 'loading' ? e.img : null;
      const have = slot.firstChild;
      if (want && have === want && slot.dataset.seq === String(seq)) {
        // already in place
      } else if (want) {
        clear(slot).append(want, layers[i].el);
      } else {
        clear(slot).append(h('div.noimg', e.state === 'noimage' ? 'no image' : 'frame not available'), layers[i].el);
      }
      layers[i].place(seq, e.state === 'ready' ? e.img : null, e.state === 'ready' ? boxesOf[seq] : undefined);
      slot.dataset.seq = seq;
      slot.classList.toggle('loading', e.state === 'loading');
      slot.classList.toggle('flagged', !!(flags[seq] & FRAME_FLAG.bleeding));
      slot.classList.toggle('polyp-flagged', !!(flags[seq] & FRAME_FLAG.polyp));
      slot.title = `Frame ${seq}`;
    });
  }

  function renderInfo() {
    const seq = cur();
    const f = flags[seq] || 0;
    const t = ctime[seq];
    const chips = [];
    // A training case with the engine's flags hidden keeps only bits 1 and
    // 32: readability is not known to the page then, not "not readable".
    if (idx.engine_flags_shown !== false)
      chips.push(h(`span.chip${f & FRAME_FLAG.readable ? '.ok' : '.bad'}`, { testid: 'chip-readable' }, f & FRAME_FLAG.readable ? 'readable' : 'not readable'));
    if (f & FRAME_FLAG.blurry) chips.push(h('span.chip.warn', { testid: 'chip-blurry' }, 'blurry'));
    if (f & FRAME_FLAG.bleeding) chips.push(h('span.chip.bleed', { testid: 'chip-bleeding' }, 'bleeding'));
    if (f & FRAME_FLAG.polyp) chips.push(h('span.chip.polyp', { testid: 'chip-polyp' }, 'polyp'));
    if (f & FRAME_FLAG.redundant) chips.push(h('span.chip', { testid: 'chip-redundant' }, 'redundant'));
    if (!(f & FRAME_FLAG.ok)) chips.push(h('span.chip.bad', 'analysis failed'));
    clear(info).append(
      h('dt', 'Frame'), h('dd#cur-frame', { testid: 'cur-frame' }, `${seq}`, findex[seq] >= 0 ? h('span.muted', ` (capsule #${findex[seq]})`) : null),
      h('dt', 'Captured'), h('dd#cur-time', { testid: 'cur-time' }, captureText(t)),
      h('dt', 'Bleeding p'), h('dd#cur-p', { testid: 'cur-p' }, pcol[seq] !== undefined && pcol[seq] >= 0 ? (pcol[seq] / 1000).toFixed(3) : '—'),
      h('dt', 'Polyp p'), h('dd#cur-polyp-p', { testid: 'cur-polyp-p' }, ppcol[seq] !== undefined && ppcol[seq] !== null ? (ppcol[seq] / 1000).toFixed(3) : '—'),
      h('dt', 'Flags'), h('dd.chips', { testid: 'cur-flags' }, chips));
  }

  // Capture time: wall clock when the stream carries one (after 2001),
  // always the time since the first frame.
  function captureText(t) {
    if (t === undefined || t < 0) return 'unknown';
    const since = firstTime !== undefined ? (t - firstTime) / 1e6 : null;
    const rel = since !== null ? `+${fmtDuration(since)}.${Math.floor((since % 1) * 10)}` : '';
    return t > 9.8e14 ? `${fmtTime(t / 1000)}  (${rel})` : rel;
  }

  function renderStatus() {
    const seq = cur();
    status.textContent = `frame ${seq}/${count} · ${st.fps} fps · ${st.reduced ? `reduced (${reducedOrder.length} of ${count})` : 'full'} · ` +
      `${st.layout}-up · ${st.playing ? (st.dir > 0 ? 'playing' : 'playing backward') : 'paused'}` +
      `${st.zoom > 1 ? ` · zoom ${st.zoom}×` : ''} · stalls ${st.stalls}`;
    Object.assign(root.dataset, {
      seq: String(seq), pos: String(st.pos), playing: String(st.playing), reduced: String(st.reduced),
      layout: String(st.layout), fps: String(st.fps), stalls: String(st.stalls), zoom: String(st.zoom),
      shown: shownSeqs().join(','), boxes: String(st.boxes), stripFilter: st.stripFilter,
      stripPage: String(st.stripPage), panX: String(Math.round(st.panX)), panY: String(Math.round(st.panY)),
    });
    boxesBtn.setAttribute('aria-pressed', String(st.boxes));
    canvas.setAttribute('aria-valuenow', String(seq));
    playBtn.textContent = st.playing ? '❚❚' : '▶';
    playBtn.setAttribute('aria-label', st.playing ? 'Pause (Space)' : 'Play (Space)');
    playBtn.title = playBtn.getAttribute('aria-label');
    speed.value = String(st.fps);
    speedOut.textContent = `${st.fps} fps`;
    reducedBtn.setAttribute('aria-pressed', String(st.reduced));
    zoomBtn.setAttribute('aria-pressed', String(st.zoom > 1));
    dirBtn.textContent = st.dir > 0 ? '⇄ Forward' : '⇄ Backward';
    layoutBtns.forEach((b, i) => b.setAttribute('aria-pressed', String([1, 2, 4][i] === st.layout)));
  }

  let lastStripSeq = null, lastStripPlaying = false, followedSeq = null;
  function renderStripCurrent() {
    const seq = cur();
    if (lastStripSeq === seq && lastStripPlaying === st.playing) return;
    // Moved, and paused, onto a flagged frame of another page (N, Y, the
    // timeline): that page is shown. (Turning the page itself moves nothing.)
    if (!st.playing && followedSeq !== seq) {
      followedSeq = seq;
      const p = stripPageOf(seq);
      if (p >= 0 && p !== st.stripPage) { st.stripPage = p; renderStrip(); }
    }
    lastStripSeq = seq;
    lastStripPlaying = st.playing;
    const shown = new Set(shownSeqs());
    for (const b of strip.children) {
      const on = shown.has(Number(b.dataset.seq));
      b.classList.toggle('current', on);
      if (on && b.dataset.seq === String(seq) && !st.playing) {
        const left = b.offsetLeft - strip.clientWidth / 2 + b.clientWidth / 2;
        strip.scrollLeft = Math.max(0, left);
      }
    }
  }

  function render() {
    renderFrames();
    renderInfo();
    renderStatus();
    drawMarker();
    renderStripCurrent();
    prefetch();
  }

  // ---- timeline ----------------------------------------------------------------
  const base = document.createElement('canvas');
  function timelineGeom() {
    const w = canvas.clientWidth || 800, hgt = canvas.clientHeight || 56;
    const dpr = window.devicePixelRatio || 1;
    return { w, h: hgt, dpr };
  }
  function drawTimeline() {
    if (destroyed) return;
    const { w, h: ht, dpr } = timelineGeom();
    base.width = canvas.width = Math.round(w * dpr);
    base.height = canvas.height = Math.round(ht * dpr);
    const g = base.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#111';
    g.fillRect(0, 0, w, ht);
    const band = Math.round(ht * 0.55);
    if (count > 0) {
      // Colour band: each pixel column is the mean colour of its stretch.
      for (let x = 0; x < w; x++) {
        const a = Math.floor((x * count) / w), b = Math.max(a + 1, Math.floor(((x + 1) * count) / w));
        let r = 0, gg = 0, bb = 0, n = 0;
        for (let s = a; s < b && s < count; s++) {
          const c = rgb[s];
          if (c === undefined || c < 0) continue;
          r += (c >> 16) & 255; gg += (c >> 8) & 255; bb += c & 255; n++;
        }
        g.fillStyle = n ? `rgb(${Math.round(r / n)},${Math.round(gg / n)},${Math.round(bb / n)})` : '#222';
        g.fillRect(x, 0, 1, band);
      }
      const X = (s) => ((s + 0.5) * w) / count;
      // Findings: amber ranges under the band.
      g.fillStyle = 'rgba(255, 193, 7, 0.85)';
      for (const f of panel.findings) {
        const a = (f.seq_from * w) / count, b = (((f.seq_to ?? f.seq_from) + 1) * w) / count;
        g.fillRect(a, band + 2, Math.max(2, b - a), 5);
      }
      // Flags under the findings: bleeding as red ticks in the upper row,
      // polyps as violet ticks with a dot in the lower row, so the two
      // never hide each other.
      const row = (ht - band - 9) / 2;
      g.fillStyle = COLOURS.bleeding;
      for (const s of flagged) g.fillRect(Math.floor(X(s)), band + 9, 1.5, row);
      g.fillStyle = COLOURS.polyp;
      for (const s of polypFlagged) {
        const x = Math.floor(X(s));
        g.fillRect(x, band + 9 + row, 1.5, row);
        g.beginPath();
        g.arc(x + 0.75, band + 9 + row + row / 2, 2.5, 0, 2 * Math.PI);
        g.fill();
      }
      canvas.dataset.polypTicks = polypFlagged.map((s) => Math.floor(X(s))).join(',');
      canvas.dataset.tickRow = String(Math.round(band + 9 + row + row / 2));
      // Landmarks: labelled lines.
      g.font = '10px system-ui, sans-serif';
      g.textBaseline = 'top';
      for (const [kind] of LANDMARKS) {
        const m = panel.marks.landmarks && panel.marks.landmarks[kind];
        if (!m) continue;
        const x = X(m.seq);
        g.fillStyle = '#7fd0ff';
        g.fillRect(x - 1, 0, 2, ht);
        g.fillStyle = '#0b1a26';
        g.fillRect(x + 1, 1, 11, 12);
        g.fillStyle = '#7fd0ff';
        g.fillText(LANDMARK_SHORT[kind], x + 3, 2);
      }
    }
    drawMarker();
  }
  function drawMarker() {
    if (!base.width) return;
    const { w, h: ht, dpr } = timelineGeom();
    const g = canvas.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(base, 0, 0);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!count) return;
    const a = (cur() * w) / count, b = ((cur() + Math.max(1, shownSeqs().length)) * w) / count;
    if (panel.rangeStart !== null) {
      const r = (panel.rangeStart * w) / count;
      g.fillStyle = 'rgba(255,255,255,0.18)';
      g.fillRect(Math.min(r, a), 0, Math.abs(a - r) + 1, ht);
    }
    g.fillStyle = '#fff';
    g.fillRect(a - 1, 0, Math.max(2, b - a), ht);
    g.beginPath();
    g.moveTo(a - 5, 0); g.lineTo(a + 5, 0); g.lineTo(a, 6); g.closePath();
    g.fill();
  }
  canvas.addEventListener('click', (ev) => {
    const r = canvas.getBoundingClientRect();
    const seq = Math.min(count - 1, Math.max(0, Math.floor(((ev.clientX - r.left) / r.width) * count)));
    seekSeq(seq, { nearest: true });
  });
  const ro = new ResizeObserver(() => { drawTimeline(); layers.forEach((l) => l.fit()); });
  ro.observe(canvas);
  ro.observe(stage);

  // ---- thumbnails of flagged frames, filtered by finding, paged -------------
  // A page holds MAX_THUMBS thumbnails; no flagged frame is out of reach:
  // the pager walks the pages, the page follows a seek to a flagged frame
  // off it, and a notice counts the bleeding and polyp frames not on the
  // page and says how to reach them.
  const FILTER_LISTS = { all: anyFlagged, bleeding: flagged, polyp: polypFlagged };
  const FILTER_TITLES = { all: 'Bleeding and polyp frames', bleeding: 'Bleeding frames', polyp: 'Polyp frames' };
  const stripPageCount = () => Math.max(1, Math.ceil(FILTER_LISTS[st.stripFilter].length / MAX_THUMBS));
  // The page of the strip's list that holds seq, or -1.
  function stripPageOf(seq) {
    const list = FILTER_LISTS[st.stripFilter];
    const i = posOf(list, seq);
    return list[i] === seq ? Math.floor(i / MAX_THUMBS) : -1;
  }
  function renderStrip() {
    const list = FILTER_LISTS[st.stripFilter];
    const pages = stripPageCount();
    st.stripPage = Math.min(Math.max(0, st.stripPage), pages - 1);
    const a = st.stripPage * MAX_THUMBS, b = Math.min(list.length, a + MAX_THUMBS);
    const page = list.slice(a, b);
    const what = FILTER_TITLES[st.stripFilter];
    polypMissNote.hidden = st.stripFilter === 'bleeding';
    stripTitle.textContent = `${what} (${list.length}${pages > 1 ? `: ${a + 1}–${b} shown, frames ${list[a]}–${list[b - 1]}` : ''})`;
    stripPages.hidden = pages < 2;
    stripPrev.disabled = st.stripPage === 0;
    stripNext.disabled = st.stripPage >= pages - 1;
    stripNext.textContent = `Next ${Math.min(MAX_THUMBS, Math.max(0, list.length - b)) || MAX_THUMBS} ›`;
    stripPageOut.textContent = `page ${st.stripPage + 1} of ${pages}`;
    root.dataset.stripPage = String(st.stripPage);
    // What the page leaves out, by kind, and how to reach it.
    const off = list.length - page.length;
    if (off > 0) {
      const before = list.slice(0, a), after = list.slice(b);
      const count = (bit) => before.filter((s) => flags[s] & bit).length + after.filter((s) => flags[s] & bit).length;
      const nb = st.stripFilter === 'polyp' ? 0 : count(FRAME_FLAG.bleeding);
      const np = st.stripFilter === 'bleeding' ? 0 : count(FRAME_FLAG.polyp);
      const kinds = [nb ? `${nb} bleeding` : '', np ? `${np} polyp` : ''].filter(Boolean).join(' and ');
      const where = [before.length ? `${before.length} before frame ${list[a]} (‹ Previous)` : '',
        after.length ? `${after.length} after frame ${list[b - 1]} (Next ›)` : ''].filter(Boolean).join(', ');
      const keys = [nb ? 'N / P (bleeding)' : '', np ? 'Y / Shift+Y (polyp)' : ''].filter(Boolean).join(' and ');
      stripHidden.textContent = `Not on this page: ${kinds} frame${nb + np === 1 ? '' : 's'}, ${where}. ` +
        `Reach them with the page buttons${st.stripFilter === 'all' ? ', the Bleeding or Polyp filter' : ''}, ${keys}, or the timeline.`;
      stripHidden.dataset.bleeding = String(nb);
      stripHidden.dataset.polyp = String(np);
      stripHidden.hidden = false;
    } else {
      stripHidden.textContent = '';
      stripHidden.dataset.bleeding = '0';
      stripHidden.dataset.polyp = '0';
      stripHidden.hidden = true;
    }
    clear(strip);
    for (const s of page) {
      const bl = !!(flags[s] & FRAME_FLAG.bleeding), po = !!(flags[s] & FRAME_FLAG.polyp);
      const tip = [bl ? `bleeding p ${((pcol[s] || 0) / 1000).toFixed(2)}` : '', po ? `polyp p ${((ppcol[s] || 0) / 1000).toFixed(2)}` : ''].filter(Boolean).join(', ');
      const el = h(`button.thumb${bl ? '.thumb-bleeding' : ''}${po ? '.thumb-polyp' : ''}`, { type: 'button', dataset: { seq: s, bleeding: String(bl), polyp: String(po) }, testid: `thumb-${s}`, title: `Frame ${s}: ${tip}` },
        h('img', { src: source.thumbUrl(s), alt: `Flagged frame ${s}`, loading: 'lazy', width: 96, height: 96 }),
        h('span', String(s)),
        h('span.thumb-kinds', `${bl ? 'B' : ''}${po ? 'P' : ''}`));
      el.addEventListener('click', () => seekSeq(s));
      strip.appendChild(el);
    }
    if (!list.length) strip.appendChild(h('p.muted.small', { testid: 'strip-empty' }, st.stripFilter === 'all' ? 'No bleeding or polyp frames.' : `No frames flagged as ${st.stripFilter}.`));
    filterBtns.forEach((el) => el.setAttribute('aria-pressed', String(el.dataset.filter === st.stripFilter)));
    lastStripSeq = null;
  }
  function setStripFilter(f) {
    st.stripFilter = f;
    // Open the new list at the page holding the current frame, if it is on it.
    const p = stripPageOf(cur());
    st.stripPage = p >= 0 ? p : 0;
    renderStrip();
    render();
  }
  function setStripPage(p) {
    st.stripPage = p;
    renderStrip();
    render();
  }
  renderStrip();

  // ---- actions ---------------------------------------------------------------
  function setPos(p) {
    st.pos = Math.min(Math.max(0, p), Math.max(0, st.order.length - 1));
    st.holding = false;
    render();
  }
  function seekSeq(seq, { nearest = false } = {}) {
    if (st.reduced && (flags[seq] & FRAME_FLAG.redundant) && !nearest) {
      setReduced(false);
      toast('Switched to the full study to show that frame (R for the reduced view)');
    }
    setPos(posOf(st.order, seq));
  }
  function step(d) {
    if (st.playing) pause();
    setPos(st.pos + d * st.layout);
  }
  function setFps(f) {
    st.fps = Math.min(40, Math.max(1, f | 0));
    render();
  }
  function faster(d) {
    const i = SPEEDS.findIndex((s) => s >= st.fps);
    let j = (i < 0 ? SPEEDS.length - 1 : (SPEEDS[i] === st.fps ? i + d : (d > 0 ? i : i - 1)));
    j = Math.min(SPEEDS.length - 1, Math.max(0, j));
    setFps(SPEEDS[j]);
  }
  function setLayout(n) {
    st.layout = n;
    stage.className = `stage layout-${n}${st.zoom > 1 ? ' zoomed' : ''}${st.boxes ? '' : ' no-boxes'}`;
    render();
  }
  function setDir(d) { st.dir = d; render(); }
  function setReduced(on) {
    const seq = cur();
    st.reduced = on;
    st.order = on ? reducedOrder : fullOrder;
    st.pos = posOf(st.order, seq);
    lastStripSeq = null;
  }
  function toggleReduced() {
    setReduced(!st.reduced);
    toast(st.reduced ? `Reduced view: ${reducedOrder.length} of ${count} frames` : 'Full study');
    render();
  }
  function setZoom(z) {
    st.zoom = Math.min(4, Math.max(1, Math.round(z * 4) / 4));
    stage.style.setProperty('--zoom', String(st.zoom));
    stage.classList.toggle('zoomed', st.zoom > 1);
    setPan(st.panX, st.panY); // back to the centre at 1x; kept inside the frame
  }
  stage.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    setZoom(st.zoom * (ev.deltaY < 0 ? 1.25 : 0.8));
  }, { passive: false });

  // Pan while zoomed: drag the frames (or Shift+arrows). The offset moves
  // the image and its boxes alike (app.css: --pan-x, --pan-y) and stops
  // where the frame's edge meets the slot's, so every part of the frame,
  // and every box on it, can be brought into view.
  function setPan(x, y) {
    const slot = slots.find((el) => !el.hidden) || slots[0];
    const mx = ((st.zoom - 1) * slot.clientWidth) / 2, my = ((st.zoom - 1) * slot.clientHeight) / 2;
    st.panX = Math.min(mx, Math.max(-mx, x));
    st.panY = Math.min(my, Math.max(-my, y));
    stage.style.setProperty('--pan-x', `${st.panX}px`);
    stage.style.setProperty('--pan-y', `${st.panY}px`);
    renderStatus();
  }
  let drag = null, dragged = false;
  stage.addEventListener('pointerdown', (ev) => {
    if (st.zoom <= 1 || ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, px: st.panX, py: st.panY, id: ev.pointerId, moved: false };
  });
  stage.addEventListener('pointermove', (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved) {
      if (Math.hypot(dx, dy) < 5) return; // a click, not a drag (yet)
      drag.moved = true;
      stage.setPointerCapture(drag.id);
      stage.classList.add('panning');
    }
    setPan(drag.px + dx, drag.py + dy);
  });
  const endDrag = () => {
    if (drag && drag.moved) {
      stage.classList.remove('panning');
      dragged = true; // the click that ends a drag adds no finding
      setTimeout(() => { dragged = false; }, 0);
    }
    drag = null;
  };
  stage.addEventListener('pointerup', endDrag);
  stage.addEventListener('pointercancel', endDrag);
  stage.addEventListener('click', (ev) => { if (dragged) { ev.stopPropagation(); ev.preventDefault(); } }, true);

  // Next/previous frame flagged for `kind` (bleeding: N/P; polyp: Y).
  function jumpFlag(d, kind = 'bleeding') {
    if (st.playing) pause();
    const seq = cur();
    const list = kind === 'polyp' ? polypFlagged : flagged;
    const inView = st.order === fullOrder ? list : list.filter((s) => !(flags[s] & FRAME_FLAG.redundant));
    const next = d > 0 ? inView.find((s) => s > seq) : [...inView].reverse().find((s) => s < seq);
    const what = kind === 'polyp' ? 'polyp' : 'bleeding';
    if (next === undefined) {
      const anyHidden = d > 0 ? list.some((s) => s > seq) : list.some((s) => s < seq);
      toast(anyHidden ? `No more ${what} frames in the reduced view: press R for the full study` : `No ${d > 0 ? 'later' : 'earlier'} ${what} frame`);
      return;
    }
    seekSeq(next);
  }

  function toggleBoxes() {
    st.boxes = !st.boxes;
    stage.classList.toggle('no-boxes', !st.boxes);
    toast(st.boxes ? 'Boxes shown (B hides them)' : 'Boxes hidden (B shows them)');
    renderStatus();
  }

  // A click on a polyp box: a polyp finding at that frame, sized from the
  // box. The note says where the size came from but not the number, which
  // lives in the finding's size alone (an edit of the size then leaves no
  // second, stale number behind). A frame that already has a polyp finding
  // asks first: one polyp clicked twice must not count as two (three or
  // more polyps change the recommendation).
  function addPolypFromBox(seq, b, w, hh) {
    if (st.playing) pause();
    const mm = estimatePolypSizeMm(b, w, hh);
    const have = panel.findings.filter((f) => f.type === 'polyp' && f.seq_from <= seq && seq <= (f.seq_to ?? f.seq_from));
    if (have.length && !confirm(`Frame ${seq} already has ${have.length === 1 ? 'a polyp finding' : `${have.length} polyp findings`}. ` +
      'Add another polyp finding from this box? (Each polyp finding counts toward the number of polyps.)')) return;
    panel.addPrefilled({
      seq, type: 'polyp', size: mm,
      note: `Size first estimated from the detector's box (${b[2]}×${b[3]} px of a ${w}×${hh} frame). ${SIZE_CAVEAT}`,
      sizeNote: `Box estimate ${sizeRangeText(mm)}. ${SIZE_CAVEAT}`,
    });
  }

  function play() {
    if (st.playing || !count) return;
    if ((st.dir > 0 && st.pos + st.layout >= st.order.length) || (st.dir < 0 && st.pos === 0)) {
      st.pos = st.dir > 0 ? 0 : Math.max(0, st.order.length - st.layout); // restart from the end
    }
    st.playing = true;
    st.holding = false;
    st.nextDue = performance.now() + 1000 * st.layout / st.fps;
    render();
    st.raf = requestAnimationFrame(tick);
  }
  function pause() {
    st.playing = false;
    cancelAnimationFrame(st.raf);
    render();
  }
  function togglePlay() { if (st.playing) pause(); else play(); }

  // One playback tick: when the next frames are due, show them if decoded;
  // if not, hold the current ones (one stall counted per held tick) and try
  // again at the next animation frame.
  function tick(now) {
    if (!st.playing || destroyed) return;
    st.raf = requestAnimationFrame(tick);
    if (now < st.nextDue) return;
    const interval = 1000 * st.layout / st.fps;
    const np = st.pos + st.dir * st.layout;
    if (np < 0 || np >= st.order.length) { pause(); return; }
    const next = st.order.slice(np, np + st.layout);
    if (!next.every((s) => { ensure(s); return isReady(s); })) {
      if (!st.holding) { st.holding = true; st.stalls++; renderStatus(); }
      return;
    }
    const held = st.holding;
    st.holding = false;
    st.pos = np;
    st.nextDue = held || now - st.nextDue > interval ? now + interval : st.nextDue + interval;
    render();
  }

  function toggleHelp() {
    if (help.open) help.close(); else help.showModal();
  }

  // ---- keyboard --------------------------------------------------------------
  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) && t.type !== 'range') return;
    if (help.open && ev.key !== '?') return;
    if (document.querySelector('dialog[open]:not(#help)')) return;
    const k = shortcutKey(ev);
    const map = {
      ' ': () => togglePlay(),
      ArrowLeft: () => step(-1), ArrowRight: () => step(1),
      ArrowUp: () => faster(1), ArrowDown: () => faster(-1),
      Home: () => { if (st.playing) pause(); setPos(0); },
      End: () => { if (st.playing) pause(); setPos(st.order.length - st.layout); },
      1: () => setLayout(1), 2: () => setLayout(2), 4: () => setLayout(4),
      r: () => toggleReduced(), n: () => jumpFlag(1), p: () => jumpFlag(-1),
      y: () => jumpFlag(ev.shiftKey ? -1 : 1, 'polyp'), b: () => toggleBoxes(),
      z: () => setZoom(st.zoom > 1 ? 1 : 2), d: () => setDir(-st.dir),
      '[': () => { panel.markStart(cur()); drawMarker(); },
      ']': () => { panel.markEnd(cur()); drawMarker(); },
      f: () => { if (st.playing) pause(); panel.focusAdd(cur()); },
      '?': () => toggleHelp(),
    };
    // Shift+arrows pan the zoomed frames by a tenth of a slot.
    const PAN = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (ev.shiftKey && PAN[k] && st.zoom > 1 && !(t && t.type === 'range')) {
      ev.preventDefault();
      const slot = slots[0];
      setPan(st.panX + PAN[k][0] * slot.clientWidth / 10, st.panY + PAN[k][1] * slot.clientHeight / 10);
      return;
    }
    const fn = map[k.length === 1 ? k.toLowerCase() : k];
    if (!fn) return;
    if (t && t.type === 'range' && k.startsWith('Arrow')) return; // the slider's own keys
    ev.preventDefault();
    fn();
  }
  // The shortcuts are letters of a Latin layout. A Cyrillic or Greek layout
  // sends its own letter for the same key ('к' for R): then the key's place
  // (ev.code) names the shortcut, as on a US keyboard. Latin layouts keep
  // ev.key, so an AZERTY 'z' is still Z.
  function shortcutKey(ev) {
    const k = ev.key;
    if (typeof k !== 'string' || k.length !== 1 || k.charCodeAt(0) < 0x80) return k;
    const c = ev.code || '';
    if (/^Key[A-Z]$/.test(c)) return c.slice(3).toLowerCase();
    if (/^Digit[0-9]$/.test(c)) return c.slice(5);
    return { BracketLeft: '[', BracketRight: ']' }[c] || k;
  }
  function onKeyUp(ev) {
    // A focused button would take Space's keyup as a click: play/pause only once.
    const t = ev.target;
    if (ev.key === ' ' && t && t.tagName === 'BUTTON') ev.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  document.addEventListener('keyup', onKeyUp);

  // ---- start -----------------------------------------------------------------
  await panel.load();
  const arrivals = followArrivals ? openArrivals() : null;
  setLayout(1);
  drawTimeline();
  render();
  if (tr && Number.isInteger(tr.seq)) seekSeq(tr.seq, { nearest: true });
  // Reading time on a clinical study (docs/workstation.md): active seconds
  // per view, sent every 30 s and when the viewer closes.
  const clock = !tr && can(['reader', 'consultant']) ? readingClock(0, () => (st.reduced ? 'reduced' : 'full')) : null;
  const flushReading = () => {
    if (!clock) return;
    for (const [view, seconds] of Object.entries(clock.take()))
      if (seconds > 0) post(studyPath(studyId, '/reading-time'), { view, seconds }).catch(() => {});
  };
  const readingTimer = clock ? setInterval(flushReading, 30000) : null;
  if (tr) tr.onReadOnlyChange = () => { st.signed = tr.submitted(); panel.applyReadOnly?.(); };

  return () => {
    if (arrivals) arrivals.close();
    if (clock) { clearInterval(readingTimer); flushReading(); clock.stop(); }
    destroyed = true;
    cancelAnimationFrame(st.raf);
    ro.disconnect();
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('keyup', onKeyUp);
    document.body.classList.remove('dark');
    for (const e of cache.values()) if (e.img && e.state === 'loading') e.img.src = '';
    cache.clear();
    if (help.open) help.close();
  };
}
