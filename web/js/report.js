// The report (#/study/ID/report): a structured form to the Nyborg 2025
// standard (docs/clinical-record.md), prefilled from the findings and the
// patient's prep checklist while the report is empty; CC-CLEAR per
// segment with the engine's suggestion, which the reader confirms;
// completeness, the suggested recommendation and the mandatory fields
// still missing come from the server (`derived`, recomputed on each
// save); save as draft, mark as read, sign (consultants); read-only once
// signed, corrected only by addenda. What is signed is exactly the form's
// content (formContent), the checklist included as text, so nothing
// ticked later can appear under the signature; and the findings, the
// landmarks and the patient details shown above the form, with the basis
// stamp of the answer loaded before them, so no finding, landmark or
// patient change after they were shown can either (a save just before
// signing keeps the stamp that was on screen).
import { get, put, post, studyPath, thumbUrl } from './api.js';
import { h, clear, fmtTime, fmtNhs, label, frameRange, toast, errorText, RECOMMENDATIONS, polypSettingNote } from './util.js';
import { session, can } from './app.js';
import { SIZE_CAVEAT } from './boxes.js';

function findingLine(f) {
  const parts = [label(f.type), frameRange(f)];
  if (f.size_mm !== null && f.size_mm !== undefined) parts.push(`${f.size_mm} mm`);
  if (f.note) parts.push(f.note);
  return parts.join(', ');
}

