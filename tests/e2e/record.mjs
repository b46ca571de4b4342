// End-to-end test of the clinical record in the workstation
// (docs/clinical-record.md) in a real Chromium driven by playwright-core:
// the worklist shows the patient (name, NHS number as printed, date of
// birth) and finds the study by NHS number; the finding form records the
// segment, the Paris class and the polyp count (shown for polyps only);
// a finding marked suspected cancer shows its badge in the list and makes
// the study urgent on the worklist; the worklist passes axe-core's WCAG 2.1
// AA checks with the new columns; no CSP violation, console or page error.
//
// Environment: CS_URL, CS_ADMIN_USER/CS_ADMIN_PASS,
// CS_READER_USER/CS_READER_PASS, CS_POLYP_STUDY (an analysed demo study
// whose report nobody signed; polyp.mjs ran on it first), CS_SHOTS
// (optional), CHROMIUM. tests/e2e/run.sh sets them up.
import * as lib from './lib.mjs';
import { env, check, assert, eq, shot, login, launch, crashed, finish, cspOf } from './lib.mjs';

const URL_ = env('CS_URL').replace(/\/$/, '');
const ADMIN = [env('CS_ADMIN_USER'), env('CS_ADMIN_PASS')];
const READER = [env('CS_READER_USER'), env('CS_READER_PASS')];
const STUDY = env('CS_POLYP_STUDY');
const AXE = lib.require.resolve('axe-core/axe.min.js');

async function csrfOf(page) {
  const r = await page.request.get('/api/v1/session');
  eq(r.status(), 200, 'GET session');
  return (await r.json()).csrf_token;
}

const browser = await launch();
try {
  const { page } = await lib.newPage(browser, URL_, 'reader', { allow: /status of (401|404)/ });

  await check('an admin records the patient of the study (PUT .../patient)', async () => {
    const { page: admin, ctx } = await lib.newPage(browser, URL_, 'admin');
    await login(admin, ADMIN);
    const r = await admin.request.put(`/api/v1/studies/${STUDY}/patient`, {
      headers: { 'X-CSRF-Token': await csrfOf(admin) },
      data: {
        patient: { nhs_number: '9434765919', family: 'Smith', given: 'Anna', birth_date: '1962-03-14', sex: 'female' },
        episode: { pathway: 'screening', indication: 'fit_positive', referrer: 'Dr J Khan' },
      },
    });
    eq(r.status(), 200, 'PUT patient');
    await ctx.close();
  });

  await check('the worklist shows the patient and finds the study by NHS number as printed', async () => {
    await login(page, READER);
    await page.goto('/#/worklist');
    const row = page.locator(`[data-testid="study-row-${STUDY}"]`);
    await row.waitFor();
    const cell = row.locator('[data-testid="wl-patient"]');
    await page.waitForFunction((s) => {
      const c = document.querySelector(`[data-testid="study-row-${s}"] [data-testid="wl-patient"]`);
      return c && c.textContent.includes('SMITH, Anna');
    }, STUDY);
    const text = await cell.textContent();
    assert(text.includes('943 476 5919'), `NHS number as printed: ${text}`);
    assert(text.includes('1962-03-14'), `date of birth: ${text}`);
    await page.fill('#wl-text', '943 476 5919');
    await page.waitForFunction(() => document.querySelectorAll('#wl-body tr').length === 1);
    eq(await page.locator('#wl-body tr').first().getAttribute('data-study'), STUDY, 'the one row found');
    await page.fill('#wl-text', 'no such patient anywhere');
    await page.waitForSelector('[data-testid="wl-empty"]:visible');
    await page.fill('#wl-text', '');
  });

  await check('the finding form records segment, Paris class and count, shown for polyps only', async () => {
    await page.goto(`/#/study/${encodeURIComponent(STUDY)}`);
    await page.waitForSelector('#viewer[data-seq]');
    await page.fill('#f-from', '2');
    await page.fill('#f-to', '3');
    await page.selectOption('#f-type', 'ulcer');
    assert(await page.locator('#f-morphology').isHidden(), 'the Paris class is offered for an ulcer');
    await page.selectOption('#f-type', 'polyp');
    await page.locator('#f-morphology').waitFor({ state: 'visible' });
    await page.selectOption('#f-segment', 'left_colon');
    await page.selectOption('#f-morphology', '0-Is');
    await page.fill('#f-count', '2');
    await page.fill('#f-note', 'e2e: record polyps');
    await page.click('#f-add');
    const li = page.locator('#findings-list li.finding:has-text("e2e: record polyps")');
    await li.waitFor();
    const structure = await li.locator('[data-testid="finding-structure"]').textContent();
    assert(/left colon/.test(structure) && structure.includes('0-Is') && structure.includes('2 polyps'),
      `structure shown: ${structure}`);
    const r = await page.request.get(`/api/v1/studies/${STUDY}/findings`);
    const f = (await r.json()).findings.find((x) => x.note === 'e2e: record polyps');
    eq(`${f.segment} ${f.morphology} ${f.count} ${f.suspected_cancer}`, 'left_colon 0-Is 2 false', 'stored');
  });

  await check('a suspected cancer shows its badge and makes the study urgent on the worklist', async () => {
    await page.fill('#f-from', '5');
    await page.fill('#f-to', '5');
    await page.selectOption('#f-type', 'polyp');
    await page.selectOption('#f-segment', 'rectum');
    await page.check('#f-cancer');
    await page.fill('#f-note', 'e2e: suspected cancer');
    await page.click('#f-add');
    const li = page.locator('#findings-list li.finding:has-text("e2e: suspected cancer")');
    await li.locator('[data-testid="finding-urgent"]').waitFor();
    assert(!(await page.isChecked('#f-cancer')), 'the form kept the mark for the next finding');
    await page.goto('/#/worklist');
    await page.locator(`[data-testid="study-row-${STUDY}"] .badge-urgent`).waitFor();
    const alerts = await (await page.request.get(`/api/v1/studies/${STUDY}/alerts`)).json();
    assert(alerts.alerts.some((a) => a.kind === 'suspected_cancer'), 'no suspected_cancer alert');
    await shot(page, 'worklist-urgent.png');
  });

  await check('the worklist table with the patient and urgent columns has no WCAG 2.1 AA violation (axe-core)', async () => {
    eq((await cspOf(page)).join('; '), '', 'CSP violations');
    // axe-core is injected as a script: a context that lets it past the CSP
    // (the reader's page above checks the CSP).
    const { page: a11y, ctx } = await lib.newPage(browser, URL_, 'a11y', { allow: /status of (401|404)/, bypassCSP: true });
    await login(a11y, READER);
    await a11y.goto('/#/worklist');
    await a11y.locator(`[data-testid="study-row-${STUDY}"] .badge-urgent`).waitFor();
    await a11y.addScriptTag({ path: AXE });
    const res = await a11y.evaluate(async () => await window.axe.run(document.querySelector('#worklist'), {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    const v = res.violations.map((x) => `${x.id}: ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    assert(v.length === 0, `axe violations: ${v.join('; ')}`);
    assert(res.passes.length > 5, `axe ran only ${res.passes.length} passing rules`);
    await ctx.close();
  });
} catch (e) {
  crashed(e);
} finally {
  await browser.close();
}
finish('record.mjs');
