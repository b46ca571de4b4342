// Entry point: the session, the header bar and the hash router.
//   #/login  #/worklist  #/monitor  #/study/ID  #/study/ID/report  #/admin  #/audit
//   #/training  #/training/case/ID[/SEQ]  #/training/attempt/N (docs/training.md)
import { api, setCsrfToken, setUnauthorisedHandler } from './api.js';
import { h, clear, toast, loadVocabulary, ROLES } from './util.js';
import { mountLogin } from './login.js';
import { mountWorklist } from './worklist.js';
import { mountViewer } from './viewer.js';
import { mountReport } from './report.js';
import { mountAdmin } from './admin.js';
import { mountAudit } from './audit.js';
import { mountMonitor } from './monitor.js';
import { mountTraining, mountTrainingCase, mountTrainingAttempt } from './training.js';

const ALL = ROLES; // every role (filled from the server's vocabulary)
const IMAGES = ['admin', 'reader', 'consultant'];
// The clinical pages: never the training roles, who see no patient.
const CLINICAL = ['admin', 'reader', 'consultant', 'coordinator'];
const TRAINING = ['admin', 'trainer', 'trainee'];
const TRAINING_ONLY = ['trainer', 'trainee'];

const ROUTES = [
  { re: /^\/login$/, page: 'login', mount: mountLogin, roles: null },
  { re: /^\/worklist$/, page: 'worklist', mount: mountWorklist, roles: CLINICAL, nav: 'Worklist' },
  { re: /^\/monitor$/, page: 'monitor', mount: mountMonitor, roles: CLINICAL, nav: 'Live' },
  { re: /^\/training$/, page: 'training', mount: mountTraining, roles: TRAINING, nav: 'Training' },
  { re: /^\/training\/case\/([^/]+)(?:\/(\d+))?$/, page: 'viewer', mount: mountTrainingCase, roles: TRAINING },
  { re: /^\/training\/attempt\/(\d+)$/, page: 'feedback', mount: mountTrainingAttempt, roles: TRAINING },
  { re: /^\/study\/([^/]+)$/, page: 'viewer', mount: mountViewer, roles: IMAGES },
  { re: /^\/study\/([^/]+)\/report$/, page: 'report', mount: mountReport, roles: IMAGES },
  { re: /^\/admin$/, page: 'admin', mount: mountAdmin, roles: ['admin'], nav: 'Users' },
  { re: /^\/audit$/, page: 'audit', mount: mountAudit, roles: ['admin'], nav: 'Audit log' },
];

export const session = { user: null, role: null, csrf: null };
let cleanup = null;
let routing = 0;

export function setSession(s) {
  session.user = s ? s.user : null;
  session.role = s ? s.role : null;
  session.csrf = s ? s.csrf_token : null;
  setCsrfToken(session.csrf);
  renderHeader();
}

export function can(roles) {
  return !!session.role && roles.includes(session.role);
}

function renderHeader() {
  const bar = document.getElementById('topbar');
  bar.hidden = !session.user;
  document.getElementById('who-name').textContent = session.user || '';
  document.getElementById('who-role').textContent = session.role || '';
  const nav = clear(document.getElementById('nav'));
  const current = location.hash.replace(/^#/, '');
  for (const r of ROUTES) {
    if (!r.nav || !session.role || !r.roles.includes(session.role)) continue;
    const path = r.re.source.replace(/^\^\\?/, '').replace(/\$$/, '').replace(/\\\//g, '/');
    nav.appendChild(h('a', {
      href: `#${path}`, testid: `nav-${r.page}`,
      'aria-current': current === path ? 'page' : false,
    }, r.nav));
  }
}

function goLogin() {
  const here = location.hash.replace(/^#/, '');
  if (here && !here.startsWith('/login')) sessionStorage.setItem('cs-after-login', here);
  setSession(null);
  if (location.hash !== '#/login') location.hash = '#/login';
  else route();
}

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = `#${path}`;
}

/** Where a role starts: the worklist, or training for the training roles. */
export function home() {
  return TRAINING_ONLY.includes(session.role) ? '/training' : '/worklist';
}

export function afterLogin(s) {
  setSession(s);
  const next = sessionStorage.getItem('cs-after-login');
  sessionStorage.removeItem('cs-after-login');
  navigate(next && next !== '/login' ? next : home());
}

async function route() {
  const my = ++routing;
  if (cleanup) {
    try { cleanup(); } catch (e) { console.error(e); }
    cleanup = null;
  }
  const path = location.hash.replace(/^#/, '') || home();
  const main = clear(document.getElementById('main'));
  let found = null, params = [];
  for (const r of ROUTES) {
    const m = path.match(r.re);
    if (m) { found = r; params = m.slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x))); break; }
  }
  document.body.dataset.page = found ? found.page : 'unknown';
  renderHeader();
  if (!found) {
    main.appendChild(h('section.page.narrow', h('h1', 'Page not found'),
      h('p', h('a', { href: '#/worklist' }, 'Back to the worklist'))));
    return;
  }
  if (found.roles && !session.user) {
    goLogin();
    return;
  }
  if (found.page === 'login' && session.user) {
    navigate(home());
    return;
  }
  if (found.roles && !found.roles.includes(session.role)) {
    document.body.dataset.page = 'not-allowed';
    main.appendChild(h('section.page.narrow.not-allowed', { testid: 'not-allowed', role: 'alert' },
      h('h1', 'Not allowed'),
      h('p', `Your role (${session.role}) may not open this page.`),
      h('p', h('a', { href: `#${home()}` }, 'Back to your start page'))));
    return;
  }
  try {
    const c = await found.mount(main, ...params);
    if (my !== routing) { if (typeof c === 'function') c(); return; }
    cleanup = typeof c === 'function' ? c : null;
  } catch (e) {
    if (e && e.status === 401) return;
    console.error(e);
    main.appendChild(h('p.error', { role: 'alert', testid: 'page-error' }, `Error: ${e.message || e}`));
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api('session', { method: 'DELETE', allow401: true }); } catch (e) { /* gone anyway */ }
  sessionStorage.removeItem('cs-after-login');
  setSession(null);
  toast('Logged out');
  navigate('/login');
});

setUnauthorisedHandler(() => {
  if (session.user) toast('Your session has ended: please log in again', 'warn');
  goLogin();
});

window.addEventListener('hashchange', route);

(async function start() {
  try {
    await loadVocabulary();
  } catch (e) {
    toast(`Cannot load the server's word lists: ${e.message}`, 'error');
  }
  try {
    const s = await api('session', { allow401: true });
    setSession(s);
  } catch (e) {
    setSession(null);
  }
  route();
})();
