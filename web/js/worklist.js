// The worklist: every study with its workflow state and live upload /
// analysis progress (polled every 2 s), sortable and filterable; a row opens
// the viewer (not for coordinators, who may not see images). Admins and
// coordinators assign a reader.
import { get, post, studyPath } from './api.js';
import { h, clear, fmtTime, fmtNhs, label, toast, errorText } from './util.js';
import { session, can, navigate } from './app.js';

const STATES = ['enrolled', 'receiving', 'analysing', 'ready', 'read', 'signed'];
const REFRESH_MS = 2000;

function progressOf(s) {
  const p = s.progress || {};
  const rec = p.frames_received ?? 0, an = p.frames_analysed ?? 0;
  return { rec, an, frac: rec > 0 ? Math.min(1, an / rec) : 0 };
}

function cleansingText(s) {
  const c = s.cleansing;
  if (!c) return '';
  if (typeof c === 'string') return label(c);
  const grades = Object.entries(c).map(([seg, v]) => `${label(seg)}: ${typeof v === 'object' ? v.grade : v}`);
  return grades.join(', ');
}


function patientText(s) {
  const p = s.patient;
  return p ? `${p.family.toUpperCase()}, ${p.given}` : '';
}

// Active reading time (docs/workstation.md, "Reading time").
function readingText(s) {
  const t = s.reading_time && s.reading_time.total_s;
  if (!t) return '—';
  return t >= 90 ? `${Math.round(t / 60)} min` : `${Math.round(t)} s`;
}
function readingTitle(s) {
  const by = (s.reading_time && s.reading_time.by_reader) || [];
  return by.map((r) => `${r.reader} (${r.view}): ${Math.round(r.seconds)} s`).join('; ');
}

const COLUMNS = [
  { key: 'urgent', title: 'Urgent', value: (s) => (s.urgent ? 1 : 0) },
  { key: 'patient', title: 'Patient', value: (s) => patientText(s).toLowerCase() },
  { key: 'label', title: 'Label', value: (s) => (s.label || '').toLowerCase() },
  { key: 'study', title: 'Study', value: (s) => s.study },
  { key: 'workflow_state', title: 'State', value: (s) => STATES.indexOf(s.workflow_state || s.state) },
  { key: 'progress', title: 'Frames analysed / received', value: (s) => progressOf(s).an },
  { key: 'bleeding', title: 'Bleeding flags', value: (s) => (s.counts && s.counts.bleeding) || 0 },
  { key: 'polyp', title: 'Polyp flags', value: (s) => (s.counts && s.counts.polyp) || 0 },
  { key: 'cleansing', title: 'Cleansing', value: (s) => cleansingText(s) },
  { key: 'assigned_reader', title: 'Reader', value: (s) => s.assigned_reader || '' },
  { key: 'report_state', title: 'Report', value: (s) => s.report_state || '' },
  { key: 'reading', title: 'Reading time', value: (s) => (s.reading_time && s.reading_time.total_s) || 0 },
  { key: 'created_at', title: 'Created', value: (s) => s.created_at || 0 },
];