export async function mountReport(main, studyId) {
  // The report first: its basis stamp is taken before the landmarks and
  // patient details below are read, so what the page shows is never older
  // than the stamp it signs with (a change in between is refused as
  // basis_changed, never signed unseen).
  const rep = await get(studyPath(studyId, '/report')).catch((e) => { if (e.status === 404) return null; throw e; });
  let [study, fr, marks, care] = await Promise.all([
    get(studyPath(studyId)),
    get(studyPath(studyId, '/findings')),
    get(studyPath(studyId, '/marks')),
    get(studyPath(studyId, '/care')).catch(() => null),
  ]);
  const findings = (fr.findings || []).filter((f) => !f.deleted).sort((a, b) => a.seq_from - b.seq_from);
  let report = rep;
  const mayWrite = can(['reader', 'consultant']);
  const maySign = can(['consultant']);

  // Prefills, used where the saved content is empty.
  let lm = marks.landmarks || {};
  const preText = findings.map(findingLine).join('\n');
  const preKeys = [...new Set(findings.map((f) => f.seq_from))];
  const prePrep = ((care && care.prep) || []).map((p) =>
    `${p.text} (${label(p.day)} ${p.time}): ${p.done_at_ms ? `ticked ${fmtTime(p.done_at_ms)}` : 'not ticked'}`).join('\n');

  const txt = h('textarea#r-findings', { rows: 6, testid: 'report-findings' });
  // Beside the findings whenever a size shows there (a finding's size, or
  // "N mm" in the text): capsule sizes run large.
  const sizeCaveat = h('p.size-caveat.small#r-size-caveat', { testid: 'report-size-caveat', hidden: true },
    `Sizes here are capsule estimates. ${SIZE_CAVEAT} Size a polyp against a known reference where one is in view.`);
  const showSizeCaveat = () => {
    const listed = report && report.findings ? report.findings : findings;
    sizeCaveat.hidden = !(listed.some((f) => f.size_mm !== null && f.size_mm !== undefined) || /\d\s*mm\b/.test(txt.value));
  };
  txt.addEventListener('input', showSizeCaveat);
  // CC-CLEAR: a 0-3 choice per segment, "not confirmed" until the reader
  // picks one; the engine's suggestion beside it, taken with one click.
  const CC_SEGMENTS = [['right_colon', 'Right colon'], ['transverse_colon', 'Transverse colon'], ['left_colon', 'Left colon']];
  const ccSel = {}, ccHint = {};
  const ccRows = CC_SEGMENTS.map(([seg, t]) => {
    ccSel[seg] = h(`select#cc-${seg}`, { testid: `cc-${seg}`, 'aria-label': `CC-CLEAR ${t}` },
      h('option', { value: '' }, 'not confirmed'), [0, 1, 2, 3].map((g) => h('option', { value: String(g) }, String(g))));
    ccHint[seg] = h('span.small.muted', { testid: `cc-hint-${seg}` });
    return h('tr', h('th', { scope: 'row' }, t), h('td', ccSel[seg]), h('td', ccHint[seg]));
  });
  const ccTotal = h('p#cc-total', { testid: 'cc-total' });
  const ccTable = h('table.cc-clear', h('tr', h('th', 'Segment'), h('th', 'Score (0–3)'), h('th', 'Engine suggestion')), ccRows);
  const completenessEl = h('p#r-completeness', { testid: 'report-completeness' });
  const suggestionEl = h('p.small#r-suggestion', { testid: 'report-suggestion' });
  const reason = h('textarea#r-reason', { rows: 2, testid: 'report-reason', placeholder: 'Why this differs from the suggestion' });
  const reasonBox = h('div#r-reason-box', { hidden: true }, h('label', { for: 'r-reason' }, 'Reason for a recommendation other than the suggestion'), reason);
  const followUp = h('input#r-followup', { type: 'number', min: 0, max: 120, step: 1, testid: 'report-followup', inputmode: 'numeric' });
  const extracolonic = h('textarea#r-extracolonic', { rows: 2, testid: 'report-extracolonic', placeholder: 'Extracolonic and small-bowel findings, or “None seen.”' });
  const disclaimerText = h('p.small.disclaimer#r-disclaimer-text');
  const disclaimer = h('input#r-disclaimer', { type: 'checkbox', testid: 'report-disclaimer' });
  const missingEl = h('div.notice.small#report-missing', { testid: 'report-missing', hidden: true, role: 'status' });
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

  // The landmarks and the patient and episode details the printed report
  // gives: under the signature too, so shown here, and drawn again with
  // the report when a change is shown for review.
  const landmarkSummary = h('p.small.muted#report-landmarks', { testid: 'report-landmarks' });
  const patientLine = h('p#report-patient-line', { testid: 'report-patient' });
  const episodeLine = h('p.small#report-episode-line', { testid: 'report-episode' });
  const patientBox = h('div.report-patient#report-patient',
    h('span.label', 'Patient and episode (as the printed report gives them)'), patientLine, episodeLine);
  function renderContext() {
    lm = marks.landmarks || {};
    landmarkSummary.textContent = ['first_caecal', 'excreted'].map((k) => `${label(k)}: ${lm[k] ? `frame ${lm[k].seq}` : 'not set'}`).join(' · ');
    const p = study.patient, e = study.episode;
    patientLine.textContent = p
      ? `${p.family.toUpperCase()}, ${p.given} · NHS ${fmtNhs(p.nhs_number)} · born ${p.birth_date} · ${label(p.sex)}`
      : 'No patient recorded for this study.';
    episodeLine.textContent = e
      ? [`Pathway: ${label(e.pathway)}`, `indication: ${label(e.indication)}${e.indication_detail ? ` (${e.indication_detail})` : ''}`,
        e.referrer ? `referrer: ${e.referrer}` : ''].filter(Boolean).join(' · ')
      : 'No episode details recorded.';
  }
  renderContext();
  // The stamp that what is on screen matches: the one a sign names. It
  // moves to a new report answer's stamp only once the landmarks and
  // patient details have been read again after that answer (so they are
  // at least as new as it); until then, or if that read fails, it stays
  // the older one, which the server refuses if anything changed since.
  let shownBasis = rep ? rep.basis : null;
  async function showAnswer(answer) {
    report = answer;
    fill();
    const stamp = answer.basis;
    try {
      [study, marks] = await Promise.all([get(studyPath(studyId)), get(studyPath(studyId, '/marks'))]);
    } catch {
      return false;
    }
    renderContext();
    if (report === answer) shownBasis = stamp; // no newer answer meanwhile
    return true;
  }

  // The findings the printed report lists, as the server's REPORT answer
  // gave them with its basis stamp: what a signature covers besides the
  // form (docs/workstation.md, "Signing").
  const underBody = h('tbody');
  const underNote = h('p.small.muted#report-findings-under-note');
  const underBox = h('div.findings-under#report-findings-under', { testid: 'report-findings-under' },
    h('span.label', 'Findings under this report (as the printed report lists them)'),
    h('table.findings-under-table', h('thead', h('tr', ['Type', 'Segment', 'Frames', 'Size', 'Morphology', 'Note'].map((t) => h('th', t)))), underBody),
    underNote);
  function renderUnder() {
    clear(underBody);
    const list = report && report.findings ? report.findings : null;
    const shown = list || findings;
    for (const f of shown)
      underBody.append(h('tr', { dataset: { id: String(f.id) } },
        h('td', label(f.type), f.count > 1 ? ` ×${f.count}` : '', f.suspected_cancer ? h('strong.report-urgent', ' suspected cancer') : ''),
        h('td', f.segment || 'not recorded'), h('td', frameRange(f)),
        h('td', f.size_mm !== null && f.size_mm !== undefined ? `${f.size_mm} mm*` : ''),
        h('td', f.morphology || ''), h('td', f.note || '')));
    underNote.textContent = (!shown.length ? 'No findings recorded. ' : '') +
      (list ? 'Signing signs these as listed; if they change before you sign, the report is shown again for review.'
        : 'Saved with the report: the list the signature covers is shown once the report is saved.');
  }

  const form = h('form.card.report-form#report-form', { testid: 'report-form' },
    patientBox,
    underBox,
    h('label', { for: 'r-findings' }, 'Findings'), txt, sizeCaveat,
    h('label', { for: 'r-prep' }, "Bowel preparation: the patient's checklist"), prep,
    h('fieldset.cc-fieldset', h('legend', 'Bowel cleansing (CC-CLEAR)'), ccTable, ccTotal),
    h('div.row3',
      h('div', h('span.label', 'Completeness'), completenessEl, landmarkSummary),
      h('div', h('label', { for: 'r-recommendation' }, 'Recommendation'), recommendation, suggestionEl),
      h('div', h('label', { for: 'r-followup' }, 'Follow-up interval (months)'), followUp)),
    reasonBox,
    h('label', { for: 'r-extracolonic' }, 'Extracolonic and small-bowel findings'), extracolonic,
    h('label', { for: 'r-comments' }, 'Comments'), comments,
    h('label', { for: 'r-keyframes' }, 'Key frames'), keys, keyThumbs,
    h('div.disclaimer-box', disclaimerText,
      h('label.inline', disclaimer, ' I have read the upper-GI disclaimer above and it is included in the report')),
    missingEl,
    msg,
    h('div.buttons', mayWrite ? [saveBtn, readBtn] : null, signBtn, printLink));
  form.addEventListener('submit', (ev) => ev.preventDefault());

  // Addenda: the only change a signed report takes.
  const addendaList = h('ol.addenda#report-addenda', { testid: 'report-addenda' });
  const adReason = h('input#ad-reason', { testid: 'addendum-reason', maxlength: 255, placeholder: 'Why (e.g. histology received)' });
  const adText = h('textarea#ad-text', { rows: 3, testid: 'addendum-text' });
  const adBtn = h('button.btn.btn-primary#addendum-add', { type: 'button', testid: 'addendum-add' }, 'Add addendum');
  const adMsg = h('p.error#addendum-error', { role: 'alert', hidden: true });
  const adForm = h('form.addendum-form#addendum-form', { testid: 'addendum-form', hidden: true },
    h('label', { for: 'ad-reason' }, 'Reason'), adReason, h('label', { for: 'ad-text' }, 'Addendum'), adText, adMsg, adBtn);
  adForm.addEventListener('submit', (ev) => ev.preventDefault());
  const addendaCard = h('section.card#addenda-card', { hidden: true }, h('h2', 'Addenda'), addendaList, adForm);

  main.appendChild(h('section.page.report-page#report', { testid: 'report-page', dataset: { study: studyId } },
    h('div.page-head',
      h('a.back', { href: `#/study/${encodeURIComponent(studyId)}` }, '← Viewer'),
      h('h1', `Report: ${study.label || studyId}`), h('span.mono.muted', studyId),
      polypSettingNote(study), h('span.spacer'), stateEl),
    signedBanner, form, addendaCard));

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

  // The server's derived fields for the saved version (null before the
  // first save: then nothing is suggested yet).
  const MISSING_LABELS = {
    patient: 'patient details (on the study)', indication: 'indication (on the study)',
    bowel_preparation: 'bowel preparation', cc_clear: 'CC-CLEAR score of every segment',
    cleansing_adequacy: 'cleansing adequacy (from CC-CLEAR)', completeness: 'completeness (needs CC-CLEAR)',
    findings: 'segment of every finding and size of every polyp', extracolonic: 'extracolonic findings',
    recommendation: 'recommendation', recommendation_reason: 'reason for overriding the suggestion',
    follow_up_months: 'follow-up interval', reader: 'reader', upper_gi_disclaimer_ack: 'upper-GI disclaimer acknowledged',
  };
  function showMissing(list) {
    missingEl.hidden = !list || !list.length;
    clear(missingEl);
    if (list && list.length)
      missingEl.append(h('strong', 'Needed before signing: '),
        h('ul.plain', list.map((m) => h('li', { dataset: { field: m } }, MISSING_LABELS[m] || m))));
  }
  function renderDerived() {
    const d = (report && report.derived) || null;
    for (const [seg] of CC_SEGMENTS) {
      const s = d && d.cc_clear_suggested ? d.cc_clear_suggested[seg] : null;
      const b = d && d.cc_clear_suggested_basis ? d.cc_clear_suggested_basis[seg] : null;
      clear(ccHint[seg]);
      if (s === null || s === undefined) {
        ccHint[seg].append(d && !lm.first_caecal ? 'set the first caecal landmark for a suggestion' : '—');
      } else {
        ccHint[seg].append(`${s} (${b.readable} of ${b.frames} frames readable) `);
        if (!ccSel[seg].disabled) {
          const use = h('button.btn.btn-quiet.btn-small', { type: 'button', testid: `cc-use-${seg}` }, 'Use');
          use.addEventListener('click', () => { ccSel[seg].value = String(s); });
          ccHint[seg].append(use);
        }
      }
      if (d && d.cc_clear_source && d.cc_clear_source[seg] === 'migrated_grade' && ccSel[seg].value !== '')
        ccHint[seg].append(h('span.muted', ' (from the old grade)'));
    }
    ccTotal.textContent = !d ? 'Total: saved with the report.'
      : d.cc_clear_total === null ? 'Total: confirm every segment.'
        : `Total ${d.cc_clear_total} / 9: ${d.cleansing_adequacy}`;
    ccTotal.dataset.adequacy = d && d.cleansing_adequacy ? d.cleansing_adequacy : '';
    clear(completenessEl);
    if (d) {
      completenessEl.append(h('strong', d.completeness));
      if (d.completeness_reasons.length) completenessEl.append(` (${d.completeness_reasons.map((r) => r.replace(/_/g, ' ')).join(', ')})`);
      completenessEl.dataset.completeness = d.completeness;
    } else completenessEl.append(h('span.muted', 'computed when saved'));
    clear(suggestionEl);
    if (d && d.recommendation_suggested) {
      suggestionEl.append('Suggested: ', h('strong', label(d.recommendation_suggested)),
        d.recommendation_urgent ? h('strong.report-urgent', ' (urgent)') : '',
        d.follow_up_months_suggested !== null ? `, follow-up ${d.follow_up_months_suggested} months` : '',
        h('span.muted', ` — rule: ${d.recommendation_rule}`));
      suggestionEl.dataset.suggested = d.recommendation_suggested;
    } else suggestionEl.append(h('span.muted', d ? 'No suggestion until the CC-CLEAR scores are confirmed.' : ''));
    disclaimerText.textContent = (d && d.upper_gi_disclaimer) || 'Colon capsule endoscopy is designed to examine the colon; the upper GI tract and small bowel are seen only in passing.';
    showMissing(d && report.state !== 'signed' ? d.mandatory_missing : null);
    updateReasonBox();
  }
  function updateReasonBox() {
    const d = report && report.derived;
    const sug = d ? d.recommendation_suggested : null;
    reasonBox.hidden = !(recommendation.value && sug && recommendation.value !== sug) && !reason.value;
  }
  recommendation.addEventListener('change', updateReasonBox);
  function renderAddenda() {
    const signed = report && report.state === 'signed';
    addendaCard.hidden = !signed;
    adForm.hidden = !signed || !mayWrite;
    clear(addendaList);
    for (const a of (report && report.addenda) || [])
      addendaList.append(h('li.addendum', { dataset: { id: String(a.id) } },
        h('p.small', h('strong', a.by), ` · ${fmtTime(a.at_ms)} · reason: `, a.reason),
        h('p.addendum-text', a.text)));
  }

  function fill() {
    const c = (report && report.content) || {};
    txt.value = c.findings_text || preText;
    renderUnder();
    showSizeCaveat();
    const cc = c.cc_clear || {};
    const dcc = (report && report.derived && report.derived.cc_clear) || {};
    // A migrated old grade shows as the score until the reader changes it.
    for (const [seg] of CC_SEGMENTS) {
      const v = cc[seg] !== null && cc[seg] !== undefined ? cc[seg] : dcc[seg];
      ccSel[seg].value = v === null || v === undefined ? '' : String(v);
    }
    recommendation.value = c.recommendation || '';
    reason.value = c.recommendation_reason || '';
    followUp.value = c.follow_up_months === null || c.follow_up_months === undefined ? '' : String(c.follow_up_months);
    extracolonic.value = c.extracolonic || '';
    disclaimer.checked = !!c.upper_gi_disclaimer_ack;
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
    for (const el of [txt, recommendation, comments, prep, keys, reason, followUp, extracolonic, disclaimer, ...Object.values(ccSel)]) el.disabled = ro;
    form.classList.toggle('read-only', ro);
    for (const b of [saveBtn, readBtn]) b.hidden = signed;
    if (signBtn) signBtn.hidden = signed;
    renderDerived();
    renderAddenda();
  }

  // The content the form holds: what is saved, and what is signed.
  function formContent(key_frames) {
    const cc_clear = {};
    for (const [seg] of CC_SEGMENTS) cc_clear[seg] = ccSel[seg].value === '' ? null : Number(ccSel[seg].value);
    const fu = followUp.value.trim();
    if (fu !== '' && !(Number.isInteger(Number(fu)) && Number(fu) >= 0 && Number(fu) <= 120))
      throw new Error('The follow-up interval is a whole number of months, 0 to 120');
    return {
      findings_text: txt.value, recommendation: recommendation.value, comments: comments.value,
      prep_checklist: prep.value, key_frames, cc_clear,
      recommendation_reason: reason.value, follow_up_months: fu === '' ? null : Number(fu),
      extracolonic: extracolonic.value, upper_gi_disclaimer_ack: disclaimer.checked,
    };
  }
  function contentNow() {
    return normal(formContent(parseKeys()));
  }
  function normal(c) {
    c = c || {};
    const cc = c.cc_clear || {};
    return [c.findings_text || '', c.recommendation || '', c.comments || '', c.prep_checklist || '',
      (c.key_frames || []).join(','), CC_SEGMENTS.map(([s]) => (cc[s] === null || cc[s] === undefined ? '' : cc[s])).join(','),
      c.recommendation_reason || '', c.follow_up_months === null || c.follow_up_months === undefined ? '' : c.follow_up_months,
      c.extracolonic || '', !!c.upper_gi_disclaimer_ack];
  }

  async function save(state) {
    msg.hidden = true;
    let content;
    try { content = formContent(parseKeys()); } catch (e) { msg.textContent = e.message; msg.hidden = false; return null; }
    const body = { content, state };
    if (report && report.version !== undefined) body.version = report.version;
    try {
      await showAnswer(await put(studyPath(studyId, '/report'), body));
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
  async function showNewerVersion(code) {
    let shown = false;
    try {
      // the report (its stamp) first, then what it covers, as at load
      shown = await showAnswer(await get(studyPath(studyId, '/report')));
    } catch { /* said below */ }
    const who = report && report.updated_by ? ` by ${report.updated_by}` : '';
    msg.textContent = !shown
      ? 'The report or what it covers changed since it was shown, and could not be read again: reload the page, review it, then sign.'
      : code === 'basis_changed'
        ? 'The findings, landmarks, cleansing grades, patient details or the study\'s frames changed since this report was shown. The current ones are shown now: review them, then sign again.'
        : `The report was changed${who} since you opened it. Its current version is shown now: review it, then sign again.`;
    msg.hidden = false;
    document.getElementById('report')?.setAttribute('data-review', 'newer-version');
  }

  function firstSaveReview() {
    msg.textContent = shownBasis
      ? 'The report is saved. Review the findings listed under it and the patient details, then sign.'
      : 'The report is saved, but what it covers could not be read again: reload the page, review it, then sign.';
    msg.hidden = false;
    document.getElementById('report')?.setAttribute('data-review', 'first-save');
  }

  if (signBtn) signBtn.addEventListener('click', async () => {
    if (!recommendation.value) { msg.textContent = 'Choose a recommendation before signing'; msg.hidden = false; return; }
    document.getElementById('report')?.removeAttribute('data-review');
    // The server signs exactly the version named: the one on screen. If
    // the screen differs from it, save first (against the version this
    // page holds, so a save by someone else in between is a conflict)
    // and sign the version that save returned, with the basis stamp of
    // the findings, landmarks and patient details this page showed before
    // the save, never the stamp the save answers with: a change that
    // landed meanwhile is then refused and shown, not signed unseen.
    const basis = shownBasis;
    let same = false;
    try { same = !!report && JSON.stringify(contentNow()) === JSON.stringify(normal(report.content)); } catch { same = false; }
    if (!same) {
      msg.hidden = true;
      let content;
      try { content = formContent(parseKeys()); } catch (e) { msg.textContent = e.message; msg.hidden = false; return; }
      let saved;
      try {
        saved = await put(studyPath(studyId, '/report'), {
          content,
          state: 'read',
          version: report ? report.version : 0,
        });
      } catch (e) {
        if (e.status === 409 && e.code === 'version_conflict') { await showNewerVersion(); return; }
        msg.textContent = errorText(e);
        msg.hidden = false;
        return;
      }
      if (!basis) {
        // the first save: no stamp was on screen before it
        await showAnswer(saved);
        firstSaveReview();
        return;
      }
      report = saved; // its stamp is not shownBasis: that one was on screen
      fill();
    } else if (!basis) {
      // saved, but what it covers not yet shown again (a click during
      // that read, or the read failed): nothing on screen to sign with
      firstSaveReview();
      return;
    }
    // The server checks the version named first (a newer one is shown for
    // review below), then the mandatory fields (422 with their list).
    try {
      report = await post(studyPath(studyId, '/report/sign'), { version: report.version, basis });
      fill();
      toast('Report signed');
    } catch (e) {
      if (e.status === 409 && (e.code === 'version_conflict' || e.code === 'basis_changed')) { await showNewerVersion(e.code); return; }
      if (e.code === 'mandatory_missing') showMissing(report.derived ? report.derived.mandatory_missing : null);
      msg.textContent = e.code === 'ingest_incomplete'
        ? 'The study is not complete yet (uploads open or analysis running): it can be signed once all data is in and analysed, or after a coordinator closes the study.'
        : errorText(e);
      msg.hidden = false;
    }
  });

  adBtn.addEventListener('click', async () => {
    adMsg.hidden = true;
    if (!adReason.value.trim() || !adText.value.trim()) {
      adMsg.textContent = 'An addendum needs a reason and a text';
      adMsg.hidden = false;
      return;
    }
    try {
      await post(studyPath(studyId, '/report/addenda'), { reason: adReason.value, text: adText.value });
      report = await get(studyPath(studyId, '/report'));
      adReason.value = '';
      adText.value = '';
      fill();
      toast('Addendum added');
    } catch (e) {
      adMsg.textContent = errorText(e);
      adMsg.hidden = false;
    }
  });

  fill();
  if (session.role === 'admin') {
    form.prepend(h('p.notice.small', 'Admins may read the report; readers and consultants write it.'));
  }
}
