// End-to-end test of the workstation's polyp features (docs/web.md,
// "Polyps and boxes") in a real Chromium driven by playwright-core: polyp
// markers on the timeline, Y / Shift+Y jump between polyp frames, the
// flagged-frame strip filtered by finding, the detector's boxes drawn over
// the frame and hidden by B (and a bleeding frame's bleeding boxes), a
// click on a polyp box adding a polyp finding
// with the frame and an estimated size, the size caveat shown; and no CSP
// violation, console error or page error on the way.
//
// Environment: CS_URL, CS_READER_USER/CS_READER_PASS, CS_POLYP_STUDY (the
// demo study with its pasted-polyp frames, analysed, report not signed),
// CS_SOURCE_DIR (for samples/demo/labels.csv), CS_SHOTS (optional),
// CHROMIUM. tests/e2e/run.sh sets them up.
import fs from 'node:fs';
import path from 'node:path';
import * as lib from './lib.mjs';
import { env, check, assert, eq, shot, login, launch, crashed, finish, problems, cspOf } from './lib.mjs';

const URL_ = env('CS_URL').replace(/\/$/, '');
const READER = [env('CS_READER_USER'), env('CS_READER_PASS')];
const STUDY = env('CS_POLYP_STUDY');
const SRC = env('CS_SOURCE_DIR');

const VOCAB = await (await fetch(`${URL_}/api/v1/vocabulary`)).json();
const flagBit = (name) => {
  const i = VOCAB.frame_flags.findIndex((f) => f.name === name);
  if (i < 0) { console.error(`e2e: the vocabulary has no frame flag '${name}'`); process.exit(1); }
  return 1 << i;
};
const F_BLEEDING = flagBit('bleeding'), F_POLYP = flagBit('polyp');

// The frames with a pasted polyp, by position: labels.csv lists the demo
// frames in the packer's (natural) order with a polyp column.
const labelRows = fs.readFileSync(path.join(SRC, 'samples/demo/labels.csv'), 'utf8').trim().split('\n');
const head = labelRows[0].split(',');
const PASTED = labelRows.slice(1).map((l, i) => [i, l.split(',')[head.indexOf('polyp')]])
  .filter(([, p]) => p === '1').map(([i]) => i);

const seqOf = (page) => page.$eval('#viewer', (v) => Number(v.dataset.seq));

// The box `testid` of frame slot 0 on screen, against where box `bx`
// ([x, y, w, h] in the frame's pixels; `b` its index entry with w, h) must
// be drawn over the image as it is fitted into the slot. -> the box's element data.
async function expectBoxAt(page, testid, bx, b, what) {
  const geo = await page.$eval('[data-testid="frame-slot-0"]', (slot, id) => {
    const img = slot.querySelector('img'), el = slot.querySelector(`[data-testid="${id}"]`);
    const s = slot.getBoundingClientRect(), r = el.getBoundingClientRect();
    return { sw: s.width, sh: s.height, sl: s.left, st: s.top, nw: img.naturalWidth, nh: img.naturalHeight, l: r.left, t: r.top, w: r.width, h: r.height, seq: el.dataset.seq, text: el.textContent };
  }, testid);
  const k = Math.min(geo.sw / geo.nw, geo.sh / geo.nh);
  const ox = geo.sl + (geo.sw - geo.nw * k) / 2, oy = geo.st + (geo.sh - geo.nh * k) / 2;
  const want = { l: ox + (bx[0] / b.w) * geo.nw * k, t: oy + (bx[1] / b.h) * geo.nh * k, w: (bx[2] / b.w) * geo.nw * k, h: (bx[3] / b.h) * geo.nh * k };
  for (const key of ['l', 't', 'w', 'h']) {
    assert(Math.abs(geo[key] - want[key]) <= 2, `${what} ${key}: ${geo[key].toFixed(1)} on screen, ${want[key].toFixed(1)} expected`);
  }
  return geo;
}

const browser = await launch();

