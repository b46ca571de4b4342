// End-to-end test of the reading workstation (web/ + the /api/v1 routes of
// docs/workstation.md) in a real Chromium driven by playwright-core.
//
// Environment: CS_URL (the server), CS_ADMIN_USER/CS_ADMIN_PASS,
// CS_READER_USER/CS_READER_PASS, CS_CONSULTANT_USER/CS_CONSULTANT_PASS,
// CS_STUDY (an analysed study, some frames flagged as bleeding), CS_SHOTS
// (folder for screenshots; optional), CHROMIUM (default /usr/bin/chromium).
// tests/e2e/run.sh sets all of them up against a fresh server.
//
// Prints "ok - ..." / "not ok - ..." lines and finally
// "e2e: N passed, M failed"; exits 1 on any failure.
import fs from 'node:fs';
import * as lib from './lib.mjs';
import { env, check, assert, eq, shot, login, launch, crashed, finish, problems } from './lib.mjs';

const { request } = lib.require('playwright-core');
const URL_ = env('CS_URL').replace(/\/$/, '');
const ADMIN = [env('CS_ADMIN_USER'), env('CS_ADMIN_PASS')];
const READER = [env('CS_READER_USER'), env('CS_READER_PASS')];
const CONS = [env('CS_CONSULTANT_USER'), env('CS_CONSULTANT_PASS')];
const STUDY = env('CS_STUDY');

// The frame flags' bits come from the server's one vocabulary.
const VOCAB = await (await fetch(`${URL_}/api/v1/vocabulary`)).json();
const flagBit = (name) => 1 << VOCAB.frame_flags.findIndex((f) => f.name === name);
const F_BLEEDING = flagBit('bleeding'), F_REDUNDANT = flagBit('redundant'), F_POLYP = flagBit('polyp');

// Expected console errors: the failed logins and the forbidden routes this
// test asks for.
const newPage = (browser, who) => lib.newPage(browser, URL_, who, { allow: /status of (401|403|404|409|429)/ });

async function csrfOf(page) {
  const r = await page.request.get('/api/v1/session');
  eq(r.status(), 200, 'GET /api/v1/session');
  return (await r.json()).csrf_token;
}

const seqOf = (page) => page.$eval('#viewer', (v) => Number(v.dataset.seq));

const browser = await launch();

