// End-to-end test of the live care loop (docs/care.md) in a real Chromium
// driven by playwright-core: a coordinator's monitor and the patient's
// companion page side by side. Frames flow then stop: no_frames on the
// monitor; the hub reports 95% spool: spool_full; one click marks
// small-bowel entry: the booster shows on the patient page within 2 s; the
// patient ticks a prep step: the monitor shows it; the patient asks for a
// call: call_requested on the monitor; an alert acknowledged with one
// click leaves the tile. The patient page passes axe-core's WCAG 2.1 AA
// rules, refuses a wrong code and says plainly when the code has ended;
// another study's code shows that study, never this one; closed with
// alerts still open, the tile stays, marked closed, until the last is
// acknowledged. No console error, page error or CSP violation on the way.
//
// Environment (tests/e2e/care.sh): CS_URL, CS_ADMIN_TOKEN, CS_COORD_USER,
// CS_COORD_PASS, CS_STUDY, CS_PATIENT_CODE, CS_DEVICE_TOKEN,
// CS_OTHER_STUDY, CS_OTHER_CODE, CS_SHOTS (optional), CHROMIUM.
import * as lib from './lib.mjs';
import { env, check, assert, eq, login, launch, crashed, finish, shot, cspOf } from './lib.mjs';

const AXE = lib.require.resolve('axe-core/axe.min.js');
const URL_ = env('CS_URL').replace(/\/$/, '');
const ADMIN = env('CS_ADMIN_TOKEN');
const COORD = [env('CS_COORD_USER'), env('CS_COORD_PASS')];
const STUDY = env('CS_STUDY');
const CODE = env('CS_PATIENT_CODE');
const DEVICE = env('CS_DEVICE_TOKEN');
const OTHER_CODE = env('CS_OTHER_CODE');

const browser = await launch();
const tile = `[data-testid="tile-${STUDY}"]`;
const alertIn = (kind) => `${tile} [data-testid="alert-${kind}"]`;

