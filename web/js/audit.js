// The audit log (#/audit, admins only): newest first, filtered by user,
// action and study, paged back with "Older" (next_before).
import { get } from './api.js';
import { h, clear, fmtTime } from './util.js';

const ACTIONS = ['session.login', 'session.login_failed', 'session.logout', 'study.open', 'frames.view',
  'finding.create', 'finding.update', 'finding.delete', 'landmark.set', 'landmark.clear', 'cleansing.set',
  'report.save', 'report.sign', 'report.export', 'study.assign', 'user.add', 'user.update', 'audit.query'];
const PAGE = 100;

export async function mountAudit(main) {
  const user = h('input#a-user', { testid: 'audit-user', autocomplete: 'off' });
  const action = h('select#a-action', { testid: 'audit-action' }, h('option', { value: '' }, 'All actions'), ACTIONS.map((a) => h('option', { value: a }, a)));
  const study = h('input#a-study', { testid: 'audit-study', autocomplete: 'off' });
  const tbody = h('tbody#audit-body');
  const more = h('button.btn#audit-older', { type: 'button', testid: 'audit-older', hidden: true }, 'Older entries');
  const msg = h('p.error', { role: 'alert', hidden: true, testid: 'audit-error' });
  const countEl = h('span.muted#audit-count', { testid: 'audit-count' });
  const form = h('form.toolbar#audit-filters', { testid: 'audit-filters' },
    h('label', { for: 'a-user' }, 'User'), user,
    h('label', { for: 'a-action' }, 'Action'), action,
    h('label', { for: 'a-study' }, 'Study'), study,
    h('button.btn.btn-primary', { type: 'submit', testid: 'audit-apply' }, 'Apply'));
  main.appendChild(h('section.page.wide#audit', { testid: 'audit-page' },
    h('div.page-head', h('h1', 'Audit log'), countEl), form, msg,
    h('table.table.audit#audit-table', { testid: 'audit-table' },
      h('thead', h('tr', ['#', 'Time', 'User', 'Role', 'Action', 'Study', 'Detail', 'Address'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody),
    more));

  // Each load is numbered: an answer that a newer load has overtaken (Apply
  // clicked twice, or a filter changed while "Older" was loading) is dropped,
  // never appended to the newer list. The table is aria-busy while a load
  // runs, and data-loads counts the loads that have finished (tests wait on it).
  const table = tbody.parentElement;
  let before = null, shown = 0, generation = 0, finished = 0;
  async function load(reset) {
    const mine = ++generation;
    msg.hidden = true;
    table.setAttribute('aria-busy', 'true');
    if (reset) { before = null; shown = 0; clear(tbody); }
    try {
      const r = await get('audit', { query: { user: user.value.trim(), action: action.value, study: study.value.trim(), before, limit: PAGE } });
      if (mine !== generation) return;
      for (const e of r.entries || []) {
        tbody.appendChild(h('tr', { testid: 'audit-row', dataset: { action: e.action, user: e.user || '', study: e.study || '' } },
          h('td.num', String(e.n)), h('td', fmtTime(e.at_ms)), h('td', e.user || ''), h('td', e.role || ''),
          h('td', h('code', e.action)), h('td.mono', e.study || ''), h('td', e.detail || ''), h('td.mono', e.ip || '')));
        shown++;
      }
      before = r.next_before ?? null;
      more.hidden = before === null;
      countEl.textContent = `${shown} entries shown${before !== null ? ' (older ones exist)' : ''}`;
    } catch (e) {
      if (mine !== generation || e.status === 401) return;
      msg.textContent = e.message;
      msg.hidden = false;
    } finally {
      if (mine === generation) {
        table.setAttribute('aria-busy', 'false');
        table.dataset.loads = String(++finished);
      }
    }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  await load(true);
}