try {
  // ---- reader ------------------------------------------------------------------
  const { ctx: rctx, page } = await newPage(browser, 'reader');
  let index = null;

  await check('the pages load under the CSP; a wrong password shows the error and the API answers 401', async () => {
    const res = await page.goto('/');
    eq(res.status(), 200, 'GET /');
    await page.waitForSelector('#login-form');
    await page.fill('#login-user', READER[0]);
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:visible');
    eq((await page.textContent('#login-error')).trim(), 'Wrong user name or password', 'login error text');
    const r = await page.request.post('/api/v1/session', { data: { user: READER[0], password: 'still-not-it' } });
    eq(r.status(), 401, 'POST /api/v1/session with a wrong password');
    eq((await r.json()).error, 'bad_credentials', 'error code');
  });

  await check('the reader logs in and sees the worklist with the demo study', async () => {
    await page.fill('#login-user', READER[0]);
    await page.fill('#login-password', READER[1]);
    await page.click('#login-submit');
    await page.waitForSelector(`[data-testid="study-row-${STUDY}"]`);
    eq(await page.textContent('#who-role'), 'reader', 'role in the header');
    const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
    assert(!nav.includes('Audit log') && !nav.includes('Users'), `reader sees admin links: ${nav}`);
    const prog = await page.textContent(`[data-testid="study-row-${STUDY}"] [data-testid="wl-progress"]`);
    assert(/^\s*\d+ \/ \d+\s*$/.test(prog), `progress cell: ${prog}`);
    // Sorting by a column header changes the indicator.
    await page.click('[data-testid="sort-label"]');
    await page.waitForSelector('th[aria-sort="ascending"] [data-testid="sort-label"]');
    await shot(page, 'worklist.png');
  });

  // Requests and connections the server counted, for the keep-alive check.
  const counters = async () => {
    const t = await (await fetch(`${URL_}/metrics`)).text();
    const g = (k) => Number((t.match(new RegExp(`^${k} (\\d+)`, 'm')) || [])[1]);
    return { conns: g('capscreen_connections_total'), reqs: g('capscreen_requests_total') };
  };
  const before = await counters();

  await check('opening the study shows the viewer and the first frame', async () => {
    await page.click(`[data-testid="study-row-${STUDY}"] td.label-cell`);
    await page.waitForSelector('#viewer[data-seq]');
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="frame-slot-0"] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    const src = await page.$eval('[data-testid="frame-slot-0"] img', (i) => i.getAttribute('src'));
    eq(src, `/api/v1/studies/${STUDY}/frames/0.jpg`, 'first frame URL');
    const r = await page.request.get(`/api/v1/studies/${STUDY}/frames`);
    eq(r.status(), 200, 'GET frames index');
    index = await r.json();
    eq(index.count, index.flags.length, 'index columns');
    assert(index.count > 0, 'the study has frames');
    eq(await page.$eval('#viewer', (v) => Number(v.dataset.count)), index.count, 'viewer count');
  });

  await check('play advances the frame, pause stops it; the status line counts stalls', async () => {
    const start = await seqOf(page);
    await page.keyboard.press('Space');
    await page.waitForFunction((s) => Number(document.getElementById('viewer').dataset.seq) >= s + 3, start);
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.playing === 'false');
    const st = await page.textContent('#status-line');
    assert(/paused/.test(st) && /stalls \d+/.test(st), `status line: ${st}`);
    const a = await seqOf(page);
    // Still paused one animation frame later.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    eq(await seqOf(page), a, 'frame after pause');
  });

  await check('40 fps playback with prefetch: status line shows the speed, frames keep coming', async () => {
    for (let i = 0; i < 14; i++) await page.keyboard.press('ArrowUp');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.fps === '40');
    await page.keyboard.press('Home');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => Number(document.getElementById('viewer').dataset.seq) >= 40, null, { timeout: 15000 });
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.playing === 'false');
    const st = await page.textContent('#status-line');
    assert(/40 fps/.test(st), `status line: ${st}`);
    console.log(`  # after 40 fps playback: ${st}`);
    await page.keyboard.press('Home');
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowDown');
  });

  await check('keep-alive: the viewer\'s requests share a few connections', async () => {
    const after = await counters();
    const reqs = after.reqs - before.reqs - 1, conns = after.conns - before.conns - 1;
    assert(reqs >= 20, `the viewer made ${reqs} requests`);
    assert(conns * 4 <= reqs, `${reqs} requests took ${conns} connections (keep-alive broken?)`);
  });

  await check('the reduced view skips redundant frames (checked against the frame index) and R returns to the full study', async () => {
    const redundant = index.flags.filter((f) => f & F_REDUNDANT).length;
    await page.keyboard.press('r');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.reduced === 'true');
    assert(/reduced/.test(await page.textContent('#status-line')), 'status line says reduced');
    const visible = [];
    for (let s = 0; s < index.count; s++) if (!(index.flags[s] & F_REDUNDANT)) visible.push(s);
    let skipped = 0;
    for (let i = 0; i < 6; i++) {
      const cur = await seqOf(page);
      assert(!(index.flags[cur] & F_REDUNDANT), `frame ${cur} is redundant but shown in the reduced view`);
      const next = visible.find((s) => s > cur);
      if (next === undefined) break;
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction((n) => Number(document.getElementById('viewer').dataset.seq) === n, next);
      if (next > cur + 1) skipped++;
    }
    if (redundant > 0 && visible[6] > 6) assert(skipped > 0, 'stepping skipped no redundant frame');
    console.log(`  # ${redundant} redundant frames in the index; ${skipped} skips seen in 6 steps`);
    await page.keyboard.press('r');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.reduced === 'false');
    assert(/full/.test(await page.textContent('#status-line')), 'status line says full');
    await page.keyboard.press('r');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.reduced === 'true');
  });

  await check('on a Cyrillic layout the shortcuts follow the key\'s place (the R key sends \'к\')', async () => {
    const press = (key, code) => page.evaluate(([key, code]) => document.dispatchEvent(
      new KeyboardEvent('keydown', { key, code, bubbles: true, cancelable: true })), [key, code]);
    const reduced = () => page.evaluate(() => document.getElementById('viewer').dataset.reduced);
    eq(await reduced(), 'true', 'reduced view before');
    await press('к', 'KeyR');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.reduced === 'false');
    await press('к', 'KeyR');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.reduced === 'true');
  });

  await check('N jumps to the next flagged frame; the frame info shows its flags and probability', async () => {
    const flagged = [];
    for (let s = 0; s < index.count; s++) if (index.flags[s] & F_BLEEDING) flagged.push(s);
    assert(flagged.length > 0, 'the demo study has no frame flagged as bleeding');
    const before = await seqOf(page);
    await page.keyboard.press('n');
    await page.waitForFunction((b) => Number(document.getElementById('viewer').dataset.seq) !== b, before);
    const cur = await seqOf(page);
    assert(index.flags[cur] & F_BLEEDING, `frame ${cur} is not flagged (flags ${index.flags[cur]})`);
    await page.waitForSelector('[data-testid="chip-bleeding"]');
    eq((await page.textContent('#cur-p')).trim(), (index.p[cur] / 1000).toFixed(3), 'bleeding probability');
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="frame-slot-0"] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    await page.waitForSelector(`[data-testid="thumb-${cur}"].current`);
    await shot(page, 'viewer.png');
  });

  let findingSeq = null;
  await check('F adds a finding at the current frame; it appears in the list', async () => {
    findingSeq = await seqOf(page);
    await page.keyboard.press('f');
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'f-type');
    eq(Number(await page.inputValue('#f-from')), findingSeq, 'finding from');
    await page.selectOption('#f-type', 'fresh_blood');
    await page.selectOption('#f-segment', 'small_bowel'); /* the report needs every finding's segment */
    await page.fill('#f-size', '4');
    await page.fill('#f-note', 'e2e: active bleeding');
    await page.click('#f-add');
    await page.waitForSelector('#findings-list li.finding:has-text("e2e: active bleeding")');
    const li = page.locator('#findings-list li.finding:has-text("e2e: active bleeding")');
    eq(Number(await li.getAttribute('data-seq-from')), findingSeq, 'finding frame');
  });

  // ---- polyp boxes and the add form (docs/web.md, "A polyp finding from a box") ----
  // On polyp frames of this study; every finding made here is deleted
  // again before the report is written (its mandatory fields would miss
  // their segments otherwise).
  const polypFrames = [];
  for (let s = 0; s < index.count; s++) {
    const b = index.boxes && index.boxes[String(s)];
    if ((index.flags[s] & F_POLYP) && b && b.p && b.p.length) polypFrames.push(s);
  }
  const made = [];           // ids of the findings these checks add
  const findingsNow = async () => ((await (await page.request.get(`/api/v1/studies/${STUDY}/findings`)).json()).findings || []).filter((f) => !f.deleted);
  const BOX = '[data-testid="frame-slot-0"] [data-testid="box-polyp-0"]';
  const showFrame = async (seq) => {  // through the strip's Polyp filter, as a reader would
    await page.click('[data-testid="strip-filter-polyp"]');
    await page.click(`[data-testid="thumb-${seq}"]`);
    await page.waitForFunction((s) => document.getElementById('viewer').dataset.seq === String(s), seq);
    await page.waitForSelector(`${BOX}:visible`);
  };
  const estimate = (seq) => {  // docs/web.md, "Size estimate"
    const b = index.boxes[String(seq)], box = b.p[0];
    return Math.max(0.5, Math.round((Math.max(box[2], box[3]) / Math.max(b.w, b.h)) * 30 * 2) / 2);
  };
  const CAVEAT_RE = /Capsule size estimates run 3–4 mm large\./;

  await check('N / P are labelled as bleeding jumps (Y / Shift+Y are polyp); the strip under All names both kinds', async () => {
    eq(await page.getAttribute('#next-flag', 'title'), 'Next bleeding frame (N)', 'the N button\'s title');
    eq(await page.getAttribute('#prev-flag', 'title'), 'Previous bleeding frame (P)', 'the P button\'s title');
    await page.click('[data-testid="strip-filter-all"]');
    const title = await page.textContent('[data-testid="strip-title"]');
    assert(title.startsWith('Bleeding and polyp frames ('), `strip title under All: ${title}`);
    await page.keyboard.press('End');
    await page.keyboard.press('n');
    await page.waitForFunction(() => /No later bleeding frame/.test(document.getElementById('toast').textContent));
  });

  await check('a polyp box gives the estimate and the likely true size, 3–4 mm under it', async () => {
    assert(polypFrames.length >= 2, `the demo study has ${polypFrames.length} polyp frames with boxes`);
    await showFrame(polypFrames[0]);
    const mm = estimate(polypFrames[0]);
    const lo = Math.max(1, mm - 4), hi = Math.max(1, mm - 3);
    const likely = hi <= 1 ? '1 mm or less' : `${lo}–${hi} mm`;
    const title = await page.getAttribute(BOX, 'title');
    assert(title.includes(`≈ ${mm} mm (true size likely ${likely})`), `box title: ${title}`);
    assert(!/could be/.test(title), `box title still gives the x0.5-x2 range: ${title}`);
  });

  await check('a box click refuses a half-filled add form (note, Suspected cancer): nothing added, the input kept', async () => {
    const before = await findingsNow();
    await page.fill('#f-note', 'e2e: half-typed note');
    await page.check('#f-cancer');
    await page.click(BOX);
    await page.waitForSelector('[data-testid="finding-add-error"]:visible', { timeout: 5000 });
    const msg = await page.textContent('[data-testid="finding-add-error"]');
    assert(/unsaved input/.test(msg) && /note/.test(msg) && /suspected cancer/.test(msg), `message: ${msg}`);
    await page.waitForTimeout(500);
    const after = await findingsNow();
    made.push(...after.filter((f) => !before.some((o) => o.id === f.id)).map((f) => f.id));
    eq(after.length, before.length, 'findings after the refused click');
    eq(await page.inputValue('#f-note'), 'e2e: half-typed note', 'the note typed');
    assert(await page.isChecked('#f-cancer'), 'Suspected cancer was unticked');
  });

  await check('after Clear a box click adds one polyp finding with the form\'s defaults and a note without the number; Enter then adds nothing', async () => {
    const seq = polypFrames[0], mm = estimate(seq);
    await page.click('[data-testid="finding-clear"]');
    eq(await page.inputValue('#f-note'), '', 'the note after Clear');
    assert(!(await page.isChecked('#f-cancer')), 'Suspected cancer after Clear');
    const before = await findingsNow();
    await page.click(BOX);
    await page.waitForSelector(`#findings-list li.finding[data-seq-from="${seq}"] .type-polyp`);
    const after = await findingsNow();
    const added = after.filter((f) => !before.some((o) => o.id === f.id));
    made.push(...added.map((f) => f.id));
    eq(added.length, 1, 'findings added by one click');
    const f = added[0];
    eq(`${f.type} ${f.seq_from} ${f.seq_to ?? f.seq_from} ${f.size_mm}`, `polyp ${seq} ${seq} ${mm}`, 'type, frames, size');
    eq(`${f.suspected_cancer} ${f.segment || ''}|${f.morphology || ''}|${f.count}`, 'false ||1', 'suspected cancer, segment, Paris class, count');
    assert(CAVEAT_RE.test(f.note), `the note lacks the caveat: ${f.note}`);
    assert(!f.note.replace(CAVEAT_RE, '').includes(`${mm} mm`), `the note repeats the size: ${f.note}`);
    eq(await page.inputValue('#f-note'), '', 'the form\'s note after the add');
    await page.waitForTimeout(300);
    assert(!(await page.evaluate(() => !!(document.activeElement && document.activeElement.closest('.fbox')))), 'focus stayed on the box');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(700);
    eq((await findingsNow()).length, after.length, 'findings after Enter');
  });

  await check('a double click on a polyp box adds one finding; two submits at once add one', async () => {
    const seq = polypFrames[1];
    await showFrame(seq);
    let before = await findingsNow();
    await page.dblclick(BOX);
    await page.waitForSelector(`#findings-list li.finding[data-seq-from="${seq}"] .type-polyp`);
    await page.waitForTimeout(700);
    let after = await findingsNow();
    let added = after.filter((f) => !before.some((o) => o.id === f.id));
    made.push(...added.map((f) => f.id));
    eq(added.length, 1, 'findings added by a double click');
    await page.click('[data-testid="finding-clear"]');
    await page.fill('#f-from', String(seq));
    await page.fill('#f-to', String(seq));
    await page.selectOption('#f-type', 'other');
    await page.fill('#f-note', 'e2e: submitted twice');
    before = after;
    await page.evaluate(() => { const f = document.getElementById('finding-form'); f.requestSubmit(); f.requestSubmit(); });
    await page.waitForSelector('#findings-list li.finding:has-text("e2e: submitted twice")');
    await page.waitForTimeout(700);
    after = await findingsNow();
    added = after.filter((f) => !before.some((o) => o.id === f.id));
    made.push(...added.map((f) => f.id));
    eq(added.length, 1, 'findings added by two submits at once');
  });

  await check('the finding editor and the history give the size caveat; a new size leaves no other number in the note', async () => {
    const seq = polypFrames[0];
    const li = page.locator(`#findings-list li.finding[data-seq-from="${seq}"]:has(.type-polyp)`).first();
    const id = await li.getAttribute('data-id');
    await li.locator('[data-testid="finding-edit"]').click();
    const ed = page.locator(`[data-testid="finding-editor-${id}"]`);
    assert(/3–4 mm large/.test(await ed.locator('[data-testid="finding-editor-size-caveat"]').textContent()), 'no caveat in the editor');
    await page.fill(`#fe-${id}-size`, '3');
    await ed.locator('[data-testid="finding-save"]').click();
    await page.waitForFunction((i) => { const el = document.querySelector(`#findings-list li[data-id="${i}"] .size`); return el && el.textContent.includes('· 3 mm'); }, id);
    const f = (await findingsNow()).find((x) => String(x.id) === id);
    eq(f.size_mm, 3, 'the size saved');
    assert(!/\d\s*mm(?! large)/.test(f.note.replace(CAVEAT_RE, '')), `the note still gives a size: ${f.note}`);
    await page.locator(`#findings-list li[data-id="${id}"] [data-testid="finding-history"]`).click();
    await page.waitForSelector(`#findings-list li[data-id="${id}"] [data-testid="finding-history-size-caveat"]:visible`);
  });

  await check('zoomed frames pan (drag), the boxes move with the image; 1x recentres', async () => {
    await showFrame(polypFrames[0]);
    await page.keyboard.press('z');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.zoom === '2');
    await page.waitForTimeout(300); // the zoom's transition
    // the drag must start on the stage: earlier checks may have scrolled the
    // page down to the strip under it, taking the stage's centre off screen
    await page.$eval('#stage', (el) => el.scrollIntoView({ block: 'center' }));
    const rel = () => page.$eval('[data-testid="frame-slot-0"]', (slot) => {
      const i = slot.querySelector('img').getBoundingClientRect(), l = slot.querySelector('.box-layer').getBoundingClientRect();
      return { dx: l.left - i.left, dy: l.top - i.top, x: i.left, y: i.top };
    });
    const a = await rel();
    const n0 = (await findingsNow()).length;
    const s = await page.$eval('#stage', (el) => { const r = el.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; });
    // start beside the box so the drag does not begin on it (it would pan all the same)
    await page.mouse.move(s.x, s.y + 5);
    await page.mouse.down();
    await page.mouse.move(s.x + 60, s.y + 45, { steps: 5 });
    await page.mouse.move(s.x + 120, s.y + 95, { steps: 5 });
    await page.mouse.up();
    const v = await page.$eval('#viewer', (el) => [Number(el.dataset.panX), Number(el.dataset.panY)]);
    await page.waitForTimeout(300);
    eq((await findingsNow()).length, n0, 'findings after a drag (a drag is no click on a box)');
    assert(v[0] > 50 && v[1] > 50, `pan after the drag: ${v}`);
    const b = await rel();
    assert(Math.abs(b.x - a.x - v[0]) <= 2 && Math.abs(b.y - a.y - v[1]) <= 2, `the image moved ${b.x - a.x},${b.y - a.y} for a pan of ${v}`);
    assert(Math.abs(b.dx - a.dx) <= 1 && Math.abs(b.dy - a.dy) <= 1, `the boxes left the image: ${JSON.stringify([a, b])}`);
    await page.keyboard.press('z');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.panX === '0' && document.getElementById('viewer').dataset.panY === '0');
  });

  await check('the findings these checks made are deleted again', async () => {
    const csrf = await csrfOf(page);
    for (const id of new Set(made)) {
      const r = await page.request.delete(`/api/v1/studies/${STUDY}/findings/${id}`, { headers: { 'X-CSRF-Token': csrf } });
      eq(r.status() < 300, true, `DELETE finding ${id}: HTTP ${r.status()}`);
    }
    const left = (await findingsNow()).filter((f) => f.type === 'polyp' || f.suspected_cancer || f.note === 'e2e: submitted twice');
    eq(left.length, 0, 'polyp findings left');
    await page.click('[data-testid="finding-clear"]');
  });

  await check('the reader writes the report (prefilled from the findings), scores CC-CLEAR with the engine\'s suggestion, overrides the suggested recommendation with a reason and marks it read', async () => {
    // The colon between the landmarks: the engine's CC-CLEAR suggestion needs them.
    const csrf = await csrfOf(page);
    for (const [k, seq] of [['first_caecal', 100], ['excreted', 200]]) {
      const r = await page.request.put(`/api/v1/studies/${STUDY}/landmarks/${k}`, { headers: { 'X-CSRF-Token': csrf }, data: { seq } });
      eq(r.status(), 200, `PUT landmark ${k}`);
    }
    await page.click('[data-testid="open-report"]');
    await page.waitForSelector('#report-form');
    // the report's head names the polyp detector the frames were flagged by
    const setting = await page.textContent('#report [data-testid="polyp-setting"]');
    assert(/^Polyp detector: weights [0-9a-f]{8}, threshold 0\.\d+$/.test(setting), `report head: '${setting}'`);
    const text = await page.inputValue('#r-findings');
    assert(text.includes('fresh blood') && text.includes('e2e: active bleeding'), `findings text not prefilled: ${text}`);
    assert((await page.inputValue('#r-keyframes')).split(/[ ,]+/).includes(String(findingSeq)), 'key frames prefilled');
    // the finding's 4 mm shows here: so does the caveat on capsule sizes
    assert(await page.isVisible('#r-size-caveat'), 'no size caveat beside the findings');
    assert(/3–4 mm large/.test(await page.textContent('#r-size-caveat')), 'size caveat text');
    eq(await page.locator('[data-testid="report-sign"]').count(), 0, 'a reader sees a Sign button');
    eq(await page.inputValue('#cc-right_colon'), '', 'a CC-CLEAR score set before the reader confirmed one');
    await page.fill('#r-prep', 'Split-dose prep taken as instructed.');
    await page.fill('#r-extracolonic', 'None seen.');
    await page.fill('#r-followup', '24');
    await page.check('#r-disclaimer');
    await page.fill('#r-comments', 'Written by the e2e test.');
    await page.click('#report-save');
    // Saved: the server's derived fields come back, the suggestion per segment among them.
    await page.waitForSelector('[data-testid="cc-use-right_colon"]');
    const hint = await page.textContent('#report [data-testid="cc-hint-right_colon"]');
    const suggested = hint.trim().split(' ')[0];
    assert(/^[0-3]$/.test(suggested), `no suggested grade in "${hint}"`);
    assert(/of 33 frames readable/.test(hint), `the right colon is not frames 100-132: "${hint}"`);
    await page.click('[data-testid="cc-use-right_colon"]');
    eq(await page.inputValue('#cc-right_colon'), suggested, 'Use takes the suggestion');
    assert(await page.isVisible('#report-missing'), 'the mandatory fields missing are not listed');
    assert(await page.locator('#report-missing li[data-field="cc_clear"]').count() === 1, 'cc_clear not listed as missing');
    for (const seg of ['right_colon', 'transverse_colon', 'left_colon']) await page.selectOption(`#cc-${seg}`, '3');
    await page.click('#report-save');
    await page.waitForFunction(() => document.getElementById('cc-total').textContent.includes('9 / 9: excellent'));
    await page.waitForFunction(() => document.getElementById('r-completeness').dataset.completeness === 'complete');
    eq(await page.getAttribute('#r-suggestion', 'data-suggested'), 'no_further_test', 'suggested recommendation');
    assert(!(await page.isVisible('#r-reason')), 'a reason asked for without an override');
    await page.selectOption('#r-recommendation', 'colonoscopy');
    assert(await page.isVisible('#r-reason'), 'no reason asked for when overriding the suggestion');
    await page.fill('#r-reason', 'Fresh blood: colonoscopy to find its source.');
    await page.click('#report-read');
    await page.waitForFunction(() => document.getElementById('report-state').textContent === 'read');
    const r = await page.request.get(`/api/v1/studies/${STUDY}/report`);
    eq(r.status(), 200, 'GET report');
    const rep = await r.json();
    eq(rep.state, 'read', 'report state');
    eq(rep.content.recommendation, 'colonoscopy', 'recommendation saved');
    eq(JSON.stringify(rep.content.cc_clear), JSON.stringify({ right_colon: 3, transverse_colon: 3, left_colon: 3 }), 'CC-CLEAR saved');
    eq(rep.content.follow_up_months, 24, 'follow-up saved');
    eq(rep.content.upper_gi_disclaimer_ack, true, 'disclaimer acknowledged');
    eq(rep.derived.recommendation_override, true, 'the override');
    eq(JSON.stringify(rep.derived.mandatory_missing), '[]', 'mandatory fields still missing');
    assert(!(await page.isVisible('#report-missing')), 'a missing list shown when nothing is missing');
  });

  await check('a reader cannot sign (403), read the audit log (403) nor open the admin page', async () => {
    const csrf = await csrfOf(page);
    let r = await page.request.post(`/api/v1/studies/${STUDY}/report/sign`, { headers: { 'X-CSRF-Token': csrf }, data: {} });
    eq(r.status(), 403, 'POST report/sign as a reader');
    r = await page.request.get('/api/v1/audit');
    eq(r.status(), 403, 'GET /api/v1/audit as a reader');
    await page.goto('/#/admin');
    await page.waitForFunction(() => !!document.querySelector('[data-testid="not-allowed"]') || location.hash !== '#/admin');
    eq(await page.locator('#users').count(), 0, 'the users table is shown to a reader');
  });

  await check('a state-changing request without X-CSRF-Token answers 403', async () => {
    const r = await page.request.post(`/api/v1/studies/${STUDY}/findings`, {
      data: { seq_from: 0, type: 'other', note: 'no csrf' },
    });
    eq(r.status(), 403, 'POST findings without the CSRF header');
    eq((await r.json()).error, 'csrf_failed', 'error code');
  });

  await check('without a session GET /api/v1/worklist answers 401', async () => {
    const anon = await request.newContext({ baseURL: URL_ });
    const r = await anon.get('/api/v1/worklist');
    eq(r.status(), 401, 'GET /api/v1/worklist without a session');
    await anon.dispose();
  });

  await check('the active reading time sent by the viewer shows on the worklist, per reader and view', async () => {
    // The reader has played, stepped and typed in the viewer above: those
    // were active seconds. Leaving the viewer (for the report) flushed them
    // (docs/workstation.md, "Reading time"); the worklist shows them.
    await page.goto('/#/worklist');
    const cell = page.locator(`[data-testid="study-row-${STUDY}"] [data-testid="wl-reading"]`);
    await page.waitForFunction((sel) => { const c = document.querySelector(sel); return c && /^\d+ (s|min)$/.test(c.textContent.trim()); },
      `[data-testid="study-row-${STUDY}"] [data-testid="wl-reading"]`);
    const title = await cell.getAttribute('title');
    assert(new RegExp(`^${READER[0]} \\((full|reduced)\\): \\d+ s`).test(title), `reading-time tooltip: ${title}`);
    const wl = await (await page.request.get('/api/v1/worklist')).json();
    const rt = wl.studies.find((x) => x.study === STUDY).reading_time;
    assert(rt && rt.total_s > 0 && rt.by_reader.every((b) => b.reader === READER[0]), `reading_time: ${JSON.stringify(rt)}`);
  });

  await check('the reader logs out; the session is gone', async () => {
    await page.goto('/#/worklist');
    await page.waitForSelector('#logout:visible');
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    eq((await page.request.get('/api/v1/worklist')).status(), 401, 'worklist after logout');
  });
  await rctx.close();

  // ---- the strip past one page ---------------------------------------------------
  // The demo study has fewer flagged frames than a page holds: this page sees
  // it six times over (its frame index rewritten on the way in: 650 bleeding
  // frames, then 40 polyp frames at 1300-1339; frames past the study's end
  // served as their copies), as a long study would be.
  await check('a study still arriving: the viewer says so, and counts the frames analysed since it opened', async () => {
    const ARR = env('CS_ARRIVING_STUDY');
    const { ctx, page: p } = await newPage(browser, 'reader (arriving)');
    try {
      await login(p, READER);
      await p.goto(`/#/study/${encodeURIComponent(ARR)}`);
      await p.waitForSelector('#viewer[data-seq]');
      const shown = Number(await p.$eval('#viewer', (v) => v.dataset.count));
      assert(shown > 0, 'the arriving study opened with no frames');
      const note = p.locator('[data-testid="study-arriving"]');
      assert(await note.isVisible(), 'no notice that the study is still arriving');
      assert((await note.textContent()).includes('still arriving'), `notice: ${await note.textContent()}`);
      // the rest of the stream, from the hub's side
      const rest = fs.readFileSync(env('CS_ARRIVING_REST'));
      const up = env('CS_ARRIVING_UPLOAD');
      const r = await fetch(up.startsWith('http') ? up : `${URL_}${up}`, {
        method: 'PATCH', body: rest,
        headers: { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream', Authorization: `Bearer ${env('CS_ARRIVING_TOKEN')}`,
          'Upload-Offset': env('CS_ARRIVING_OFFSET'), 'Upload-Length': env('CS_ARRIVING_SIZE') } });
      eq(r.status, 204, 'the rest of the arriving study');
      await p.waitForSelector('[data-testid="study-arriving"][data-more]');
      const more = Number(await note.getAttribute('data-more'));
      assert(more > 0, `frames counted since the view opened: ${more}`);
      assert((await note.textContent()).includes(`${more} more frame`), `notice: ${await note.textContent()}`);
      eq(Number(await p.$eval('#viewer', (v) => v.dataset.count)), shown, 'the view changed its frames under the reader');
      await p.click('[data-testid="study-reload"]');
      await p.waitForFunction((c) => Number(document.getElementById('viewer')?.dataset.count) > c, shown);
      eq((await lib.cspOf(p)).join('; '), '', 'CSP violations');
    } finally {
      await ctx.close();
    }
  });

  await check('past 600 thumbnails the strip pages; it counts the bleeding and polyp frames not on the page and says how to reach them; Y turns to its page', async () => {
    const { ctx, page: p } = await newPage(browser, 'reader (strip pages)');
    try {
      await login(p, READER);
      const n = index.count, N = n * 6;
      await p.route((u) => u.pathname === `/api/v1/studies/${STUDY}/frames`, async (route) => {
        const j = await (await route.fetch()).json();
        for (const [k, v] of Object.entries(j)) if (Array.isArray(v) && v.length === n) j[k] = Array.from({ length: N }, (_, i) => v[i % n]);
        j.flags = j.flags.map((f, s) => (f & ~(F_BLEEDING | F_POLYP | F_REDUNDANT)) |
          (s < 650 ? F_BLEEDING : 0) | (s >= 1300 && s < 1340 ? F_POLYP : 0));
        j.count = N;
        j.boxes = {};
        await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(j) });
      });
      const re = /\/frames\/(\d+)(\.jpg|\/thumb\.jpg)$/;
      await p.route((u) => u.pathname.startsWith(`/api/v1/studies/${STUDY}/frames/`) && re.test(u.pathname) && Number(u.pathname.match(re)[1]) >= n, (route) => {
        const u = new URL(route.request().url());
        u.pathname = u.pathname.replace(re, (_, s, tail) => `/frames/${Number(s) % n}${tail}`);
        return route.continue({ url: u.toString() });
      });
      await p.goto(`/#/study/${encodeURIComponent(STUDY)}`);
      await p.waitForFunction((c) => document.getElementById('viewer')?.dataset.count === String(c), N);
      const thumbs = () => p.$$eval('#flag-strip .thumb', (bs) => bs.map((b) => Number(b.dataset.seq)));
      let t = await thumbs();
      eq(`${t.length}: ${t[0]}-${t[t.length - 1]}`, '600: 0-599', 'the first page of thumbnails');
      const title = await p.textContent('[data-testid="strip-title"]');
      assert(title.startsWith('Bleeding and polyp frames (690: 1–600 shown'), `strip title: ${title}`);
      const notice = p.locator('[data-testid="strip-hidden"]');
      assert(await notice.isVisible(), 'no notice of the frames not on the page');
      eq(`${await notice.getAttribute('data-bleeding')} ${await notice.getAttribute('data-polyp')}`, '50 40', 'bleeding and polyp frames not on the page');
      const text = await notice.textContent();
      for (const w of ['50 bleeding and 40 polyp frames', 'Next', 'Polyp filter', 'N / P', 'Y / Shift+Y', 'timeline'])
        assert(text.includes(w), `the notice lacks "${w}": ${text}`);
      await p.click('[data-testid="strip-next"]');
      t = await thumbs();
      eq(`${t.length}: ${t[0]}-${t[t.length - 1]}`, '90: 600-1339', 'the second page of thumbnails');
      eq(`${await notice.getAttribute('data-bleeding')} ${await notice.getAttribute('data-polyp')}`, '600 0', 'frames not on the second page');
      await p.click('[data-testid="strip-prev"]');
      await p.waitForSelector('[data-testid="thumb-0"]');
      await p.keyboard.press('y');
      await p.waitForFunction(() => document.getElementById('viewer').dataset.seq === '1300');
      await p.waitForSelector('[data-testid="thumb-1300"].current');
      eq(await p.$eval('#viewer', (v) => v.dataset.stripPage), '1', 'the strip page after Y');
      eq((await lib.cspOf(p)).join('; '), '', 'CSP violations');
    } finally {
      await ctx.close();
    }
  });

  // ---- consultant --------------------------------------------------------------
  const { ctx: cctx, page: cpage } = await newPage(browser, 'consultant');
  await check('a save by someone else while the consultant has the report open is shown for review, never signed unseen', async () => {
    await login(cpage, CONS);
    const csrf = await csrfOf(cpage);
    // Signing needs a complete study: the imported demo study is, once analysed.
    const st = await (await cpage.request.get(`/api/v1/studies/${STUDY}`)).json();
    eq(st.state, 'complete', 'the imported study is complete');
    await cpage.goto(`/#/study/${STUDY}/report`);
    await cpage.waitForSelector('#report-sign');
    eq(await cpage.textContent('#report-state'), 'read', 'state before signing');
    const shown = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    // Another session saves a new version behind the page's back.
    const changed = { ...shown.content, comments: 'changed elsewhere while the page was open' };
    const r = await cpage.request.put(`/api/v1/studies/${STUDY}/report`, {
      headers: { 'X-CSRF-Token': csrf }, data: { content: changed, state: 'read', version: shown.version } });
    eq(r.status(), 200, 'the other save');
    await cpage.click('#report-sign');
    await cpage.waitForSelector('#report[data-review="newer-version"]');
    assert(await cpage.isVisible('#report-error'), 'no message asking for a review');
    eq(await cpage.inputValue('#r-comments'), changed.comments, 'the page does not show the newer content');
    const now = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    eq(now.state, 'read', 'the report was signed with content the consultant had not seen');
  });

  await check('a finding added while the consultant has the report open is listed for review, never signed unseen', async () => {
    const csrf = await csrfOf(cpage);
    const r = await cpage.request.post(`/api/v1/studies/${STUDY}/findings`, {
      headers: { 'X-CSRF-Token': csrf }, data: { seq_from: 2, type: 'other', segment: 'small_bowel', note: 'added behind the page' } });
    eq(r.status(), 201, 'the other finding');
    const fid = (await r.json()).id;
    eq(await cpage.locator(`#report-findings-under tr[data-id="${fid}"]`).count(), 0, 'the page lists the finding before it is shown');
    await cpage.click('#report-sign');
    await cpage.waitForSelector(`#report-findings-under tr[data-id="${fid}"]`);
    await cpage.waitForSelector('#report[data-review="newer-version"]');
    const m = await cpage.textContent('#report-error');
    assert(m.includes('findings') && m.includes('review'), `message: ${m}`);
    const now = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    eq(now.state, 'read', 'the report was signed over a finding the consultant had not seen');
    assert(now.findings.some((f) => f.id === fid), 'the REPORT answer does not list the finding');
  });

  await check('an edit on screen with a finding added behind the page: Sign saves the edit but never signs the finding unseen', async () => {
    const csrf = await csrfOf(cpage);
    await cpage.fill('#r-comments', 'edited on screen before signing');
    const r = await cpage.request.post(`/api/v1/studies/${STUDY}/findings`, {
      headers: { 'X-CSRF-Token': csrf }, data: { seq_from: 3, type: 'other', segment: 'small_bowel', note: 'added while the edit was unsaved' } });
    eq(r.status(), 201, 'the other finding');
    const fid = (await r.json()).id;
    await cpage.click('#report-sign');
    await cpage.waitForSelector('#report[data-review="newer-version"]');
    await cpage.waitForSelector(`#report-findings-under tr[data-id="${fid}"]`);
    const now = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    eq(now.state, 'read', 'the save before signing let a finding the consultant had not seen under the signature');
    eq(now.content.comments, 'edited on screen before signing', 'the edit on screen was not saved');
  });

  await check('a landmark and a patient detail changed behind the page: refused, then shown on the report page', async () => {
    const csrf = await csrfOf(cpage);
    assert((await cpage.textContent('#report-patient-line')).startsWith('JONES, Bea · NHS 485 777 3457'), 'the report page does not show the patient');
    const st = await (await cpage.request.get(`/api/v1/studies/${STUDY}`)).json();
    const lmNow = ((await (await cpage.request.get(`/api/v1/studies/${STUDY}/marks`)).json()).landmarks || {}).first_caecal;
    const seq = lmNow && lmNow.seq === 101 ? 102 : 101;
    let r = await cpage.request.put(`/api/v1/studies/${STUDY}/landmarks/first_caecal`, { headers: { 'X-CSRF-Token': csrf }, data: { seq } });
    eq(r.status(), 200, 'the landmark set behind the page');
    // a coordinator's correction of the episode, from another session
    const { ctx: actx2, page: ap } = await newPage(browser, 'admin (patient)');
    try {
      await login(ap, ADMIN);
      const acsrf = await csrfOf(ap);
      r = await ap.request.put(`/api/v1/studies/${STUDY}/patient`, {
        headers: { 'X-CSRF-Token': acsrf }, data: { patient: st.patient, episode: { ...st.episode, referrer: 'Dr Referred Behind' } } });
      eq(r.status(), 200, 'the patient correction behind the page');
    } finally {
      await actx2.close();
    }
    assert(!(await cpage.textContent('#report-episode-line')).includes('Dr Referred Behind'), 'the page showed the change before it was made');
    await cpage.click('#report-sign');
    await cpage.waitForFunction(() => document.querySelector('#report-episode-line')?.textContent.includes('Dr Referred Behind'));
    await cpage.waitForFunction((s) => document.querySelector('#report-landmarks')?.textContent.includes(`first caecal: frame ${s}`), seq);
    eq(await cpage.getAttribute('#report', 'data-review'), 'newer-version', 'no review asked for');
    const now = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    eq(now.state, 'read', 'signed over a landmark and patient detail the consultant had not seen');
  });

  await check('Sign on a report never saved: it is saved and shown for review, not signed on a stamp never on screen', async () => {
    const ARR = env('CS_ARRIVING_STUDY');
    await cpage.goto(`/#/study/${encodeURIComponent(ARR)}/report`);
    await cpage.waitForSelector('#report-sign');
    eq(await cpage.textContent('#report-state'), 'not saved yet', 'state before the click');
    await cpage.selectOption('#r-recommendation', 'colonoscopy');
    await cpage.click('#report-sign');
    await cpage.waitForSelector('#report[data-review="first-save"]');
    assert((await cpage.textContent('#report-error')).includes('Review the findings'), 'no request for a review');
    const now = await (await cpage.request.get(`/api/v1/studies/${ARR}/report`)).json();
    eq(now.state, 'read', 'the first click signed, or did not save');
    await cpage.goto(`/#/study/${encodeURIComponent(STUDY)}/report`);
    await cpage.waitForSelector('#report-sign');
  });

  await check('a sign that fails after its save does not leave the save\'s stamp to sign with', async () => {
    // its own page: the failed sign (503) is an expected console error here
    const { ctx, page: p } = await lib.newPage(browser, URL_, 'consultant (failed sign)', { allow: /status of (401|404|409|503)/ });
    try {
      await login(p, CONS);
      await p.goto(`/#/study/${encodeURIComponent(STUDY)}/report`);
      await p.waitForSelector('#report-sign');
      const csrf = await csrfOf(p);
      const lmNow = ((await (await p.request.get(`/api/v1/studies/${STUDY}/marks`)).json()).landmarks || {}).first_caecal;
      const seq = lmNow && lmNow.seq === 105 ? 106 : 105;
      const r = await p.request.put(`/api/v1/studies/${STUDY}/landmarks/first_caecal`, { headers: { 'X-CSRF-Token': csrf }, data: { seq } });
      eq(r.status(), 200, 'the landmark set behind the page');
      await p.fill('#r-comments', 'edited before a sign that fails');
      let failed = 0;
      await p.route((u) => u.pathname === `/api/v1/studies/${STUDY}/report/sign`, (route) => {
        if (failed++ > 0) return route.continue();
        return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'store_unavailable', status: 503, reason: 'a test' }) });
      });
      await p.click('#report-sign');
      await p.waitForSelector('#report-error:not([hidden])');
      eq(failed, 1, 'sign requests before the retry');
      await p.click('#report-sign');
      await p.waitForSelector('#report[data-review="newer-version"]');
      const now = await (await p.request.get(`/api/v1/studies/${STUDY}/report`)).json();
      eq(now.state, 'read', 'the retry signed over a landmark the page never showed');
      await p.waitForFunction((s) => document.querySelector('#report-landmarks')?.textContent.includes(`first caecal: frame ${s}`), seq);
    } finally {
      await ctx.close();
    }
    // the consultant's own page shows the report as it now is
    await cpage.goto(`/#/study/${encodeURIComponent(STUDY)}`);
    await cpage.goto(`/#/study/${encodeURIComponent(STUDY)}/report`);
    await cpage.waitForSelector('#report-sign');
  });

  await check('a save shows the landmarks as they are under the stamp it answers with', async () => {
    const csrf = await csrfOf(cpage);
    const lmNow = ((await (await cpage.request.get(`/api/v1/studies/${STUDY}/marks`)).json()).landmarks || {}).first_caecal;
    const seq = lmNow && lmNow.seq === 103 ? 104 : 103;
    const r = await cpage.request.put(`/api/v1/studies/${STUDY}/landmarks/first_caecal`, { headers: { 'X-CSRF-Token': csrf }, data: { seq } });
    eq(r.status(), 200, 'the landmark set behind the page');
    assert(!(await cpage.textContent('#report-landmarks')).includes(`frame ${seq}`), 'the page showed the landmark before it was set');
    await cpage.click('#report-read');
    await cpage.waitForFunction((s) => document.querySelector('#report-landmarks')?.textContent.includes(`first caecal: frame ${s}`), seq);
  });

  await check('the consultant signs the version on screen and sees it read-only with "Signed by"', async () => {
    await cpage.click('#report-sign');
    await cpage.waitForSelector('#signed-banner:visible');
    const banner = await cpage.textContent('#signed-banner');
    assert(banner.startsWith(`Signed by ${CONS[0]} at `), `banner: ${banner}`);
    assert(await cpage.isDisabled('#r-findings'), 'findings text editable after signing');
    assert(await cpage.isDisabled('#r-recommendation'), 'recommendation editable after signing');
    assert(!(await cpage.isVisible('#report-sign')), 'Sign button still shown');
    assert(await cpage.isDisabled('#cc-left_colon'), 'CC-CLEAR editable after signing');
    const signed = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    eq(signed.state, 'signed', 'report state');
    eq(signed.content.comments, await cpage.inputValue('#r-comments'), 'signed comments vs screen');
    await shot(cpage, 'report.png');
    const csrf = await csrfOf(cpage);
    let r = await cpage.request.post(`/api/v1/studies/${STUDY}/report/sign`, { headers: { 'X-CSRF-Token': csrf }, data: {} });
    eq(r.status(), 422, 'signing without a version');
    r = await cpage.request.post(`/api/v1/studies/${STUDY}/report/sign`, { headers: { 'X-CSRF-Token': csrf }, data: { version: signed.version, basis: signed.basis } });
    eq(r.status(), 409, 'signing again');
  });

  await check('the consultant adds an addendum to the signed report: listed under it, the signed content unchanged', async () => {
    const before = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    await cpage.waitForSelector('#addendum-form:visible');
    await cpage.fill('#ad-reason', 'Histology received');
    await cpage.fill('#ad-text', 'Biopsy: angiodysplasia, no neoplasia.');
    await cpage.click('#addendum-add');
    await cpage.waitForSelector('#report-addenda li.addendum');
    const li = await cpage.textContent('#report-addenda li.addendum');
    assert(li.includes('Histology received') && li.includes('Biopsy: angiodysplasia') && li.includes(CONS[0]), `addendum shown: ${li}`);
    const after = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report`)).json();
    eq(after.addenda.length, 1, 'addenda');
    eq(after.addenda[0].by, CONS[0], 'addendum by');
    eq(JSON.stringify(after.content), JSON.stringify(before.content), 'the signed content changed');
    eq(after.version, before.version, 'the signed version changed');
    const html = await (await cpage.request.get(`/api/v1/studies/${STUDY}/report.html`)).text();
    assert(html.includes('Biopsy: angiodysplasia, no neoplasia.'), 'the printable report lacks the addendum');
  });
  await cctx.close();

  // ---- admin -------------------------------------------------------------------
  const { ctx: actx, page: apage } = await newPage(browser, 'admin');
  await check('the admin finds study.open, frames.view, finding.create and report.sign on the audit page and in the API', async () => {
    await login(apage, ADMIN);
    await apage.click('[data-testid="nav-audit"]');
    await apage.waitForSelector('#audit-table');
    const want = [['study.open', READER[0]], ['frames.view', READER[0]], ['finding.create', READER[0]], ['report.sign', CONS[0]]];
    await apage.fill('#a-study', STUDY);
    for (const [action, user] of want) {
      // frames.view is written when the batch ends (at most ~10 s later): poll.
      const deadline = Date.now() + 30000;
      for (;;) {
        await apage.selectOption('#a-action', action);
        // Apply clears the table at once and fills it when the answer comes:
        // count the rows only once this load has finished.
        const loads = Number(await apage.getAttribute('#audit-table', 'data-loads')) || 0;
        await apage.click('[data-testid="audit-apply"]');
        await apage.waitForFunction((n) => {
          const t = document.getElementById('audit-table');
          return Number(t.dataset.loads) > n && t.getAttribute('aria-busy') === 'false';
        }, loads);
        const found = await apage.locator(`#audit-body tr[data-action="${action}"][data-user="${user}"][data-study="${STUDY}"]`).count();
        if (found > 0) break;
        if (Date.now() > deadline) throw new Error(`no ${action} entry by ${user} on the audit page`);
        await apage.waitForTimeout(1000); // the server writes the entry later: poll, bounded
      }
      const r = await apage.request.get(`/api/v1/audit?action=${encodeURIComponent(action)}&study=${encodeURIComponent(STUDY)}`);
      eq(r.status(), 200, `GET /api/v1/audit?action=${action}`);
      const body = await r.json();
      assert(Array.isArray(body.entries) && body.entries.some((e) => e.user === user && e.action === action && e.study === STUDY),
        `API has no ${action} entry by ${user}`);
      assert('next_before' in body, 'next_before missing');
    }
  });
  await check('the admin page lists the users', async () => {
    await apage.click('[data-testid="nav-admin"]');
    await apage.waitForSelector(`[data-testid="user-row-${READER[0]}"]`);
    await apage.waitForSelector(`[data-testid="user-row-${CONS[0]}"]`);
  });
  await actx.close();

  await check('no page errors, console errors or CSP violations', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
} catch (e) {
  crashed(e);
} finally {
  await browser.close();
}
finish('e2e');
