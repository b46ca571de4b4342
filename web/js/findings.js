// The viewer's side panel: findings (list, add for a frame or a range, edit
// with optimistic concurrency, delete, history), landmarks and cleansing
// grades. The viewer owns playback; this panel asks it for the current
// frame (getSeq) and to seek, and tells it when findings or marks change
// (onChange) so the timeline can draw them.
import { get, post, put, del, studyPath } from './api.js';
import { h, clear, fmtTime, label, frameRange, toast, errorText, FINDING_TYPES, LANDMARKS, SEGMENTS, GRADES, FINDING_SEGMENTS, MORPHOLOGIES } from './util.js';
import { SIZE_CAVEAT } from './boxes.js';

// The structured fields of a finding (docs/clinical-record.md): where it
// lies, and for polyps the Paris class and count; any finding may be
// marked suspected cancer, which alerts the care team at once.
function structureControls(id, f = {}) {
  const segment = h('select', { id: `${id}-segment`, testid: 'finding-segment' },
    h('option', { value: '' }, 'Not recorded'),
    FINDING_SEGMENTS.map(([v, t]) => h('option', { value: v, selected: v === f.segment }, t)));
  const morphology = h('select', { id: `${id}-morphology`, testid: 'finding-morphology' },
    h('option', { value: '' }, 'Not recorded'),
    MORPHOLOGIES.map(([v, t]) => h('option', { value: v, selected: v === f.morphology }, t)));
  const count = h('input', { id: `${id}-count`, type: 'number', min: 1, max: 99, step: 1, value: String(f.count || 1), testid: 'finding-count' });
  const cancer = h('input', { id: `${id}-cancer`, type: 'checkbox', checked: !!f.suspected_cancer, testid: 'finding-cancer' });
  const polypOnly = h('div.row2',
    h('div', h('label', { for: `${id}-morphology` }, 'Paris class'), morphology),
    h('div', h('label', { for: `${id}-count` }, 'Count'), count));
  const rows = [
    h('div', h('label', { for: `${id}-segment` }, 'Segment'), segment),
    polypOnly,
    h('div.check', cancer, h('label', { for: `${id}-cancer` }, 'Suspected cancer (alerts the care team now)')),
  ];
  function sync(type) {
    polypOnly.hidden = type !== 'polyp';
  }
  return {
    rows, sync,
    values: (type) => ({
      segment: segment.value,
      morphology: type === 'polyp' ? morphology.value : '',
      count: type === 'polyp' ? parseInt(count.value || '1', 10) : 1,
      suspected_cancer: cancer.checked,
    }),
    reset() { segment.value = ''; morphology.value = ''; count.value = '1'; cancer.checked = false; },
  };
}

