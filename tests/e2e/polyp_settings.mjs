// A study whose frames were flagged at two polyp detector settings (a
// server restarted mid-study with another threshold; tests/e2e/
// polyp_settings.sh makes it for real) in a real Chromium: the reader's
// viewer and the consultant's report page both show a warning, never the
// quiet one-setting note, and its details (the tooltip) name each setting
// with its frame count, first and last frame, weights and threshold, as
// GET /api/v1/studies/{id} lists them. No page error, console error or CSP
// violation on the way.
//
// Environment: CS_URL, CS_READER_USER/CS_READER_PASS,
// CS_CONSULTANT_USER/CS_CONSULTANT_PASS, CS_STUDY, CS_SHOTS (optional),
// CHROMIUM.
import * as lib from './lib.mjs';
import { env, check, assert, eq, shot, login, launch, crashed, finish, assertNoProblems } from './lib.mjs';

const URL_ = env('CS_URL').replace(/\/$/, '');
const READER = [env('CS_READER_USER'), env('CS_READER_PASS')];
const CONS = [env('CS_CONSULTANT_USER'), env('CS_CONSULTANT_PASS')];
const STUDY = env('CS_STUDY');

// What the warning must say, from the study JSON: the count in its text,
// one line per setting in its details.
async function expected(page) {
  const r = await page.request.get(`/api/v1/studies/${STUDY}`);
  eq(r.status(), 200, 'GET study');
  const st = await r.json();
  const s = st.polyp_settings;
  eq(st.polyp_settings_total, 2, 'settings the study was flagged at');
  eq(s.length, 2, 'settings listed');
  assert(s[0].threshold !== s[1].threshold, `two settings with one threshold: ${JSON.stringify(s)}`);
  eq([s[0].frames, s[0].first_seq, s[0].last_seq, s[1].frames, s[1].first_seq, s[1].last_seq].join(','),
    '4,0,5,2,2,3', 'frames, first and last of each setting (A, B, A)');
  const lines = s.map((p) => `${p.frames} frames, first ${p.first_seq}, last ${p.last_seq}: ` +
    `weights ${p.weights_crc32c}, threshold ${Number(p.threshold).toPrecision(4)}`);
  return { text: 'Polyp flags at 2 detector settings', lines };
}

async function checkWarning(page, want, where) {
  const el = page.locator('[data-testid="polyp-setting"]');
  await el.waitFor();
  const text = await el.textContent();
  assert(text.startsWith(want.text), `${where} says '${text}', not '${want.text}…'`);
  assert(await el.evaluate((e) => e.classList.contains('warn')), `${where}: two settings not shown as a warning`);
  assert(await el.isVisible(), `${where}: the warning is not visible`);
  const title = await el.getAttribute('title');
  for (const l of want.lines) assert(title.includes(l), `${where}: the details lack '${l}': ${title}`);
}

const browser = await launch();
try {
  const { ctx, page } = await lib.newPage(browser, URL_, 'reader', { allow: /status of (401|404)/ });
  await check('the reader\'s viewer warns that the study was flagged at two detector settings, and names both', async () => {
    await login(page, READER);
    await page.goto(`/#/study/${encodeURIComponent(STUDY)}`);
    await page.waitForSelector('#viewer[data-seq]');
    await checkWarning(page, await expected(page), 'the viewer');
    await shot(page, 'polyp-settings-viewer.png');
  });
  await check('no page errors, console errors or CSP violations (reader)', async () => {
    await assertNoProblems(page);
  });
  await ctx.close();

  const { ctx: cctx, page: cpage } = await lib.newPage(browser, URL_, 'consultant', { allow: /status of (401|404)/ });
  await check('the consultant\'s report page shows the same warning before signing', async () => {
    await login(cpage, CONS);
    await cpage.goto(`/#/study/${encodeURIComponent(STUDY)}/report`);
    await cpage.waitForSelector('#report-sign');
    await checkWarning(cpage, await expected(cpage), 'the report page');
    await shot(cpage, 'polyp-settings-report.png');
  });
  await check('no page errors, console errors or CSP violations (consultant)', async () => {
    await assertNoProblems(cpage);
  });
  await cctx.close();
} catch (e) {
  crashed(e);
} finally {
  await browser.close();
}
finish('e2e polyp settings');
