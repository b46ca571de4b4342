// Users (#/admin, admins only): list, add, change role, disable/enable,
// set a new password.
import { get, post, put } from './api.js';
import { h, clear, fmtTime, toast, errorText, ROLES } from './util.js';
import { session } from './app.js';


export async function mountAdmin(main) {
  const tbody = h('tbody#users-body');
  const table = h('table.table#users', { testid: 'users' },
    h('thead', h('tr', ['User', 'Role', 'Created', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody);
  const name = h('input#u-name', { required: true, autocomplete: 'off', testid: 'user-name', pattern: '[a-z0-9._\-]{1,63}', title: '1-63 characters: a-z 0-9 . _ -' });
  const role = h('select#u-role', { testid: 'user-role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'reader' }, r)));
  const pw = h('input#u-password', { type: 'password', required: true, minlength: 10, autocomplete: 'new-password', testid: 'user-password' });
  const msg = h('p.error', { role: 'alert', hidden: true, testid: 'user-error' });
  const form = h('form.card.inline-form#user-form', { testid: 'user-form' },
    h('h2', 'Add a user'),
    h('div.row3',
      h('div', h('label', { for: 'u-name' }, 'User name'), name),
      h('div', h('label', { for: 'u-role' }, 'Role'), role),
      h('div', h('label', { for: 'u-password' }, 'Password (at least 10 characters)'), pw)),
    msg, h('div.buttons', h('button.btn.btn-primary', { type: 'submit', testid: 'user-add' }, 'Add user')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.hidden = true;
    if (pw.value.length < 10) { msg.textContent = 'The password needs at least 10 characters'; msg.hidden = false; return; }
    try {
      await post('users', { name: name.value.trim(), role: role.value, password: pw.value });
      toast(`User ${name.value.trim()} added`);
      form.reset();
      await load();
    } catch (e) {
      msg.textContent = e.code === 'user_exists' ? 'A user of that name exists already' : errorText(e);
      msg.hidden = false;
    }
  });

  main.appendChild(h('section.page#admin', { testid: 'admin-page' }, h('h1', 'Users'), table, form));

  async function update(u, body, what) {
    try {
      await put(`users/${encodeURIComponent(u.name)}`, body);
      toast(`${u.name}: ${what}`);
    } catch (e) {
      toast(errorText(e), 'error');
    }
    await load();
  }

  function row(u) {
    const sel = h('select', { 'aria-label': `Role of ${u.name}`, testid: `role-${u.name}` },
      ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)));
    sel.addEventListener('change', () => update(u, { role: sel.value }, `role ${sel.value}`));
    const me = u.name === session.user;
    const toggle = h('button.btn.btn-small', { type: 'button', testid: `toggle-${u.name}`, disabled: me && !u.disabled, title: me ? 'You cannot disable yourself' : '' },
      u.disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', () => update(u, { disabled: !u.disabled }, u.disabled ? 'enabled' : 'disabled'));
    const pwBtn = h('button.btn.btn-small.btn-quiet', { type: 'button', testid: `password-${u.name}` }, 'New password…');
    pwBtn.addEventListener('click', () => {
      const p = prompt(`New password for ${u.name} (at least 10 characters)`);
      if (p === null) return;
      if (p.length < 10) { toast('The password needs at least 10 characters', 'error'); return; }
      update(u, { password: p }, 'password changed');
    });
    return h('tr', { testid: `user-row-${u.name}`, class: u.disabled ? 'disabled' : '' },
      h('td', u.name, me ? h('span.muted', ' (you)') : null), h('td', sel),
      h('td', fmtTime(typeof u.created_at === 'number' && u.created_at < 1e11 ? u.created_at * 1000 : u.created_at)),
      h('td', u.disabled ? h('span.state.state-disabled', 'disabled') : h('span.state.state-ready', 'active')),
      h('td.actions', toggle, pwBtn));
  }

  async function load() {
    const r = await get('users');
    clear(tbody);
    (r.users || []).sort((a, b) => a.name.localeCompare(b.name)).forEach((u) => tbody.appendChild(row(u)));
  }
  await load();
}
