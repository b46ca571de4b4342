// End-to-end test of reader training (docs/training.md) in a real
// Chromium driven by playwright-core: a study of the demo frames is
// signed with two findings; a trainer makes a course and a case from it in
// the training page; a trainee reads the case in the normal viewer (the
// engine's flags hidden, the reference refused with 403 before submitting),
// finds one lesion and misses the other, submits; the feedback shows
// sensitivity 0.5 with the missed finding listed, one click from its
// frames; progress shows the read; the trainer sees the cohort. No CSP
// violation, console error or page error on the way.
//
// Environment: CS_URL, CS_READER_USER/PASS, CS_CONSULTANT_USER/PASS,
// CS_TRAINER_USER/PASS, CS_TRAINEE_USER/PASS, CS_TRAINING_STUDY (an
// analysed demo study nobody has touched), CS_SHOTS (optional),
// CHROMIUM. tests/e2e/run.sh sets them up.
import * as lib from './lib.mjs';
import { env, check, assert, eq, shot, login, launch, crashed, finish, cspOf } from './lib.mjs';

const URL_ = env('CS_URL').replace(/\/$/, '');
const READER = [env('CS_READER_USER'), env('CS_READER_PASS')];
const CONSULTANT = [env('CS_CONSULTANT_USER'), env('CS_CONSULTANT_PASS')];
const TRAINER = [env('CS_TRAINER_USER'), env('CS_TRAINER_PASS')];
const TRAINEE = [env('CS_TRAINEE_USER'), env('CS_TRAINEE_PASS')];
const STUDY = env('CS_TRAINING_STUDY');

async function csrfOf(page) {
  const r = await page.request.get('/api/v1/session');
  eq(r.status(), 200, 'GET session');
  return (await r.json()).csrf_token;
}

