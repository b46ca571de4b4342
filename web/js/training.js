// Reader training (docs/training.md): the courses and cases (#/training),
// a case read blind in the normal viewer (#/training/case/ID[/SEQ]), the
// feedback after submitting (#/training/attempt/N): the trainee's findings
// beside the reference, the missed and false ones a click from their
// frames; progress over time, and a certificate-style summary once the
// course's standard is met. Trainers make courses and cases from signed
// studies and see the cohort (with a CSV export).
import { get, post } from './api.js';
import { h, clear, label, toast, errorText, fmtTime, frameRange } from './util.js';
import { session, can, navigate } from './app.js';
import { mountViewer } from './viewer.js';
import { trainingSource, readingClock } from './source.js';

const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)}%`);
const secs = (s) => (s === null || s === undefined ? '—' : s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`);

// ---- #/training ---------------------------------------------------------------

export async function mountTraining(main) {
  const page = h('section.page.wide#training', { testid: 'training' }, h('h1', 'Training'));
  main.appendChild(page);
  const [{ courses }, { progress }] = await Promise.all([get('training/courses'), get('training/progress')]);
  if (can(['trainer', 'admin'])) page.appendChild(courseForm());
  if (!courses.length) page.appendChild(h('p.muted', { testid: 'no-courses' }, 'No courses yet.'));
  for (const c of courses) {
    const { cases } = await get(`training/courses/${encodeURIComponent(c.id)}/cases`);
    const done = new Map();
    for (const g of progress.filter((x) => x.course === c.id && x.trainee === session.user))
      for (const k of g.cases) done.set(k.case, k);
    const rows = cases.map((k) => {
      const d = done.get(k.id);
      return h('tr', { testid: `case-row-${k.id}` },
        h('td', k.label),
        can(['trainer', 'admin']) ? h('td.mono.muted', k.study || '') : null,
        h('td', d ? `submitted · sensitivity ${pct(d.sensitivity)} · ${secs(d.reading_time_s)}` : h('span.muted', 'not submitted')),
        h('td.actions',
          can(['trainee']) && !d ? h('a.btn.btn-small.btn-primary', { href: `#/training/case/${encodeURIComponent(k.id)}`, testid: `read-${k.id}` }, 'Read') : null,
          d ? h('a.btn.btn-small', { href: `#/training/attempt/${d.attempt}`, testid: `feedback-${k.id}` }, 'Feedback') : null));
    });
    page.appendChild(h('section.card.course', { testid: `course-${c.id}` },
      h('h2', c.name),
      h('p.muted.small', `Engine flags ${c.show_engine_flags ? 'shown' : 'hidden'} · findings match within ${c.tolerance_frames} frames · standard: ${c.standard.cases} cases at ${pct(c.standard.sensitivity)} mean sensitivity`),
      h('table.table', h('thead', h('tr', h('th', { scope: 'col' }, 'Case'),
        can(['trainer', 'admin']) ? h('th', { scope: 'col' }, 'From study') : null,
        h('th', { scope: 'col' }, 'Your read'), h('th', { scope: 'col' }, h('span.sr-only', 'Actions')))),
      h('tbody', rows.length ? rows : h('tr', h('td', { colspan: 4 }, h('span.muted', 'No cases yet.'))))),
      can(['trainer', 'admin']) ? caseForm(c) : null));
  }
  page.appendChild(progressSection(progress, courses));
}

function courseForm() {
  const name = h('input#tc-name', { required: true, maxlength: 127, testid: 'course-name' });
  const flags = h('input#tc-flags', { type: 'checkbox', testid: 'course-flags' });
  const cases = h('input#tc-cases', { type: 'number', min: 1, max: 10000, value: '20', testid: 'course-cases' });
  const sens = h('input#tc-sens', { type: 'number', min: 0, max: 1, step: 0.01, value: '0.9', testid: 'course-sens' });
  const msg = h('p.error', { role: 'alert', hidden: true });
  const form = h('form.card#course-form', { testid: 'course-form', 'aria-label': 'New course' },
    h('h2', 'New course'),
    h('label', { for: 'tc-name' }, 'Name'), name,
    h('div.check', flags, h('label', { for: 'tc-flags' }, 'Show the engine\'s flags to trainees')),
    h('div.row2', h('div', h('label', { for: 'tc-cases' }, 'Standard: cases'), cases),
      h('div', h('label', { for: 'tc-sens' }, 'Standard: mean sensitivity'), sens)),
    msg, h('div.buttons', h('button.btn.btn-primary', { type: 'submit', testid: 'course-create' }, 'Create course')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await post('training/courses', { name: name.value, show_engine_flags: flags.checked,
        standard: { cases: Number(cases.value), sensitivity: Number(sens.value) } });
      toast('Course created');
      navigate('/training');
    } catch (e) { msg.textContent = errorText(e); msg.hidden = false; }
  });
  return form;
}