try {
  const { page: staff } = await lib.newPage(browser, URL_, 'monitor', { viewport: { width: 1280, height: 900 } });
  // The patient's tablet; axe-core is injected as a script, so this
  // context lets it past the page's CSP (the staff context checks the CSP).
  const { page: patient } = await lib.newPage(browser, URL_, 'patient',
    { viewport: { width: 800, height: 1100 }, bypassCSP: true });

  await check('the coordinator opens the monitor; the study is a live tile', async () => {
    await login(staff, COORD);
    await staff.goto('/#/monitor');
    await staff.waitForSelector(tile);
    await staff.waitForFunction((sel) => Number(document.querySelector(`${sel} [data-testid="tile-frames"]`).textContent.split(' ')[0]) === 6, tile);
  });

  await check('frames stop: no_frames appears on the monitor', async () => {
    await staff.waitForSelector(alertIn('no_frames'));
  });

  await check('the hub reports a 95% spool: spool_full appears, with the hub on the tile', async () => {
    const r = await fetch(`${URL_}/api/v1/devices/status`, {
      method: 'POST', headers: { Authorization: `Bearer ${DEVICE}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ battery_pct: 64, signal_dbm: -88, spool_used_pct: 95, recorder: 'recording' }),
    });
    assert(r.status === 204, `status: HTTP ${r.status}`);
    await staff.waitForSelector(alertIn('spool_full'));
    const hub = await staff.textContent(`${tile} [data-testid="tile-hub"]`);
    assert(/battery 64%/.test(hub) && /spool 95%/.test(hub), `tile hub: ${hub}`);
  });

  await check('a wrong code is refused on the patient page, plainly', async () => {
    await patient.goto('/patient.html');
    await patient.fill('[data-testid="code"]', 'AAAA-BBBB-CCCC');
    await patient.click('[data-testid="open"]');
    await patient.waitForFunction(() => /did not work/.test(document.querySelector('[data-testid="code-error"]').textContent));
  });

  await check('the patient types the code and sees that the recording reached us', async () => {
    await patient.fill('[data-testid="code"]', CODE.toLowerCase().replace(/-/g, ' '));
    await patient.click('[data-testid="open"]');
    await patient.waitForFunction(() => /6 pictures|any pictures for/.test(document.querySelector('[data-testid="status"]').textContent));
    const items = await patient.$$eval('[data-testid="prep"] li', (l) => l.length);
    assert(items === 2, `prep steps shown: ${items}`);
    const body = await patient.textContent('body');
    assert(!body.includes(STUDY) && !body.includes('Bed 7'), 'the page shows the study id or its label');
  });

  await check('the patient page has no WCAG 2.1 AA violation (axe-core)', async () => {
    await patient.addScriptTag({ path: AXE });
    const res = await patient.evaluate(async () => await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    const v = res.violations.map((x) => `${x.id}: ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    assert(v.length === 0, `axe violations: ${v.join('; ')}`);
    assert(res.passes.length > 10, `axe ran only ${res.passes.length} passing rules`);
  });

  await check('the patient page fits a phone: no sideways scrolling at 360 px', async () => {
    await patient.setViewportSize({ width: 360, height: 740 });
    const over = await patient.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over <= 0, `the page is ${over} px wider than a 360 px phone`);
    const size = await patient.evaluate(() => parseFloat(getComputedStyle(document.querySelector('[data-testid="status"]')).fontSize));
    assert(size >= 20, `status text ${size} px`);
    await patient.setViewportSize({ width: 800, height: 1100 });
  });

  await check('one click marks small-bowel entry: the booster shows on the patient page within 2 s', async () => {
    await staff.click(`${tile} [data-testid="stage-small_bowel"]`);
    const t0 = Date.now();
    await patient.waitForSelector('[data-testid="now"]:visible', { timeout: 5000 });
    const took = Date.now() - t0;
    const text = await patient.textContent('[data-testid="now-text"]');
    assert(/first booster/.test(text), `now: ${text}`);
    assert(took <= 2000, `the booster took ${took} ms to show`);
    await staff.waitForSelector(alertIn('booster_due'));
    const stage = await staff.textContent(`${tile} [data-testid="tile-stage"]`);
    assert(/small bowel/i.test(stage), `tile stage: ${stage}`);
  });

  await check('the patient ticks a prep step: the monitor shows it', async () => {
    await patient.check('[data-testid="prep-low_fibre_day"]');
    await staff.waitForFunction((sel) => /low fibre day/.test(document.querySelector(`${sel} [data-testid="tile-prep"]`).textContent), tile);
    await patient.reload();
    await patient.waitForSelector('[data-testid="prep-low_fibre_day"]:checked');
  });

  await check('the patient asks for a call: call_requested appears on the monitor', async () => {
    await patient.click('[data-testid="call"]');
    await patient.waitForFunction(() => /phone you soon/.test(document.querySelector('[data-testid="call-done"]').textContent));
    await staff.waitForSelector(alertIn('call_requested'));
  });

  await check('the tile\'s clock ticks the alert\'s age and leaves the alert whole', async () => {
    // The clock rewrites age spans every second; an alert item (its kind in
    // data-kind) once matched it and lost its message and button.
    const age = `${alertIn('spool_full')} [data-timer]`;
    const t0 = await staff.textContent(age);
    await staff.waitForFunction(([sel, t]) => { const e = document.querySelector(sel); return e && e.textContent !== t; }, [age, t0]);
    eq(await staff.locator(`${alertIn('spool_full')} button`).count(), 1, 'the acknowledge button after a tick');
    assert(/spool is 95% full/.test(await staff.textContent(alertIn('spool_full'))), 'the alert message after a tick');
  });

  await check('an alert is acknowledged with one click and leaves the tile', async () => {
    await staff.click(`${alertIn('spool_full')} button`);
    await staff.waitForSelector(alertIn('spool_full'), { state: 'detached' });
    const r = await fetch(`${URL_}/api/v1/studies/${STUDY}/alerts`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    const d = await r.json();
    const spool = d.alerts.find((a) => a.kind === 'spool_full');
    assert(spool && spool.acked_by === COORD[0], `spool_full: ${JSON.stringify(spool)}`);
  });

  await shot(staff, 'monitor.png');
  await shot(patient, 'patient.png');

  await check("another study's code opens that study's page, never this one", async () => {
    const r = await fetch(`${URL_}/api/v1/patient`, { headers: { Authorization: `Bearer ${OTHER_CODE}` } });
    const d = await r.json();
    assert(r.status === 200 && d.recording.state === 'waiting', `other: ${r.status} ${JSON.stringify(d.recording)}`);
    for (const p of [`/api/v1/studies/${STUDY}`, `/api/v1/studies/${STUDY}/alerts`, '/api/v1/monitor',
      `/api/v1/studies/${STUDY}/latest.jpg`]) {
      const x = await fetch(`${URL_}${p}`, { headers: { Authorization: `Bearer ${CODE}` } });
      assert(x.status === 403, `${p} with a patient code: HTTP ${x.status}`);
    }
  });

  await check('closing the study ends the code: the page says so plainly', async () => {
    const r = await fetch(`${URL_}/api/v1/studies/${STUDY}/close`, {
      method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: '{}',
    });
    assert(r.status === 200, `close: HTTP ${r.status}`);
    await patient.waitForFunction(() => /has ended/.test(document.querySelector('[data-testid="code-error"]').textContent));
  });

  await check('a study closed with open alerts stays on the monitor, marked, until each is acknowledged', async () => {
    await staff.waitForFunction((sel) => document.querySelector(`${sel} [data-testid="tile-status"]`)?.textContent === 'Closed, with open alerts', tile);
    eq(await staff.locator(`${tile} [data-testid^="stage-"]`).count(), 0, 'stage buttons on a closed tile');
    const open = await staff.locator(`${tile} [data-testid^="ack-"]`).count();
    assert(open > 0, 'a closed tile with no alert to acknowledge');
    for (let i = 0; i < open; i++) {
      const before = await staff.locator(`${tile} [data-testid^="ack-"]`).count();
      await staff.click(`${tile} [data-testid^="ack-"] >> nth=0`);
      if (before > 1) {
        await staff.waitForFunction(([sel, n]) => document.querySelectorAll(`${sel} [data-testid^="ack-"]`).length === n, [tile, before - 1]);
      }
    }
    await staff.waitForSelector(tile, { state: 'detached' });
  });

  await check('no CSP violation on the monitor', async () => {
    const csp = await cspOf(staff);
    assert(csp.length === 0, `CSP: ${csp.join('; ')}`);
  });
} catch (e) {
  crashed(e);
} finally {
  await browser.close();
}
finish('e2e care');