const browser = await launch();
try {
  // The known answer, made through the API as a reader and a consultant
  // would make it in the workstation (workstation.mjs covers those pages).
  await check('a study of the demo frames is signed with two findings (the known answer)', async () => {
    const { page: rp, ctx: rc } = await lib.newPage(browser, URL_, 'reader', { allow: /status of (401|404)/ });
    await login(rp, READER);
    const csrf = await csrfOf(rp);
    const P = `/api/v1/studies/${STUDY}`;
    for (const f of [{ seq_from: 10, seq_to: 12, type: 'polyp', segment: 'left_colon', size_mm: 5 },
      { seq_from: 120, seq_to: 125, type: 'fresh_blood', segment: 'small_bowel' }]) {
      const r = await rp.request.post(`${P}/findings`, { headers: { 'X-CSRF-Token': csrf }, data: f });
      eq(r.status(), 201, 'reference finding');
    }
    const r = await rp.request.put(`${P}/report`, { headers: { 'X-CSRF-Token': csrf },
      // with the Nyborg 2025 fields signing needs (docs/clinical-record.md)
      data: { content: { findings_text: 'A polyp and fresh blood.', recommendation: 'colonoscopy',
        recommendation_reason: 'training reference', prep_checklist: 'Taken.',
        cc_clear: { right_colon: 3, transverse_colon: 3, left_colon: 3 }, extracolonic: 'None seen.',
        follow_up_months: 0, upper_gi_disclaimer_ack: true }, state: 'read' } });
    eq(r.status(), 200, 'report saved');
    const { version, basis } = await r.json();
    await rc.close();
    const { page: cp, ctx: cc } = await lib.newPage(browser, URL_, 'consultant', { allow: /status of (401|404)/ });
    await login(cp, CONSULTANT);
    const s = await cp.request.post(`${P}/report/sign`, { headers: { 'X-CSRF-Token': await csrfOf(cp) }, data: { version, basis } });
    eq(s.status(), 200, `sign: ${await s.text()}`);
    await cc.close();
  });

  const { page: tp, ctx: tctx } = await lib.newPage(browser, URL_, 'trainer');
  let caseId = null;
  await check('the trainer makes a course (flags hidden) and a case from the signed study', async () => {
    await login(tp, TRAINER);
    await tp.waitForSelector('#training');
    eq(await tp.locator('[data-testid="nav-worklist"]').count(), 0, 'a worklist link for a trainer');
    await tp.fill('#tc-name', 'E2E colon capsule');
    await tp.fill('#tc-cases', '1');
    await tp.click('[data-testid="course-create"]');
    const form = tp.locator('form.case-form').first();
    await form.waitFor();
    await form.locator('[data-testid="case-study"]').fill(STUDY);
    await form.locator('[data-testid="case-label"]').fill('Case A');
    await form.locator('[data-testid="case-add"]').click();
    await tp.waitForSelector('tr:has-text("Case A")');
    const row = tp.locator('tr:has-text("Case A")');
    caseId = (await row.getAttribute('data-testid')).replace('case-row-', '');
    assert(caseId, 'no case id');
  });

  const { page, ctx } = await lib.newPage(browser, URL_, 'trainee', { allow: /status of (401|403|404)/ });
  await check('the trainee starts on the training page and reads the case in the normal viewer, blind', async () => {
    await login(page, TRAINEE);
    await page.waitForSelector('#training');
    eq((await page.request.get('/api/v1/worklist')).status(), 403, 'the worklist for a trainee');
    eq((await page.request.get(`/api/v1/training/cases/${caseId}/reference`)).status(), 403, 'the reference before submitting');
    const idx = await (await page.request.get(`/api/v1/training/cases/${caseId}/frames`)).json();
    assert(idx.flags.every((f) => (f & ~33) === 0), 'engine flags in a flags-hidden course');
    assert(!JSON.stringify(idx).includes(STUDY), 'the study id in the case index');
    await page.click(`[data-testid="read-${caseId}"]`);
    await page.waitForSelector('#viewer[data-seq]');
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="frame-slot-0"] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    eq(await page.locator('[data-testid="open-report"]').count(), 0, 'a report link in a training case');
    // flags hidden: the page does not claim every frame "not readable"
    eq(await page.locator('[data-testid="chip-readable"]').count(), 0, 'a readability chip with the flags hidden');
  });

  await check('the trainee finds the polyp (misses the blood) and submits', async () => {
    await page.fill('#f-from', '11');
    await page.fill('#f-to', '11');
    await page.selectOption('#f-type', 'polyp');
    const put = page.waitForResponse((r) => /\/api\/v1\/training\/attempts\/\d+$/.test(r.url()) && r.request().method() === 'PUT');
    await page.click('#f-add');
    await page.waitForSelector('#findings-list li.finding');
    const res = await put;
    eq(res.status(), 200, 'saving the answer');
    // the server holds the finding, not just the page
    const attempt = await (await page.request.get(res.url())).json();
    const found = (attempt.answer?.findings || []).filter((f) => f.type === 'polyp' && f.seq_from === 11 && f.seq_to === 11);
    eq(found.length, 1, `the saved polyp finding in ${JSON.stringify(attempt.answer)}`);
    assert(!attempt.submitted_at_ms, 'submitted before the trainee pressed submit');
    page.once('dialog', (d) => d.accept());
    await page.click('[data-testid="training-submit"]');
    await page.waitForSelector('#feedback [data-testid="score"]');
  });

  await check('the feedback shows sensitivity 50% and lists the missed blood, one click from its frames', async () => {
    eq((await page.textContent('[data-testid="score-sensitivity"]')).trim(), '50%', 'sensitivity');
    const missed = page.locator('[data-testid="fb-missed-item"]');
    eq(await missed.count(), 1, 'missed findings');
    const text = await missed.first().textContent();
    assert(/fresh blood/i.test(text) && text.includes('120'), `missed: ${text}`);
    eq(await page.locator('[data-testid="fb-mine"] .fb-matched').count(), 1, 'the matched finding');
    await shot(page, 'training-feedback.png');
    await missed.first().locator('[data-testid="fb-open"]').click();
    await page.waitForFunction(() => Number(document.querySelector('#viewer')?.dataset.seq) === 120);
    eq((await page.request.get(`/api/v1/training/cases/${caseId}/reference`)).status(), 200, 'the reference after submitting');
  });

  await check('progress shows the read; the trainer sees it in the cohort', async () => {
    await page.goto('/#/training');
    await page.waitForSelector('[data-testid="progress-table"]');
    const row = await page.textContent('[data-testid="progress-table"] tbody tr');
    assert(row.includes('50%'), `progress row: ${row}`);
    await tp.goto('/#/training');
    await tp.reload();
    await tp.waitForSelector(`[data-testid^="progress-${TRAINEE[0]}-"]`);
    const csv = await tp.request.get('/api/v1/training/progress.csv');
    eq(csv.status(), 200, 'cohort CSV');
    assert((await csv.text()).includes(`"${TRAINEE[0]}"`), 'the trainee in the CSV');
    eq((await cspOf(page)).join('; '), '', 'CSP violations (trainee)');
    eq((await cspOf(tp)).join('; '), '', 'CSP violations (trainer)');
  });
  await ctx.close();
  await tctx.close();
} catch (e) {
  crashed(e);
} finally {
  await browser.close();
}
finish('training.mjs');