function caseForm(c) {
  const id = `cf-${c.id}`;
  const study = h('input', { id: `${id}-study`, required: true, testid: 'case-study', placeholder: 'study id' });
  const lab = h('input', { id: `${id}-label`, maxlength: 200, testid: 'case-label', placeholder: 'e.g. Case 7' });
  const msg = h('p.error', { role: 'alert', hidden: true, testid: 'case-error' });
  const form = h('form.case-form', { testid: `case-form-${c.id}`, 'aria-label': `Add a case to ${c.name}` },
    h('h3', 'Add a case from a signed study'),
    h('div.row2', h('div', h('label', { for: `${id}-study` }, 'Study'), study), h('div', h('label', { for: `${id}-label` }, 'Label shown to trainees'), lab)),
    msg, h('div.buttons', h('button.btn', { type: 'submit', testid: 'case-add' }, 'Add case')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await post(`training/courses/${encodeURIComponent(c.id)}/cases`, { study: study.value.trim(), label: lab.value.trim() });
      toast('Case added');
      navigate('/training');
    } catch (e) { msg.textContent = errorText(e); msg.hidden = false; }
  });
  return form;
}

// A small line chart of values (0..max) in order, as inline SVG.
function sparkline(values, max, title) {
  const w = 160, hgt = 40, n = values.length;
  const pts = values.map((v, i) => `${n > 1 ? (i * (w - 8)) / (n - 1) + 4 : w / 2},${hgt - 4 - ((v ?? 0) / (max || 1)) * (hgt - 8)}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', w); svg.setAttribute('height', hgt); svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${values.map((v) => (v === null ? 'none' : v)).join(', ')}`);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts); line.setAttribute('fill', 'none'); line.setAttribute('stroke', 'currentColor'); line.setAttribute('stroke-width', '2');
  svg.appendChild(line);
  return svg;
}

function progressSection(progress, courses) {
  const nameOf = (id) => (courses.find((c) => c.id === id) || { name: id }).name;
  const sec = h('section.card#progress', { testid: 'progress' }, h('h2', can(['trainee']) ? 'Your progress' : 'Cohort'));
  if (!progress.length) { sec.appendChild(h('p.muted', 'Nothing submitted yet.')); return sec; }
  if (can(['trainer', 'admin']))
    sec.appendChild(h('p', h('a.btn.btn-small', { href: '/api/v1/training/progress.csv', download: 'training-progress.csv', testid: 'cohort-csv' }, 'Download the cohort as CSV')));
  sec.appendChild(h('table.table', { testid: 'progress-table' },
    h('thead', h('tr', ['Trainee', 'Course', 'Cases read', 'Mean sensitivity', 'Cleansing kappa', 'Sensitivity over time', 'Reading time over time', 'Standard']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', progress.map((g) => h('tr', { testid: `progress-${g.trainee}-${g.course}` },
      h('td', g.trainee), h('td', nameOf(g.course)), h('td.num', String(g.cases_read)),
      h('td.num', pct(g.mean_sensitivity)),
      h('td.num', g.cleansing_kappa === null ? '—' : g.cleansing_kappa.toFixed(2)),
      h('td', sparkline(g.cases.map((k) => k.sensitivity), 1, 'Sensitivity per case')),
      h('td', sparkline(g.cases.map((k) => k.reading_time_s), Math.max(1, ...g.cases.map((k) => k.reading_time_s || 0)), 'Reading seconds per case')),
      h('td', g.standard_met ? h('span.badge.badge-ok', { testid: 'standard-met' }, 'Met') : h('span.muted', 'not yet')))))));
  for (const g of progress.filter((x) => x.standard_met && x.trainee === session.user))
    sec.appendChild(h('div.certificate', { testid: 'certificate', role: 'note' },
      h('h3', 'Certificate of practice'),
      h('p', `${g.trainee} has read ${g.cases_read} known-answer cases of "${nameOf(g.course)}" at a mean sensitivity of ${pct(g.mean_sensitivity)}, meeting the course's standard of ${g.standard.cases} cases at ${pct(g.standard.sensitivity)}.`),
      h('p.muted.small', `capscreen, ${new Date().toLocaleDateString()}`)));
  return sec;
}

// ---- #/training/case/ID[/SEQ] ---------------------------------------------------