export async function mountWorklist(main) {
  const mayView = can(['admin', 'reader', 'consultant']);
  const mayAssign = can(['admin', 'coordinator']);
  let studies = [];
  let sort = JSON.parse(sessionStorage.getItem('cs-wl-sort') || 'null') || { key: 'created_at', dir: -1 };
  let timer = null, stopped = false, inFlight = null, lastJson = null;

  const stateSel = h('select#wl-state', { testid: 'wl-state', 'aria-label': 'Filter by state' },
    h('option', { value: '' }, 'All states'), STATES.map((s) => h('option', { value: s }, s)));
  const text = h('input#wl-text', { type: 'search', placeholder: 'Patient, NHS number, label, id or reader', testid: 'wl-text', 'aria-label': 'Filter text' });
  const updated = h('span.muted#wl-updated', { testid: 'wl-updated' });
  const thead = h('thead');
  const tbody = h('tbody#wl-body');
  const empty = h('p.muted#wl-empty', { hidden: true, testid: 'wl-empty' }, 'No studies match.');
  const table = h('table.table.worklist#worklist', { testid: 'worklist' }, thead, tbody);

  let readers = [];
  const datalist = h('datalist#wl-readers');
  if (session.role === 'admin') {
    get('users').then((r) => {
      readers = (r.users || []).filter((u) => !u.disabled && (u.role === 'reader' || u.role === 'consultant'));
      readers.forEach((u) => datalist.appendChild(h('option', { value: u.name }, `${u.name} (${u.role})`)));
    }).catch(() => {});
  }

  main.appendChild(h('section.page.wide',
    h('div.page-head', h('h1', 'Worklist'), updated),
    h('div.toolbar', h('label', { for: 'wl-state' }, 'State'), stateSel, h('label', { for: 'wl-text' }, 'Search'), text),
    table, empty, datalist));

  function renderHead() {
    clear(thead);
    const tr = h('tr');
    for (const c of COLUMNS) {
      const active = sort.key === c.key;
      const btn = h('button.sort', { type: 'button', testid: `sort-${c.key}` }, c.title,
        h('span.sort-ind', { 'aria-hidden': 'true' }, active ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''));
      btn.addEventListener('click', () => {
        sort = { key: c.key, dir: active ? -sort.dir : 1 };
        sessionStorage.setItem('cs-wl-sort', JSON.stringify(sort));
        render();
      });
      tr.appendChild(h('th', { scope: 'col', 'aria-sort': active ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none' }, btn));
    }
    tr.appendChild(h('th', { scope: 'col' }, h('span.sr-only', 'Actions')));
    thead.appendChild(tr);
  }

  function visible() {
    const st = stateSel.value, q = text.value.trim().toLowerCase();
    const col = COLUMNS.find((c) => c.key === sort.key) || COLUMNS[0];
    return studies
      .filter((s) => !st || (s.workflow_state || s.state) === st)
      .filter((s) => !q || [s.label, s.study, s.assigned_reader, patientText(s), s.patient && s.patient.nhs_number]
        .some((v) => v && String(v).toLowerCase().includes(q.replace(/^(\d[\d ]*)$/, (m) => m.replace(/ /g, '')))))
      .sort((a, b) => {
        const va = col.value(a), vb = col.value(b);
        return (va < vb ? -1 : va > vb ? 1 : 0) * sort.dir;
      });
  }

  function row(s) {
    const { rec, an, frac } = progressOf(s);
    const bar = h('div.bar-fill');
    bar.style.width = `${(frac * 100).toFixed(1)}%`;
    const ws = s.workflow_state || s.state || '';
    const actions = h('td.actions');
    if (mayView) {
      actions.appendChild(h('a.btn.btn-small', { href: `#/study/${encodeURIComponent(s.study)}`, testid: `open-${s.study}`, 'aria-label': `Open study ${s.label || s.study}` }, 'Open'));
      actions.appendChild(h('a.btn.btn-small.btn-quiet', { href: `#/study/${encodeURIComponent(s.study)}/report`, testid: `report-${s.study}` }, 'Report'));
    }
    if (mayAssign) {
      const b = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: `assign-${s.study}` }, 'Assign…');
      b.addEventListener('click', (ev) => { ev.stopPropagation(); assign(s); });
      actions.appendChild(b);
    }
    const p = s.patient;
    const tr = h('tr', { testid: `study-row-${s.study}`, dataset: { study: s.study, state: ws }, class: mayView ? 'clickable' : '' },
      h('td', { testid: 'wl-urgent' }, s.urgent
        ? h('span.badge.badge-urgent', { title: 'A finding is marked suspected cancer' }, 'Urgent')
        : h('span.sr-only', 'not urgent')),
      h('td', { testid: 'wl-patient' }, p
        ? [h('span.patient-name', patientText(s)), h('br'), h('span.mono.muted', `NHS ${fmtNhs(p.nhs_number)} · born ${p.birth_date}`)]
        : h('span.muted', '—')),
      h('td.label-cell', s.label || h('span.muted', '(no label)')),
      h('td.mono', s.study),
      h('td', h(`span.state.state-${ws}`, { testid: 'wl-state-cell' }, ws)),
      h('td.progress-cell', h('div.bar', { role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': rec, 'aria-valuenow': an, 'aria-label': 'Frames analysed' }, bar),
        h('span.num', { testid: 'wl-progress' }, `${an} / ${rec}`)),
      h('td.num', { testid: 'wl-bleeding' }, String((s.counts && s.counts.bleeding) || 0)),
      h('td.num', { testid: 'wl-polyp' }, String((s.counts && s.counts.polyp) || 0)),
      h('td', cleansingText(s)),
      h('td', s.assigned_reader || h('span.muted', '—')),
      h('td', s.report_state ? h(`span.state.state-${s.report_state}`, s.report_state) : h('span.muted', '—')),
      h('td.num', { testid: 'wl-reading', title: readingTitle(s) }, readingText(s)),
      h('td', fmtTime(s.created_at > 1e11 ? s.created_at : s.created_at * 1000)),
      actions);
    if (mayView) {
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a,button')) return;
        navigate(`/study/${encodeURIComponent(s.study)}`);
      });
    }
    return tr;
  }

  function render() {
    // Keep the keyboard focus on the same control across a re-render.
    const focused = document.activeElement && table.contains(document.activeElement)
      ? document.activeElement.dataset.testid : null;
    renderHead();
    clear(tbody);
    const rows = visible();
    rows.forEach((s) => tbody.appendChild(row(s)));
    empty.hidden = rows.length > 0;
    if (focused) table.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
  }

  async function refresh() {
    if (stopped) return;
    try {
      inFlight = new AbortController();
      const r = await get('worklist', { signal: inFlight.signal });
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      const json = JSON.stringify(r.studies || []);
      if (json !== lastJson) {  // re-render only on change: keeps focus and hover
        lastJson = json;
        studies = r.studies || [];
        render();
      }
    } catch (e) {
      if (e.name === 'AbortError' || e.status === 401) return;
      updated.textContent = `Update failed: ${e.message}`;
    } finally {
      inFlight = null;
      if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function assign(s) {
    const input = h('input#assign-reader', { list: 'wl-readers', value: s.assigned_reader || '', testid: 'assign-reader', autocomplete: 'off' });
    const msg = h('p.error', { role: 'alert', hidden: true });
    const dlg = h('dialog.card#assign-dialog', { testid: 'assign-dialog', 'aria-labelledby': 'assign-title' },
      h('form', { method: 'dialog' },
        h('h2#assign-title', `Assign a reader: ${s.label || s.study}`),
        h('label', { for: 'assign-reader' }, 'Reader (user name; empty to unassign)'), input, msg,
        h('div.buttons',
          h('button.btn.btn-primary', { type: 'submit', value: 'ok', testid: 'assign-ok' }, 'Assign'),
          h('button.btn.btn-quiet', { type: 'submit', value: 'cancel' }, 'Cancel'))));
    dlg.querySelector('form').addEventListener('submit', async (ev) => {
      if (ev.submitter && ev.submitter.value === 'cancel') return;
      ev.preventDefault();
      try {
        await post(studyPath(s.study, '/assign'), { reader: input.value.trim() });
        toast(input.value.trim() ? `Assigned ${input.value.trim()}` : 'Unassigned');
        dlg.close();
        clearTimeout(timer);
        refresh();
      } catch (e) {
        msg.textContent = errorText(e);
        msg.hidden = false;
      }
    });
    dlg.addEventListener('close', () => dlg.remove());
    document.body.appendChild(dlg);
    dlg.showModal();
    input.focus();
  }

  stateSel.addEventListener('change', render);
  text.addEventListener('input', render);
  renderHead();
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (inFlight) inFlight.abort();
  };
}
