// The patient's companion page (docs/care.md, "The companion page"). The
// patient's code (typed, or in the link as #code=...) is the only
// credential: it is sent as "Authorization: Bearer CODE" and kept in this
// tab's sessionStorage, never in a cookie or the server's logs. The page
// asks for news every second; nothing personal is shown.

const POLL_MS = 1000;
const KEY = 'cs-patient-code';
const $ = (id) => document.getElementById(id);
const DAYS = { day_before: 'The day before', day_of: 'On the day' };

let code = null;
let timer = null;

async function call(method, path, body) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${code}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api/v1/${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = new Error((data && data.reason) || `HTTP ${res.status}`);
    e.status = res.status;
    throw e;
  }
  return data;
}

function showEnter(message) {
  clearTimeout(timer);
  $('page').hidden = true;
  $('enter').hidden = false;
  $('code-error').textContent = message || '';
  $('code').focus();
}

function renderPrep(steps) {
  const list = $('prep');
  const have = new Map([...list.children].map((li) => [li.dataset.id, li]));
  for (const s of steps) {
    let li = have.get(s.id);
    if (!li) {
      li = document.createElement('li');
      li.dataset.id = s.id;
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.dataset.testid = `prep-${s.id}`;
      box.addEventListener('change', () => tick(s.id, box));
      const text = document.createElement('span');
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = `${DAYS[s.day] || s.day}, ${s.time}`;
      text.append(when, s.text);
      label.append(box, text);
      li.append(label);
      list.append(li);
    }
    const box = li.querySelector('input');
    if (document.activeElement !== box) box.checked = s.done_at_ms !== null;
  }
}

async function tick(id, box) {
  box.disabled = true;
  try {
    await call('PUT', `patient/prep/${encodeURIComponent(id)}`, { done: box.checked });
  } catch (e) {
    box.checked = !box.checked;
    $('status').textContent = `We could not save that. Please try again. (${e.message})`;
  } finally {
    box.disabled = false;
  }
}

function render(d) {
  // The server sends the first name at most (docs/clinical-record.md).
  document.querySelector('h1').textContent = d.first_name ? `${d.first_name}, your capsule test` : 'Your capsule test';
  const st = $('status');
  st.textContent = d.recording.message;
  st.className = ['working', 'complete'].includes(d.recording.state) ? '' : 'problem';
  st.dataset.state = d.recording.state;
  $('now').hidden = !d.next_step;
  $('now-text').textContent = d.next_step ? `Time for your booster drink. ${d.next_step}` : '';
  renderPrep(d.prep);
  if (d.call_requested_at_ms) $('call-done').textContent = 'Thank you. We will phone you soon.';
}

async function refresh() {
  try {
    render(await call('GET', 'patient'));
    timer = setTimeout(refresh, POLL_MS);
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      sessionStorage.removeItem(KEY);
      showEnter(e.status === 401 && /expired/.test(e.message)
        ? 'This code has ended because your test is over. Thank you.'
        : 'That code did not work. Check it and try again.');
    } else {
      $('status').textContent = 'We cannot reach the hospital just now. We will keep trying.';
      timer = setTimeout(refresh, POLL_MS * 3);
    }
  }
}

function open(c) {
  code = c.trim();
  sessionStorage.setItem(KEY, code);
  $('enter').hidden = true;
  $('page').hidden = false;
  refresh();
}

$('code-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = $('code').value;
  if (!c.trim()) { showEnter('Please type your code.'); return; }
  open(c);
});

$('call').addEventListener('click', async () => {
  $('call').disabled = true;
  try {
    const r = await call('POST', 'patient/call');
    $('call-done').textContent = r.message;
  } catch (e) {
    $('call-done').textContent = 'We could not send that. Please phone the number on your leaflet.';
  } finally {
    $('call').disabled = false;
  }
});

const fromLink = new URLSearchParams(location.hash.slice(1)).get('code');
if (fromLink) history.replaceState(null, '', location.pathname); // keep the code out of history
const saved = fromLink || sessionStorage.getItem(KEY);
if (saved) open(saved); else showEnter('');