export async function mountTrainingCase(main, caseId, seqText) {
  const attempt = await post(`training/cases/${encodeURIComponent(caseId)}/attempt`, {});
  const clock = readingClock(attempt.answer && attempt.answer.reading_time_s ? attempt.answer.reading_time_s : 0);
  const source = trainingSource(caseId, attempt, () => clock.seconds());
  const submitted = () => !!attempt.submitted_at_ms;
  const submitBtn = h('button.btn.btn-small.btn-primary', { type: 'button', testid: 'training-submit', disabled: submitted() || !can(['trainee']) }, submitted() ? 'Submitted' : 'Submit');
  const feedback = h('a.btn.btn-small', { href: `#/training/attempt/${attempt.id}`, testid: 'training-feedback', hidden: !submitted() }, 'Feedback');
  const tr = { source, label: attempt.label, submitted, seq: seqText ? Number(seqText) : undefined, headExtra: h('span', submitBtn, ' ', feedback) };
  submitBtn.addEventListener('click', async () => {
    if (!confirm('Submit this case? Your answer is then final and scored against the reference.')) return;
    try {
      const a = await post(`training/attempts/${attempt.id}/submit`, source.answer());
      Object.assign(attempt, a);
      toast(`Submitted: sensitivity ${pct(a.score && a.score.sensitivity)}`);
      navigate(`/training/attempt/${attempt.id}`);
    } catch (e) { toast(errorText(e), 'error'); }
  });
  const stop = await mountViewer(main, caseId, { training: tr });
  return () => { clock.stop(); if (typeof stop === 'function') stop(); };
}

// ---- #/training/attempt/N ------------------------------------------------------------

export async function mountTrainingAttempt(main, attemptId) {
  const a = await get(`training/attempts/${encodeURIComponent(attemptId)}`);
  const page = h('section.page.wide#feedback', { testid: 'feedback' },
    h('p', h('a.back', { href: '#/training' }, '← Training')), h('h1', 'Feedback'));
  main.appendChild(page);
  if (!a.score) {
    page.appendChild(h('p', 'This case is not submitted yet. ', h('a', { href: `#/training/case/${encodeURIComponent(a.case)}` }, 'Go on reading')));
    return;
  }
  const { reference } = await get(`training/cases/${encodeURIComponent(a.case)}/reference`);
  const s = a.score;
  const open = (seq) => `#/training/case/${encodeURIComponent(a.case)}/${seq}`;
  const item = (f, state, tid) => h('li', { class: `fb-${state}`, testid: tid },
    h('span', { class: `fb-mark fb-mark-${state}`, 'aria-hidden': 'true' }, state === 'matched' ? '✓' : '✗'),
    h('span.sr-only', state === 'matched' ? 'found: ' : state === 'missed' ? 'missed: ' : 'not in the reference: '),
    `${label(f.type)}, ${frameRange(f)} `, h('a', { href: open(f.seq_from), testid: 'fb-open' }, 'show the frames'));
  const matchedRef = new Set((s.matches || []).map((m) => `${m.reference.type}/${m.reference.seq_from}/${m.reference.seq_to}`));
  const matchedMine = new Set((s.matches || []).map((m) => `${m.yours.type}/${m.yours.seq_from}/${m.yours.seq_to ?? m.yours.seq_from}`));
  const key = (f) => `${f.type}/${f.seq_from}/${f.seq_to ?? f.seq_from}`;
  page.appendChild(h('dl.score#score', { testid: 'score' },
    h('dt', 'Sensitivity'), h('dd', { testid: 'score-sensitivity' }, pct(s.sensitivity)),
    h('dt', 'False positives'), h('dd', { testid: 'score-false' }, String(s.false_positives)),
    h('dt', 'Landmark error'), h('dd', s.landmark_error_frames === null ? '—' : `${Math.round(s.landmark_error_frames)} frames`),
    h('dt', 'Cleansing agreement'), h('dd', `${s.cleansing.agreed} of ${s.cleansing.compared} segments`),
    h('dt', 'Reading time'), h('dd', secs(s.reading_time_s))));
  page.appendChild(h('div.row2.feedback-cols',
    h('section.card', h('h2', 'The reference'), h('ul.fb-list', { testid: 'fb-reference' },
      (reference.findings || []).map((f) => item(f, matchedRef.has(key(f)) ? 'matched' : 'missed', 'fb-ref-item')))),
    h('section.card', h('h2', 'Your findings'), h('ul.fb-list', { testid: 'fb-mine' },
      ((a.answer && a.answer.findings) || []).map((f) => item(f, matchedMine.has(key(f)) ? 'matched' : 'false', 'fb-mine-item'))))));
  page.appendChild(h('section.card', h('h2', 'Missed'), s.missed.length
    ? h('ul.fb-list', { testid: 'fb-missed' }, s.missed.map((f) => item(f, 'missed', 'fb-missed-item')))
    : h('p.muted', 'None: every reference finding was found.')));
  page.appendChild(h('section.card', h('h2', 'Not in the reference'), s.false.length
    ? h('ul.fb-list', { testid: 'fb-false' }, s.false.map((f) => item(f, 'false', 'fb-false-item')))
    : h('p.muted', 'None.')));
  page.appendChild(h('p.muted.small', `Findings match when their types agree and their frames overlap or lie within ${s.tolerance_frames} frames (docs/training.md). Submitted ${fmtTime(a.submitted_at_ms)}.`));
}