try {
  // Expected console errors, as in workstation.mjs: the session probe before
  // login (401) and the report of a study nobody has written one for (404).
  const { ctx, page } = await lib.newPage(browser, URL_, 'reader',
    { allow: /status of (401|404)/, viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });

  let index = null, polyps = [], bleeds = [];
  await check('the reader opens the demo study; the index flags every pasted-polyp frame', async () => {
    await login(page, READER);
    await page.goto(`/#/study/${encodeURIComponent(STUDY)}`);
    await page.waitForSelector('#viewer[data-seq]');
    const r = await page.request.get(`/api/v1/studies/${STUDY}/frames`);
    eq(r.status(), 200, 'GET frames index');
    index = await r.json();
    eq(index.polyp_p.length, index.count, 'polyp_p column length');
    for (let s = 0; s < index.count; s++) {
      if (index.flags[s] & F_POLYP) polyps.push(s);
      if (index.flags[s] & F_BLEEDING) bleeds.push(s);
    }
    assert(PASTED.length >= 3, `labels.csv names ${PASTED.length} polyp frames`);
    const missed = PASTED.filter((s) => !(index.flags[s] & F_POLYP));
    eq(missed.length, 0, `pasted-polyp frames the detector did not flag (of ${PASTED.join(',')})`);
    for (const s of polyps) {
      const b = index.boxes[String(s)];
      assert(b && b.p.length > 0, `polyp frame ${s} has no polyp box in the index`);
      assert(index.polyp_p[s] >= 0 && index.polyp_p[s] <= 1000, `polyp_p[${s}] = ${index.polyp_p[s]}`);
    }
    console.log(`  # polyp frames ${polyps.join(',')}; pasted ${PASTED.join(',')}`);
  });

  await check('the viewer names the polyp detector its frames were flagged by', async () => {
    const r = await page.request.get(`/api/v1/studies/${STUDY}`);
    eq(r.status(), 200, 'GET study');
    const settings = (await r.json()).polyp_settings;
    eq(settings.length, 1, 'polyp operating points of the demo study');
    const el = page.locator('[data-testid="polyp-setting"]');
    const text = await el.textContent();
    assert(text.includes(`weights ${settings[0].weights_crc32c}`) &&
      text.includes(`threshold ${Number(settings[0].threshold).toPrecision(4)}`),
    `the viewer head says '${text}', the study was flagged at ${JSON.stringify(settings[0])}`);
    assert(!(await el.evaluate((e) => e.classList.contains('warn'))), 'one setting shown as a warning');
  });

  await check('polyp flags are drawn on the timeline in their own colour', async () => {
    await page.waitForFunction((n) => {
      const c = document.getElementById('timeline');
      return c && c.dataset.polypTicks !== undefined && c.dataset.polypTicks.split(',').filter(Boolean).length === n;
    }, polyps.length);
    const px = await page.$eval('#timeline', (c) => {
      const xs = c.dataset.polypTicks.split(',').map(Number), y = Number(c.dataset.tickRow);
      const g = c.getContext('2d');
      return xs.map((x) => Array.from(g.getImageData(x, y, 1, 1).data));
    });
    for (const [r, g, b] of px) assert(b > 180 && r > 120 && g < 160, `a polyp tick is not violet: rgb(${r},${g},${b})`);
    // and a bleeding tick's colour differs (red) where there is one
    if (bleeds.length) {
      const [r, g, b] = await page.$eval('#timeline', (c, n) => {
        const w = c.clientWidth, x = Math.floor(((n + 0.5) * w) / Number(document.getElementById('viewer').dataset.count));
        const band = Math.round(c.clientHeight * 0.55);
        return Array.from(c.getContext('2d').getImageData(x, band + 10, 1, 1).data);
      }, bleeds[0]);
      assert(r > 200 && b < 100, `a bleeding tick is not red: rgb(${r},${g},${b})`);
    }
  });

  await check('Y / Shift+Y jump to the next / previous polyp frame; ? lists the keys', async () => {
    await page.keyboard.press('Home');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.seq === '0');
    const visible = polyps; // full view
    for (let i = 0; i < Math.min(3, visible.length); i++) {
      await page.keyboard.press('y');
      await page.waitForFunction((s) => document.getElementById('viewer').dataset.seq === String(s), visible[i]);
      assert(await page.isVisible('[data-testid="chip-polyp"]'), `no polyp chip at frame ${visible[i]}`);
    }
    if (visible.length > 1) {
      const at = await seqOf(page);
      const i = visible.indexOf(at);
      await page.keyboard.press('Shift+Y');
      await page.waitForFunction((s) => document.getElementById('viewer').dataset.seq === String(s), visible[i - 1]);
    }
    await page.keyboard.press('?');
    await page.waitForSelector('#help[open]');
    const keys = await page.$$eval('#help tr', (trs) => trs.map((tr) => tr.textContent));
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#help[open]'));
    assert(keys.some((k) => k.startsWith('Y / Shift+Y') && k.includes('next / previous polyp frame')), `the help lacks Y / Shift+Y: ${keys.join(' | ')}`);
    assert(keys.some((k) => k.startsWith('B') && k.includes('boxes')), 'the help lacks B');
  });

  await check('the flagged strip filters by finding: all, bleeding, polyp', async () => {
    const thumbs = () => page.$$eval('#flag-strip .thumb', (bs) => bs.map((b) => ({ seq: Number(b.dataset.seq), bl: b.dataset.bleeding === 'true', po: b.dataset.polyp === 'true' })));
    await page.click('[data-testid="strip-filter-polyp"]');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.stripFilter === 'polyp');
    let t = await thumbs();
    eq(t.map((x) => x.seq).join(','), polyps.join(','), 'polyp filter shows exactly the polyp frames');
    assert(t.every((x) => x.po), 'a non-polyp frame in the polyp strip');
    assert((await page.textContent('[data-testid="strip-title"]')).startsWith(`Polyp frames (${polyps.length}`), 'strip title');
    // the detector's blind spot is said where polyp flags are listed, not under bleeding alone
    assert(await page.isVisible('[data-testid="polyp-miss-note"]'), 'no small-polyp note beside the polyp strip');
    assert((await page.textContent('[data-testid="polyp-miss-note"]')).includes('misses small polyps'), 'small-polyp note text');
    await shot(page, 'polyp-strip.png');
    await page.click('[data-testid="strip-filter-bleeding"]');
    t = await thumbs();
    eq(t.map((x) => x.seq).join(','), bleeds.slice(0, 600).join(','), 'bleeding filter shows the bleeding frames');
    assert(!(await page.isVisible('[data-testid="polyp-miss-note"]')), 'the small-polyp note shown under the bleeding filter');
    await page.click('[data-testid="strip-filter-all"]');
    t = await thumbs();
    const all = [...new Set([...polyps, ...bleeds])].sort((a, b) => a - b);
    eq(t.map((x) => x.seq).join(','), all.slice(0, 600).join(','), 'all shows both');
    assert(await page.isVisible('[data-testid="polyp-miss-note"]'), 'no small-polyp note under All');
    // a polyp thumbnail seeks there
    await page.click('[data-testid="strip-filter-polyp"]');
    await page.click(`[data-testid="thumb-${PASTED[0]}"]`);
    await page.waitForFunction((s) => document.getElementById('viewer').dataset.seq === String(s), PASTED[0]);
  });

  let box = null;
  await check('the polyp box is drawn over the frame where the index puts it, and B hides and shows it', async () => {
    const seq = PASTED[0];
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="frame-slot-0"] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    const sel = '[data-testid="frame-slot-0"] [data-testid="box-polyp-0"]';
    await page.waitForSelector(`${sel}:visible`);
    const b = index.boxes[String(seq)];
    box = b.p[0];
    const geo = await expectBoxAt(page, 'box-polyp-0', box, b, 'box');
    eq(geo.seq, String(seq), 'the box belongs to the shown frame');
    await shot(page, 'polyp-box.png');
    await page.keyboard.press('b');
    await page.waitForSelector(sel, { state: 'hidden' });
    eq(await page.$eval('#viewer', (v) => v.dataset.boxes), 'false', 'boxes state after B');
    await page.keyboard.press('b');
    await page.waitForSelector(`${sel}:visible`);
  });

  await check('a bleeding box is drawn over its frame where the index puts it, and B hides and shows it', async () => {
    // the first bleeding frame in the strip whose index entry has bleeding boxes
    const seq = bleeds.slice(0, 600).find((s) => ((index.boxes[String(s)] || {}).b || []).length > 0);
    assert(seq !== undefined, 'no bleeding frame of the demo study has a bleeding box in the index');
    await page.click('[data-testid="strip-filter-bleeding"]');
    await page.click(`[data-testid="thumb-${seq}"]`);
    await page.waitForFunction((s) => document.getElementById('viewer').dataset.seq === String(s), seq);
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="frame-slot-0"] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    const sel = '[data-testid="frame-slot-0"] [data-testid="box-bleeding-0"]';
    await page.waitForSelector(`${sel}:visible`);
    const b = index.boxes[String(seq)];
    const geo = await expectBoxAt(page, 'box-bleeding-0', b.b[0], b, 'bleeding box');
    eq(geo.seq, String(seq), 'the bleeding box belongs to the shown frame');
    assert(geo.text.startsWith('blood '), `bleeding box label: ${geo.text}`);
    await shot(page, 'bleeding-box.png');
    await page.keyboard.press('b');
    await page.waitForSelector(sel, { state: 'hidden' });
    await page.keyboard.press('b');
    await page.waitForSelector(`${sel}:visible`);
    // back to the polyp frame the next check clicks
    await page.click('[data-testid="strip-filter-polyp"]');
    await page.click(`[data-testid="thumb-${PASTED[0]}"]`);
    await page.waitForFunction((s) => document.getElementById('viewer').dataset.seq === String(s), PASTED[0]);
  });

  await check('clicking the polyp box adds a polyp finding at that frame with an estimated size and the caveat', async () => {
    const seq = PASTED[0];
    const b = index.boxes[String(seq)];
    const before = (await (await page.request.get(`/api/v1/studies/${STUDY}/findings`)).json()).findings || [];
    await page.click('[data-testid="frame-slot-0"] [data-testid="box-polyp-0"]');
    await page.waitForSelector(`#findings-list li.finding[data-seq-from="${seq}"] .type-polyp`);
    const after = (await (await page.request.get(`/api/v1/studies/${STUDY}/findings`)).json()).findings || [];
    const added = after.filter((f) => !before.some((o) => o.id === f.id));
    eq(added.length, 1, 'findings added by one click');
    const f = added[0];
    eq(f.type, 'polyp', 'type');
    eq(f.seq_from, seq, 'seq_from');
    eq(f.seq_to ?? f.seq_from, seq, 'seq_to');
    // the documented estimate: larger box side / larger frame side x 30 mm, to 0.5 mm
    const mm = Math.max(0.5, Math.round((Math.max(box[2], box[3]) / Math.max(b.w, b.h)) * 30 * 2) / 2);
    eq(f.size_mm, mm, 'size_mm');
    assert(/3–4 mm large/.test(f.note), `the note lacks the caveat: ${f.note}`);
    const li = `#findings-list li.finding[data-seq-from="${seq}"]`;
    assert((await page.textContent(`${li} .size`)).includes(`${mm} mm`), 'the list shows the size');
    assert(await page.isVisible(`${li} [data-testid="finding-size-caveat"]`), 'no caveat beside the size in the list');
    assert(await page.isVisible('[data-testid="finding-size-note"]'), 'the size note in the form is not visible');
    assert((await page.textContent('[data-testid="finding-size-note"]')).includes('3–4 mm large'), 'size note text');
    assert(await page.isVisible('[data-testid="size-note"]'), 'the viewer size note is not visible');
    await shot(page, 'polyp-finding.png');
  });

  await check('the worklist counts the study\'s polyp frames', async () => {
    await page.goto('/#/worklist');
    const cell = `[data-testid="study-row-${STUDY}"] [data-testid="wl-polyp"]`;
    await page.waitForSelector(cell);
    eq((await page.textContent(cell)).trim(), String(polyps.length), 'polyp flags in the worklist');
  });

  await check('no page errors, console errors or CSP violations', async () => {
    const csp = await cspOf(page);
    assert(csp.length === 0, `CSP violations: ${csp.join('; ')}`);
    assert(problems.length === 0, problems.join('\n'));
  });
  await ctx.close();
} catch (e) {
  crashed(e);
} finally {
  await browser.close();
}
finish('e2e polyp');
