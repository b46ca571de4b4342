// The login page: user name and password; 401 and 429 explained.
import { api } from './api.js';
import { h } from './util.js';
import { afterLogin } from './app.js';

export function mountLogin(main) {
  const err = h('p.error#login-error', { role: 'alert', testid: 'login-error', hidden: true });
  const user = h('input#login-user', { name: 'user', autocomplete: 'username', required: true, autofocus: true, testid: 'login-user' });
  const pass = h('input#login-password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const submit = h('button.btn.btn-primary#login-submit', { type: 'submit', testid: 'login-submit' }, 'Log in');
  const form = h('form.card.login-card#login-form', { testid: 'login-form', novalidate: true },
    h('h1', 'capscreen workstation'),
    h('p.muted', 'Capsule endoscopy reading. Log in with your account.'),
    h('label', { for: 'login-user' }, 'User name'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    err, submit);
  let timer = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!user.value || !pass.value) {
      err.textContent = 'Enter your user name and password';
      err.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const s = await api('session', { method: 'POST', body: { user: user.value, password: pass.value }, allow401: true });
      afterLogin(s);
    } catch (e) {
      pass.value = '';
      if (e.status === 401) {
        err.textContent = 'Wrong user name or password';
      } else if (e.status === 429) {
        let left = e.retryAfter !== undefined ? Math.ceil(e.retryAfter) : null;
        const show = () => {
          err.textContent = left !== null ? `Too many attempts, try again in ${left} s` : 'Too many attempts, try again later';
        };
        show();
        clearInterval(timer);
        if (left !== null) timer = setInterval(() => { left = Math.max(0, left - 1); show(); if (!left) clearInterval(timer); }, 1000);
      } else {
        err.textContent = `Cannot log in: ${e.message}`;
      }
      err.hidden = false;
      pass.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.appendChild(h('section.page.login-page', form));
  user.focus();
  return () => clearInterval(timer);
}
