// The report (#/study/ID/report): a structured form, prefilled from the
// findings, landmarks, cleansing grades and the patient's prep checklist
// while the report is empty; save as draft, mark as read, sign
// (consultants); read-only once signed. What is signed is exactly the
// form's content (formContent), the checklist included as text, so nothing
// ticked later can appear under the signature.
import { get, put, post, studyPath, thumbUrl } from './api.js';
import { h, clear, fmtTime, label, frameRange, toast, errorText, SEGMENTS, RECOMMENDATIONS } from './util.js';
import { session, can } from './app.js';

function findingLine(f) {
  const parts = [label(f.type), frameRange(f)];
  if (f.size_mm !== null && f.size_mm !== undefined) parts.push(`${f.size_mm} mm`);
  if (f.note) parts.push(f.note);
  return parts.join(', ');
}

export async function mountReport(main, studyId) {
  const [study, fr, marks, rep, care] = await Promise.all([
    get(studyPath(studyId)),
    get(studyPath(studyId, '/findings')),
    get(studyPath(studyId, '/marks')),
    get(studyPath(studyId, '/report')).catch((e) => { if (e.status === 404) return null; throw e; }),
    get(studyPath(studyId, '/care')).catch(() => null),
  ]);
  const findings = (fr.findings || []).filter((f) => !f.deleted).sort((a, b) => a.seq_from - b.seq_from);
  let report = rep;
  const mayWrite = can(['reader', 'consultant']);
  const maySign = can(['consultant']);

  // Prefills, used where the saved content is empty.
  const grades = Object.entries(marks.cleansing || {}).map(([, v]) => v && v.grade).filter(Boolean);
  const preAdequacy = grades.length ? (grades.every((g) => g === 'excellent' || g === 'good') ? 'adequate' : 'inadequate') : '';
  const lm = marks.landmarks || {};
  const preComplete = lm.excreted || lm.first_caecal ? 'complete' : 'incomplete';
  const preText = findings.map(findingLine).join('\n');
  const preKeys = [...new Set(findings.map((f) => f.seq_from))];
  const prePrep = ((care && care.prep) || []).map((p) =>
    `${p.text} (${label(p.day)} ${p.time}): ${p.done_at_ms ? `ticked ${fmtTime(p.done_at_ms)}` : 'not ticked'}`).join('\n');

  const txt = h('textarea#r-findings', { rows: 6, testid: 'report-findings' });
  const adequacy = h('select#r-adequacy', { testid: 'report-adequacy' },
    h('option', { value: '' }, '—'), h('option', { value: 'adequate' }, 'adequate'), h('option', { value: 'inadequate' }, 'inadequate'));
  const completeness = h('select#r-completeness', { testid: 'report-completeness' },
    h('option', { value: '' }, '—'), h('option', { value: 'complete' }, 'complete'), h('option', { value: 'incomplete' }, 'incomplete'));
  const recommendation = h('select#r-recommendation', { testid: 'report-recommendation' },
    h('option', { value: '' }, '— choose —'), RECOMMENDATIONS.map(([v, t]) => h('option', { value: v }, t)));
  const comments = h('textarea#r-comments', { rows: 3, testid: 'report-comments' });
  const prep = h('textarea#r-prep', { rows: 3, testid: 'report-prep' });
  const keys = h('input#r-keyframes', { testid: 'report-keyframes', placeholder: 'frame numbers, e.g. 12, 40, 113', inputmode: 'numeric' });
  const keyThumbs = h('div.key-thumbs#key-thumbs', { testid: 'report-keythumbs' });
  const msg = h('p.error#report-error', { role: 'alert', hidden: true, testid: 'report-error' });
  const stateEl = h('span#report-state', { testid: 'report-state' });
  const signedBanner = h('div.signed-banner#signed-banner', { testid: 'signed-banner', hidden: true, role: 'status' });
  const saveBtn = h('button.btn#report-save', { type: 'button', testid: 'report-save' }, 'Save draft');
  const readBtn = h('button.btn.btn-primary#report-read', { type: 'button', testid: 'report-mark-read' }, 'Mark as read');
  const signBtn = maySign ? h('button.btn.btn-sign#report-sign', { type: 'button', testid: 'report-sign' }, 'Sign report') : null;
  const printLink = h('a.btn.btn-quiet#report-print', { href: `/api/v1/studies/${encodeURIComponent(studyId)}/report.html`, target: '_blank', rel: 'noopener', testid: 'report-print' }, 'Printable report ↗');

  const cleansingSummary = h('ul.small.plain', SEGMENTS.map(([seg, t]) => {
    const c = (marks.cleansing || {})[seg];
    return h('li', `${t}: `, c ? h('strong', c.grade) : h('span.muted', 'not graded'));
  }));
  const landmarkSummary = h('p.small.muted', ['first_caecal', 'excreted'].map((k) => `${label(k)}: ${lm[k] ? `frame ${lm[k].seq}` : 'not set'}`).join(' · '));

  const form = h('form.card.report-form#report-form', { testid: 'report-form' },
    h('label', { for: 'r-findings' }, 'Findings'), txt,
    h('div.row3',
      h('div', h('label', { for: 'r-adequacy' }, 'Cleansing'), adequacy, cleansingSummary),
      h('div', h('label', { for: 'r-completeness' }, 'Completeness'), completeness, landmarkSummary),
      h('div', h('label', { for: 'r-recommendation' }, 'Recommendation'), recommendation)),
    h('label', { for: 'r-prep' }, "Bowel preparation: the patient's checklist"), prep,
    h('label', { for: 'r-comments' }, 'Comments'), comments,
    h('label', { for: 'r-keyframes' }, 'Key frames'), keys, keyThumbs,
    msg,
    h('div.buttons', mayWrite ? [saveBtn, readBtn] : null, signBtn, printLink));
  form.addEventListener('submit', (ev) => ev.preventDefault());

  main.appendChild(h('section.page.report-page#report', { testid: 'report-page', dataset: { study: studyId } },
    h('div.page-head',
      h('a.back', { href: `#/study/${encodeURIComponent(studyId)}` }, '← Viewer'),
      h('h1', `Report: ${study.label || studyId}`), h('span.mono.muted', studyId), h('span.spacer'), stateEl),
    signedBanner, form));

  function parseKeys() {
    const out = [];
    for (const part of keys.value.split(/[\s,;]+/)) {
      if (!part) continue;
      const n = Number(part);
      if (!Number.isInteger(n) || n < 0) throw new Error(`“${part}” is not a frame number`);
      if (!out.includes(n)) out.push(n);
    }
    return out;
  }

  function renderKeyThumbs() {
    clear(keyThumbs);
    let ks = [];
    try { ks = parseKeys(); } catch { return; }
    for (const s of ks.slice(0, 24))
      keyThumbs.appendChild(h('a.thumb', { href: `#/study/${encodeURIComponent(studyId)}`, title: `Frame ${s}` },
        h('img', { src: thumbUrl(studyId, s), alt: `Key frame ${s}`, loading: 'lazy', width: 96, height: 96 }), h('span', String(s))));
  }
  keys.addEventListener('change', renderKeyThumbs);

  function fill() {
    const c = (report && report.content) || {};
    txt.value = c.findings_text || preText;
    adequacy.value = c.cleansing_adequacy || preAdequacy;
    completeness.value = c.completeness || preComplete;
    recommendation.value = c.recommendation || '';
    comments.value = c.comments || '';
    prep.value = c.prep_checklist !== undefined ? c.prep_checklist : prePrep;
    keys.value = (c.key_frames && c.key_frames.length ? c.key_frames : preKeys).join(', ');
    renderKeyThumbs();
    const state = report ? report.state : 'none';
    stateEl.className = `state state-${state}`;
    stateEl.textContent = report ? state : 'not saved yet';
    document.getElementById('report')?.setAttribute('data-state', state);
    const signed = state === 'signed';
    signedBanner.hidden = !signed;
    signedBanner.textContent = signed ? `Signed by ${report.signed_by} at ${fmtTime(report.signed_at_ms)}` : '';
    const ro = signed || !mayWrite;
    for (const el of [txt, adequacy, completeness, recommendation, comments, prep, keys]) el.disabled = ro;
    form.classList.toggle('read-only', ro);
    for (const b of [saveBtn, readBtn]) b.hidden = signed;
    if (signBtn) signBtn.hidden = signed;
  }

  // The content the form holds: what is saved, and what is signed.
  function formContent(key_frames) {
    return {
      findings_text: txt.value, cleansing_adequacy: adequacy.value, completeness: completeness.value,
      recommendation: recommendation.value, comments: comments.value, prep_checklist: prep.value,
      key_frames,
    };
  }
  function contentNow() {
    return normal(formContent(parseKeys()));
  }
  function normal(c) {
    c = c || {};
    return [c.findings_text || '', c.cleansing_adequacy || '', c.completeness || '', c.recommendation || '',
      c.comments || '', c.prep_checklist || '', (c.key_frames || []).join(',')];
  }

  async function save(state) {
    msg.hidden = true;
    let key_frames;
    try { key_frames = parseKeys(); } catch (e) { msg.textContent = e.message; msg.hidden = false; return null; }
    const body = { content: formContent(key_frames), state };
    if (report && report.version !== undefined) body.version = report.version;
    try {
      report = await put(studyPath(studyId, '/report'), body);
      fill();
      return report;
    } catch (e) {
      msg.textContent = errorText(e);
      msg.hidden = false;
      return null;
    }
  }

  saveBtn.addEventListener('click', async () => { if (await save('draft')) toast('Draft saved'); });
  readBtn.addEventListener('click', async () => {
    if (!recommendation.value && !confirm('No recommendation chosen. Mark as read anyway?')) return;
    if (await save('read')) toast('Report marked as read');
  });
  // Someone else saved since this page showed the report: show their
  // version and ask for a review; never sign content not on screen.
  async function showNewerVersion() {
    try {
      report = await get(studyPath(studyId, '/report'));
      fill();
    } catch (e2) { /* the message below still stands */ }
    const who = report && report.updated_by ? ` by ${report.updated_by}` : '';
    msg.textContent = `The report was changed${who} since you opened it. Its current version is shown now: review it, then sign again.`;
    msg.hidden = false;
    document.getElementById('report')?.setAttribute('data-review', 'newer-version');
  }

  if (signBtn) signBtn.addEventListener('click', async () => {
    if (!recommendation.value) { msg.textContent = 'Choose a recommendation before signing'; msg.hidden = false; return; }
    document.getElementById('report')?.removeAttribute('data-review');
    // The server signs exactly the version named: the one on screen. If
    // the screen differs from it, save first (against the version this
    // page holds, so a save by someone else in between is a conflict)
    // and sign the version that save returned.
    let same = false;
    try { same = !!report && JSON.stringify(contentNow()) === JSON.stringify(normal(report.content)); } catch { same = false; }
    if (!same) {
      msg.hidden = true;
      let key_frames;
      try { key_frames = parseKeys(); } catch (e) { msg.textContent = e.message; msg.hidden = false; return; }
      try {
        report = await put(studyPath(studyId, '/report'), {
          content: formContent(key_frames),
          state: 'read',
          version: report ? report.version : 0,
        });
        fill();
      } catch (e) {
        if (e.status === 409 && e.code === 'version_conflict') { await showNewerVersion(); return; }
        msg.textContent = errorText(e);
        msg.hidden = false;
        return;
      }
    }
    try {
      report = await post(studyPath(studyId, '/report/sign'), { version: report.version });
      fill();
      toast('Report signed');
    } catch (e) {
      if (e.status === 409 && e.code === 'version_conflict') { await showNewerVersion(); return; }
      msg.textContent = e.code === 'ingest_incomplete'
        ? 'The study is not complete yet (uploads open or analysis running): it can be signed once all data is in and analysed, or after a coordinator closes the study.'
        : errorText(e);
      msg.hidden = false;
    }
  });

  fill();
  if (session.role === 'admin') {
    form.prepend(h('p.notice.small', 'Admins may read the report; readers and consultants write it.'));
  }
}
