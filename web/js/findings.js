// The viewer's side panel: findings (list, add for a frame or a range, edit
// with optimistic concurrency, delete, history), landmarks and cleansing
// grades. The viewer owns playback; this panel asks it for the current
// frame (getSeq) and to seek, and tells it when findings or marks change
// (onChange) so the timeline can draw them. Records come from a source
// (source.js): a clinical study's routes, or a training attempt's answer.
import { h, clear, fmtTime, label, frameRange, toast, errorText, FINDING_TYPES, LANDMARKS, SEGMENTS, GRADES, FINDING_SEGMENTS, MORPHOLOGIES } from './util.js';
import { SIZE_CAVEAT, SIZE_CAVEAT_SHORT } from './boxes.js';

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
    // The fields as they stand, to tell the reader's input from defaults.
    raw: () => ({ segment: segment.value, morphology: morphology.value, count: count.value, cancer: cancer.checked }),
  };
}

export function createFindingsPanel({ source, getSeq, seek, onChange, readOnly, readOnlyReason }) {
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
  const clearBtn = h('button.btn.btn-small.btn-quiet#f-clear', { type: 'button', testid: 'finding-clear' }, 'Clear');
  clearBtn.addEventListener('click', () => { resetAddForm(); addMsg.hidden = true; });
  const addForm = h('form.finding-form#finding-form', { testid: 'finding-form', 'aria-label': 'Add a finding' },
    h('div.row2',
      h('div', h('label', { for: 'f-from' }, 'From frame'), from),
      h('div', h('label', { for: 'f-to' }, 'To frame'), to)),
    rangeHint,
    h('div.row2',
      h('div', h('label', { for: 'f-type' }, 'Type'), type),
      h('div', h('label', { for: 'f-size' }, 'Size (mm)'), size)),
    h('p.size-caveat.small', { testid: 'finding-add-size-caveat' }, `Sizes: ${SIZE_CAVEAT_SHORT}.`),
    sizeNote,
    addStructure.rows,
    h('label', { for: 'f-note' }, 'Note'), note,
    addMsg,
    h('div.buttons', addBtn, hereBtn, clearBtn));

  // Every field of the add form back to its default.
  function resetAddForm() {
    from.value = ''; to.value = '';
    type.value = type.options.length ? type.options[0].value : '';
    size.value = ''; note.value = '';
    addStructure.reset();
    addStructure.sync(type.value);
    sizeNote.textContent = ''; sizeNote.hidden = true;
    boxSized = false;
    rangeStart = null;
    updateRangeHint();
    pristine = snapshot();
  }
  // The fields the reader has changed since the form was last cleared,
  // added or filled from a box (their names; empty: nothing to lose). One
  // frame (F, "Current frame") is not input worth keeping: a box brings
  // its own; a range, or half of one, is.
  const snapshot = () => ({ type: type.value, size: size.value, note: note.value, ...addStructure.raw() });
  let pristine = snapshot();
  function unsavedInput() {
    const now = snapshot(), out = [];
    if (rangeStart !== null || (from.value !== to.value)) out.push('frame range');
    const names = { type: 'type', size: 'size', note: 'note', segment: 'segment', morphology: 'Paris class', count: 'count', cancer: 'suspected cancer' };
    for (const k of Object.keys(names)) if (now[k] !== pristine[k]) out.push(names[k]);
    return out;
  }

  // One add at a time: Enter, a double click or a second requestSubmit()
  // while a POST is out must not add the finding twice (the disabled button
  // does not stop requestSubmit() nor implicit submission).
  let submitting = false;
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submitting) return;
    addMsg.hidden = true;
    const body = findingBody(from.value, to.value, type.value, size.value, note.value);
    if (typeof body === 'string') { addMsg.textContent = body; addMsg.hidden = false; return; }
    Object.assign(body, addStructure.values(type.value));
    const fromBox = boxSized, boxNote = sizeNote.textContent;
    submitting = true;
    addBtn.disabled = true;
    addForm.setAttribute('aria-busy', 'true');
    try {
      const f = await source.post('/findings', body);
      toast(`Finding added: ${label(f.type)}, ${frameRange(f)}`);
      resetAddForm();
      // A size estimated from a box keeps its caveat in view after the add.
      if (fromBox) { sizeNote.textContent = `Added at frame ${f.seq_from}: ${boxNote}`; sizeNote.hidden = false; }
      await loadFindings();
      // After a box click, focus goes to the new finding (Enter there only
      // shows its frame), not back to anything that adds.
      if (fromBox) list.querySelector(`li[data-id="${f.id}"] .finding-go`)?.focus({ preventScroll: true });
    } catch (e) {
      addMsg.textContent = errorText(e);
      addMsg.hidden = false;
    } finally {
      submitting = false;
      addBtn.disabled = false;
      addForm.setAttribute('aria-busy', 'false');
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
        ? h('span.size', { title: SIZE_CAVEAT }, ` · ${f.size_mm} mm`, h('span.size-caveat', { testid: 'finding-size-caveat' }, ` (${SIZE_CAVEAT_SHORT})`))
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
          await source.del(`/findings/${f.id}`);
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
        const r = await source.get(`/findings/${f.id}/history`);
        const sized = (v) => v.size_mm !== null && v.size_mm !== undefined;
        clear(histBox).appendChild(h('ol.small', (r.history || []).map((v) =>
          h('li', `v${v.version} · ${fmtTime(v.updated_at_ms || v.created_at_ms)} · ${v.updated_by || v.created_by}: `,
            `${label(v.type)}, ${frameRange(v)}`, sized(v) ? `, ${v.size_mm} mm*` : '',
            v.note ? `, “${v.note}”` : '', v.deleted ? ' (deleted)' : ''))));
        if ((r.history || []).some(sized)) histBox.appendChild(h('p.size-caveat.small', { testid: 'finding-history-size-caveat' }, `* ${SIZE_CAVEAT_SHORT}`));
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
      h('p.size-caveat.small', { testid: 'finding-editor-size-caveat' }, `Sizes: ${SIZE_CAVEAT_SHORT}.`),
      est.rows, h('label', { for: `${id}-note` }, 'Note'), en, msg, h('div.buttons', save, cancel));
    cancel.addEventListener('click', () => form.replaceWith(item(f)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = findingBody(ef.value, et.value, ety.value, es.value, en.value);
      if (typeof body === 'string') { msg.textContent = body; msg.hidden = false; return; }
      Object.assign(body, est.values(ety.value));
      body.version = f.version;
      try {
        await source.put(`/findings/${f.id}`, body);
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
          await source.put(`/landmarks/${kind}`, { seq });
          toast(`${title} set at frame ${seq}`);
          await loadMarks();
        } catch (e) { toast(errorText(e), 'error'); }
      });
      const value = m
        ? h('button.linklike', { type: 'button', testid: `landmark-${kind}`, title: `${m.by || ''} ${fmtTime(m.at_ms)}${m.first_at_ms && m.first_at_ms !== m.at_ms ? ` (first marked ${fmtTime(m.first_at_ms)})` : ''}` }, `frame ${m.seq}`)
        : h('span.muted', { testid: `landmark-${kind}` }, 'not set');
      if (m) value.addEventListener('click', () => seek(m.seq));
      const row = h('div.lm-row', h('span.lm-title', title), value, set);
      if (m && !readOnly()) {
        const clr = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: `landmark-clear-${kind}`, 'aria-label': `Clear ${title}` }, '×');
        clr.addEventListener('click', async () => {
          try { await source.del(`/landmarks/${kind}`); await loadMarks(); } catch (e) { toast(errorText(e), 'error'); }
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
          await source.put(`/cleansing/${seg}`, { grade: sel.value });
          toast(`${title}: ${sel.value}`);
          await loadMarks();
        } catch (e) { toast(errorText(e), 'error'); await loadMarks(); }
      });
      clBox.appendChild(h('div.cl-row', h('label', { for: `cl-${seg}` }, title), sel));
    }
  }

  async function loadFindings() {
    const r = await source.get('/findings');
    findings = (r.findings || []).filter((f) => !f.deleted);
    renderList();
    onChange();
  }
  async function loadMarks() {
    const r = await source.get('/marks');
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
    // A click on a polyp box: reset the add form to its defaults, fill in
    // the frame, the type, the estimated size and why, and submit it; the
    // reader can edit or delete the finding like any other. Nothing the
    // reader typed is lost or carried into it: while the form holds unsaved
    // input (a range, a note, a ticked "Suspected cancer", ...) the click
    // is refused with a message naming it (add that finding or press Clear,
    // then click again); so is a click while an add is under way.
    // Read-only: only says why not. Returns whether it submitted.
    addPrefilled({ seq, type: tp, size: sz, note: nt, sizeNote: sn }) {
      if (readOnly()) { toast(readOnlyReason(), 'error'); return false; }
      if (submitting) { toast('A finding is being added: wait for it, then click again', 'warn'); return false; }
      const unsaved = unsavedInput();
      if (unsaved.length) {
        const why = `The add form holds unsaved input (${unsaved.join(', ')}). Add that finding, or press Clear to discard it, then click the box again.`;
        addMsg.textContent = why;
        addMsg.hidden = false;
        addForm.dataset.refused = String(Number(addForm.dataset.refused || 0) + 1);
        addForm.scrollIntoView({ block: 'nearest' });
        toast('Nothing added: the add form holds unsaved input', 'error');
        return false;
      }
      resetAddForm();
      addMsg.hidden = true;
      from.value = seq;
      to.value = seq;
      type.value = tp;
      addStructure.sync(tp);
      size.value = sz === null || sz === undefined ? '' : String(sz);
      note.value = nt || '';
      sizeNote.textContent = sn || '';
      sizeNote.hidden = !sn;
      boxSized = !!sn;
      pristine = snapshot();
      addForm.scrollIntoView({ block: 'nearest' });
      addForm.requestSubmit();
      return true;
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
