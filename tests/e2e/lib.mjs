// lib.mjs - what the browser tests share (workstation.mjs, polyp.mjs,
// care.mjs): the environment, TAP-style checks, the browser, pages that
// collect page errors, console errors and CSP violations, login and
// screenshots. playwright-core comes from tests/node (npm ci from its lock).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

export const require = createRequire(new URL('../node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const TIMEOUT = 20000;
export const SHOTS = process.env.CS_SHOTS || '';

/** A required environment variable (exit 2 when missing). */
export function env(k, d) {
  const v = process.env[k] ?? d;
  if (v === undefined || v === '') { console.error(`e2e: ${k} is not set`); process.exit(2); }
  return v;
}

export function assert(cond, msg) { if (!cond) throw new Error(msg); }
export function eq(a, b, msg) {
  if (a !== b) throw new Error(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

const tally = { passed: 0, failed: 0 };
/** Problems the pages reported (page errors, unexpected console errors). */
export const problems = [];

/** One named check: "ok - NAME" or "not ok - NAME" with the error. */
export async function check(name, fn) {
  try {
    await fn();
    tally.passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    tally.failed++;
    console.log(`not ok - ${name}`);
    console.log(`  # ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n  # ')}`);
  }
}

/** Debian's Chromium (or $CHROMIUM), headless. */
export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
}

/**
 * A page in a new context at `baseURL`. Page errors and console errors go
 * to `problems`, except console errors matching `allow` (the refusals a
 * test asks for on purpose). CSP violations, as the page itself sees them,
 * collect in window.__csp (init scripts are not subject to the page's CSP).
 * Extra context options (viewport, bypassCSP) in `ctxOptions`.
 */
export async function newPage(browser, baseURL, who, { allow = /status of (401|403)/, ...ctxOptions } = {}) {
  const ctx = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 }, ...ctxOptions });
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error' || allow.test(m.text())) return;
    problems.push(`${who}: console error: ${m.text()}`);
  });
  return { ctx, page };
}

/** The CSP violations a page has seen. */
export const cspOf = (page) => page.evaluate(() => window.__csp || []);

/** Throw when the page saw a CSP violation or any page recorded a problem. */
export async function assertNoProblems(page) {
  const csp = await cspOf(page);
  assert(csp.length === 0, `CSP violations: ${csp.join('; ')}`);
  assert(problems.length === 0, problems.join('\n'));
}

/** Log in through the workstation's login page. */
export async function login(page, [user, pass]) {
  await page.goto('/#/login');
  await page.fill('#login-user', user);
  await page.fill('#login-password', pass);
  await page.click('#login-submit');
  await page.waitForSelector('[data-testid="who-name"]:visible');
  await page.waitForFunction((u) => document.getElementById('who-name').textContent === u, user);
}

/** A screenshot into $CS_SHOTS, when set (the toast hidden). */
export async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => { const t = document.getElementById('toast'); if (t) t.hidden = true; });
  await page.screenshot({ path: path.join(SHOTS, name), type: 'png', fullPage: true });
}

/** Count a failure of the test itself (outside any check). */
export function crashed(e) {
  tally.failed++;
  console.log(`not ok - the test itself failed: ${e && e.stack || e}`);
}

/** Print the tally and exit 1 on any failure or page problem. */
export function finish(what) {
  for (const p of problems) { console.log(`not ok - ${p}`); tally.failed++; }
  console.log(`${what}: ${tally.passed} passed, ${tally.failed} failed`);
  process.exit(tally.failed ? 1 : 0);
}