export function createFindingsPanel({ study, getSeq, seek, onChange, readOnly, readOnlyReason }) {
  let findings = [];
  let marks = { landmarks: {}, cleansing: {} };
  let rangeStart = null;

  // ---- add form ------------------------------------------------------------
  const from = h('input#f-from', { type: 'number', min: 0, step: 1, testid: 'finding-from', inputmode: 'numeric' });
  const to = h('input#f-to', { type: 'number', min: 0, step: 1, testid: 'finding-to', inputmode: 'numeric' });
  const type = h('select#f-type', { testid: 'finding-type' }, FINDING_TYPES.map((t) => h('option', { value: t }, label(t))));
  const size = h('input#f-size', { type: 'number', min: 0, max: 200, step: 0.5, testid: 'finding-size', placeholder: 'mm' });
  const note = h('textarea#f-note', { rows: 2, maxlength: 2000, testid: 'finding-note', placeholder: 'Optional note' });
  const addMsg = h('p.error', { role: 'alert', hidden: true, testid: 'finding-add-error' });
  // Shown beside the size while it holds an estimate from a detector box.
  const sizeNote = h('p.size-note.small#f-size-note', { testid: 'finding-size-note', hidden: true });
  let boxSized = false; // the form's size came from a box (addPrefilled)
  size.addEventListener('input', () => { sizeNote.hidden = true; boxSized = false; });
  const rangeHint = h('p.muted.small#f-range-hint', { testid: 'finding-range-hint' },
    'Press [ at the first and ] at the last frame of a range.');
  const addStructure = structureControls('f');
  type.addEventListener('change', () => addStructure.sync(type.value));
  addStructure.sync(type.value);
  const addBtn = h('button.btn.btn-primary#f-add', { type: 'submit', testid: 'finding-add' }, 'Add finding');
  const hereBtn = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: 'finding-here' }, 'Current frame');
  hereBtn.addEventListener('click', () => { const s = getSeq(); from.value = s; to.value = s; rangeStart = null; updateRangeHint(); });
  const addForm = h('form.finding-form#finding-form', { testid: 'finding-form', 'aria-label': 'Add a finding' },
    h('div.row2',
      h('div', h('label', { for: 'f-from' }, 'From frame'), from),
      h('div', h('label', { for: 'f-to' }, 'To frame'), to)),
    rangeHint,
    h('div.row2',
      h('div', h('label', { for: 'f-type' }, 'Type'), type),
      h('div', h('label', { for: 'f-size' }, 'Size (mm)'), size)),
    sizeNote,
    addStructure.rows,
    h('label', { for: 'f-note' }, 'Note'), note,
    addMsg,
    h('div.buttons', addBtn, hereBtn));
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    addMsg.hidden = true;
    const body = findingBody(from.value, to.value, type.value, size.value, note.value);
    if (typeof body === 'string') { addMsg.textContent = body; addMsg.hidden = false; return; }
    Object.assign(body, addStructure.values(type.value));
    addBtn.disabled = true;
    try {
      const f = await post(studyPath(study, '/findings'), body);
      toast(`Finding added: ${label(f.type)}, ${frameRange(f)}`);
      note.value = ''; size.value = '';
      addStructure.reset();
      // A size estimated from a box keeps its caveat in view after the add.
      if (boxSized) sizeNote.textContent = `Added at frame ${f.seq_from}: ${sizeNote.textContent}`;
      sizeNote.hidden = !boxSized;
      boxSized = false;
      rangeStart = null;
      updateRangeHint();
      await loadFindings();
    } catch (e) {
      addMsg.textContent = errorText(e);
      addMsg.hidden = false;
    } finally {
      addBtn.disabled = false;
    }
  });

  function findingBody(fv, tv, tp, sv, nv) {
    const a = parseInt(fv, 10);
    const b = tv === '' ? a : parseInt(tv, 10);
    if (!Number.isInteger(a) || a < 0) return 'Give the first frame of the finding';
    if (!Number.isInteger(b) || b < a) return 'The last frame must not come before the first';
    const body = { seq_from: a, seq_to: b, type: tp, note: nv || '' };
    if (sv !== '') {
      const s = Number(sv);
      if (!isFinite(s) || s < 0 || s > 200) return 'Size must be between 0 and 200 mm';
      body.size_mm = s;
    } else {
      body.size_mm = null;
    }
    return body;
  }

  function updateRangeHint() {
    rangeHint.textContent = rangeStart !== null
      ? `Range started at frame ${rangeStart}: press ] at its last frame.`
      : 'Press [ at the first and ] at the last frame of a range.';
    rangeHint.classList.toggle('active', rangeStart !== null);
  }

  // ---- list ----------------------------------------------------------------
  const list = h('ul.findings-list#findings-list', { testid: 'findings-list', 'aria-live': 'polite' });
  const listMsg = h('p.muted.small', { testid: 'findings-empty' }, 'No findings yet.');

  function renderList() {
    clear(list);
    listMsg.hidden = findings.length > 0;
    const sorted = [...findings].sort((a, b) => a.seq_from - b.seq_from || a.id - b.id);
    for (const f of sorted) list.appendChild(item(f));
  }

  function item(f) {
    const li = h('li.finding', { testid: `finding-${f.id}`, dataset: { id: f.id, seqFrom: f.seq_from, seqTo: f.seq_to ?? f.seq_from } });
    const go = h('button.finding-go', { type: 'button', testid: 'finding-go', title: 'Show in the viewer' },
      h(`span.type.type-${f.type}`, label(f.type)), ' ', h('span.frames', frameRange(f)),
      f.size_mm !== null && f.size_mm !== undefined
        ? h('span.size', { title: SIZE_CAVEAT }, ` · ${f.size_mm} mm`, h('span.size-caveat', { testid: 'finding-size-caveat' }, ' (capsule sizes run 3–4 mm large)'))
        : null);
    go.addEventListener('click', () => seek(f.seq_from));
    const meta = h('div.meta.small.muted', `${f.updated_by || f.created_by || ''} · ${fmtTime(f.updated_at_ms || f.created_at_ms)} · v${f.version}`);
    const structure = [f.segment && label(f.segment), f.type === 'polyp' && f.morphology,
      f.type === 'polyp' && f.count > 1 && `${f.count} polyps`].filter(Boolean).join(' · ');
    const noteEl = h('div', f.suspected_cancer ? h('span.badge.badge-urgent', { testid: 'finding-urgent' }, 'Suspected cancer') : null,
      structure ? h('div.small', { testid: 'finding-structure' }, structure) : null,
      f.note ? h('div.note', f.note) : null);
    const msg = h('p.error.small', { role: 'alert', hidden: true, testid: 'finding-error' });
    const actions = h('div.buttons.small-buttons');
    if (!readOnly()) {
      const edit = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: 'finding-edit' }, 'Edit');
      edit.addEventListener('click', () => li.replaceWith(editor(f)));
      const rm = h('button.btn.btn-small.btn-danger', { type: 'button', testid: 'finding-delete' }, 'Delete');
      rm.addEventListener('click', async () => {
        if (!confirm(`Delete this finding (${label(f.type)}, ${frameRange(f)})? Its history is kept.`)) return;
        try {
          await del(studyPath(study, `/findings/${f.id}`));
          toast('Finding deleted');
          await loadFindings();
        } catch (e) { msg.textContent = errorText(e); msg.hidden = false; }
      });
      actions.append(edit, rm);
    }
    const hist = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: 'finding-history' }, 'History');
    const histBox = h('div.history', { hidden: true, testid: 'finding-history-list' });
    hist.addEventListener('click', async () => {
      if (!histBox.hidden) { histBox.hidden = true; return; }
      try {
        const r = await get(studyPath(study, `/findings/${f.id}/history`));
        clear(histBox).appendChild(h('ol.small', (r.history || []).map((v) =>
          h('li', `v${v.version} · ${fmtTime(v.updated_at_ms || v.created_at_ms)} · ${v.updated_by || v.created_by}: `,
            `${label(v.type)}, ${frameRange(v)}`, v.size_mm !== null && v.size_mm !== undefined ? `, ${v.size_mm} mm` : '',
            v.note ? `, “${v.note}”` : '', v.deleted ? ' (deleted)' : ''))));
        histBox.hidden = false;
      } catch (e) { msg.textContent = errorText(e); msg.hidden = false; }
    });
    actions.appendChild(hist);
    li.append(go, noteEl, meta, actions, msg, histBox);
    return li;
  }

  function editor(f) {
    const id = `fe-${f.id}`;
    const ef = h('input', { id: `${id}-from`, type: 'number', min: 0, value: String(f.seq_from) });
    const et = h('input', { id: `${id}-to`, type: 'number', min: 0, value: String(f.seq_to ?? f.seq_from) });
    const ety = h('select', { id: `${id}-type` }, FINDING_TYPES.map((t) => h('option', { value: t, selected: t === f.type }, label(t))));
    const es = h('input', { id: `${id}-size`, type: 'number', min: 0, max: 200, step: 0.5, value: f.size_mm ?? '' });
    const en = h('textarea', { id: `${id}-note`, rows: 2, maxlength: 2000, value: f.note || '' });
    const msg = h('div.error.small', { role: 'alert', hidden: true, testid: 'finding-edit-error' });
    const est = structureControls(id, f);
    ety.addEventListener('change', () => est.sync(ety.value));
    est.sync(f.type);
    const save = h('button.btn.btn-small.btn-primary', { type: 'submit', testid: 'finding-save' }, 'Save');
    const cancel = h('button.btn.btn-small.btn-quiet', { type: 'button' }, 'Cancel');
    const form = h('form.finding.finding-editor', { testid: `finding-editor-${f.id}` },
      h('div.row2', h('div', h('label', { for: `${id}-from` }, 'From'), ef), h('div', h('label', { for: `${id}-to` }, 'To'), et)),
      h('div.row2', h('div', h('label', { for: `${id}-type` }, 'Type'), ety), h('div', h('label', { for: `${id}-size` }, 'Size (mm)'), es)),
      est.rows, h('label', { for: `${id}-note` }, 'Note'), en, msg, h('div.buttons', save, cancel));
    cancel.addEventListener('click', () => form.replaceWith(item(f)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = findingBody(ef.value, et.value, ety.value, es.value, en.value);
      if (typeof body === 'string') { msg.textContent = body; msg.hidden = false; return; }
      Object.assign(body, est.values(ety.value));
      body.version = f.version;
      try {
        await put(studyPath(study, `/findings/${f.id}`), body);
        toast('Finding saved');
        await loadFindings();
      } catch (e) {
        clear(msg).append(errorText(e));
        if (e.status === 409 && e.code === 'version_conflict') {
          msg.classList.add('conflict');
          const reload = h('button.btn.btn-small', { type: 'button', testid: 'finding-reload' }, 'Reload findings');
          reload.addEventListener('click', () => loadFindings());
          msg.append(' ', reload);
        }
        msg.hidden = false;
      }
    });
    return form;
  }

  // ---- landmarks and cleansing --------------------------------------------
  const lmBox = h('div.landmarks#landmarks', { testid: 'landmarks' });
  const clBox = h('div.cleansing#cleansing', { testid: 'cleansing' });

  function renderMarks() {
    clear(lmBox);
    for (const [kind, title] of LANDMARKS) {
      const m = marks.landmarks && marks.landmarks[kind];
      const set = h('button.btn.btn-small', { type: 'button', testid: `landmark-set-${kind}`, disabled: readOnly(), title: `Set ${title.toLowerCase()} at the current frame`, 'aria-label': `Set ${title.toLowerCase()} at the current frame` }, 'Set');
      set.addEventListener('click', async () => {
        const seq = getSeq();
        try {
          await put(studyPath(study, `/landmarks/${kind}`), { seq });
          toast(`${title} set at frame ${seq}`);
          await loadMarks();
        } catch (e) { toast(errorText(e), 'error'); }
      });
      const value = m
        ? h('button.linklike', { type: 'button', testid: `landmark-${kind}`, title: `${m.by || ''} ${fmtTime(m.at_ms)}` }, `frame ${m.seq}`)
        : h('span.muted', { testid: `landmark-${kind}` }, 'not set');
      if (m) value.addEventListener('click', () => seek(m.seq));
      const row = h('div.lm-row', h('span.lm-title', title), value, set);
      if (m && !readOnly()) {
        const clr = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: `landmark-clear-${kind}`, 'aria-label': `Clear ${title}` }, '×');
        clr.addEventListener('click', async () => {
          try { await del(studyPath(study, `/landmarks/${kind}`)); await loadMarks(); } catch (e) { toast(errorText(e), 'error'); }
        });
        row.appendChild(clr);
      }
      lmBox.appendChild(row);
    }
    clear(clBox);
    for (const [seg, title] of SEGMENTS) {
      const cur = marks.cleansing && marks.cleansing[seg];
      const sel = h('select', { id: `cl-${seg}`, testid: `cleansing-${seg}`, disabled: readOnly() },
        h('option', { value: '' }, '—'),
        GRADES.map((g) => h('option', { value: g, selected: cur && cur.grade === g }, g)));
      sel.addEventListener('change', async () => {
        if (!sel.value) return;
        try {
          await put(studyPath(study, `/cleansing/${seg}`), { grade: sel.value });
          toast(`${title}: ${sel.value}`);
          await loadMarks();
        } catch (e) { toast(errorText(e), 'error'); await loadMarks(); }
      });
      clBox.appendChild(h('div.cl-row', h('label', { for: `cl-${seg}` }, title), sel));
    }
  }

  async function loadFindings() {
    const r = await get(studyPath(study, '/findings'));
    findings = (r.findings || []).filter((f) => !f.deleted);
    renderList();
    onChange();
  }
  async function loadMarks() {
    const r = await get(studyPath(study, '/marks'));
    marks = { landmarks: r.landmarks || {}, cleansing: r.cleansing || {} };
    renderMarks();
    onChange();
  }

  const roNote = h('p.notice.small', { testid: 'findings-readonly', hidden: true });
  const el = h('div.side-panel#findings-panel', { testid: 'findings-panel' },
    roNote,
    h('section', h('h2', 'Findings'), list, listMsg),
    h('section#add-finding-section', h('h3', 'Add a finding ', h('kbd', 'F')), addForm),
    h('section', h('h2', 'Landmarks'), lmBox),
    h('section', h('h2', 'Cleansing'), clBox));

  function applyReadOnly() {
    const ro = readOnly();
    roNote.hidden = !ro;
    roNote.textContent = ro ? readOnlyReason() : '';
    for (const c of addForm.elements) c.disabled = ro;
    renderList();
    renderMarks();
  }

  return {
    el,
    get findings() { return findings; },
    get marks() { return marks; },
    get rangeStart() { return rangeStart; },
    async load() { await Promise.all([loadFindings(), loadMarks()]); applyReadOnly(); },
    applyReadOnly,
    markStart(seq) {
      rangeStart = seq;
      from.value = seq;
      to.value = seq;
      updateRangeHint();
      toast(`Range start: frame ${seq}`);
    },
    markEnd(seq) {
      const a = rangeStart !== null ? rangeStart : (from.value === '' ? seq : parseInt(from.value, 10));
      from.value = Math.min(a, seq);
      to.value = Math.max(a, seq);
      rangeStart = null;
      updateRangeHint();
      toast(`Range: frames ${from.value}–${to.value}`);
      type.focus();
    },
    // Fill the add form (a click on a polyp box: the frame, the type, the
    // estimated size and why) and submit it; the reader can edit or delete
    // the finding like any other. Read-only: only says why not.
    addPrefilled({ seq, type: tp, size: sz, note: nt, sizeNote: sn }) {
      if (readOnly()) { toast(readOnlyReason(), 'error'); return; }
      from.value = seq;
      to.value = seq;
      type.value = tp;
      addStructure.sync(tp);
      size.value = sz === null || sz === undefined ? '' : String(sz);
      note.value = nt || '';
      rangeStart = null;
      updateRangeHint();
      sizeNote.textContent = sn || '';
      sizeNote.hidden = !sn;
      boxSized = !!sn;
      addForm.scrollIntoView({ block: 'nearest' });
      addForm.requestSubmit();
    },
    focusAdd(seq) {
      if (rangeStart === null && (from.value === '' || to.value === '' || from.value === to.value)) {
        from.value = seq;
        to.value = seq;
      }
      addForm.scrollIntoView({ block: 'nearest' });
      type.focus();
    },
  };
}
