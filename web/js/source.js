// Where the viewer's frames and the findings panel's records come from.
// A clinical study reads and writes its own routes (/api/v1/studies/ID/...);
// a training case (docs/training.md) reads its frames through the training
// routes, and keeps the trainee's findings, landmarks and cleansing scores
// in the attempt's answer, saved to the server after every change. Both
// offer the same small REST-like surface, so the viewer and the findings
// panel do not know which one they have.
import { get, post, put, del, studyPath } from './api.js';

/** The sources' shared surface: rel paths as under /api/v1/studies/ID. */
export function studySource(studyId) {
  const p = (rel) => studyPath(studyId, rel);
  return {
    kind: 'study',
    id: studyId,
    frameUrl: (seq) => `/api/v1/studies/${encodeURIComponent(studyId)}/frames/${seq}.jpg`,
    thumbUrl: (seq) => `/api/v1/studies/${encodeURIComponent(studyId)}/frames/${seq}/thumb.jpg`,
    get: (rel) => get(p(rel)),
    post: (rel, body) => post(p(rel), body),
    put: (rel, body) => put(p(rel), body),
    del: (rel) => del(p(rel)),
  };
}

// The old grade words as CC-CLEAR scores, both ways (docs/training.md).
const GRADE_SCORE = { poor: 0, fair: 1, good: 2, excellent: 3 };
const SCORE_GRADE = ['poor', 'fair', 'good', 'excellent'];

/**
 * A training attempt as a source. `attempt` is the server's attempt
 * object; `readingTime()` gives the active reading seconds so far (sent
 * with every save). Rejects changes once the attempt is submitted.
 */
export function trainingSource(caseId, attempt, readingTime) {
  const base = `/api/v1/training/cases/${encodeURIComponent(caseId)}`;
  const ans = attempt.answer || {};
  let findings = (ans.findings || []).map((f, i) => ({ ...f, id: f.id ?? i + 1 }));
  const landmarks = { ...(ans.landmarks || {}) };
  const cleansing = { ...(ans.cleansing || {}) };
  let nextId = findings.reduce((m, f) => Math.max(m, f.id), 0) + 1;
  const closed = () => !!attempt.submitted_at_ms;

  function answer() {
    return {
      findings: findings.map((f) => ({ id: f.id, type: f.type, seq_from: f.seq_from, seq_to: f.seq_to, note: f.note || '', size_mm: f.size_mm ?? null, segment: f.segment || '' })),
      landmarks, cleansing, reading_time_s: Math.round(readingTime() * 10) / 10,
    };
  }
  async function save() {
    if (closed()) throw Object.assign(new Error('This case is submitted: the answer no longer changes.'), { status: 409, code: 'attempt_submitted' });
    const a = await put(`training/attempts/${attempt.id}`, answer());
    Object.assign(attempt, a);
  }
  const findingOf = (rel) => {
    const id = Number(rel.split('/')[2]);
    const f = findings.find((x) => x.id === id);
    if (!f) throw Object.assign(new Error('No such finding'), { status: 404, code: 'not_found' });
    return f;
  };
  const asRecord = (f) => ({ ...f, version: 1, deleted: false, count: f.count || 1, suspected_cancer: false });

  return {
    kind: 'training',
    id: caseId,
    attempt,
    answer,
    save,
    frameUrl: (seq) => `${base}/frames/${seq}.jpg`,
    thumbUrl: (seq) => `${base}/frames/${seq}/thumb.jpg`,
    async get(rel) {
      if (rel === '/findings') return { findings: findings.map(asRecord) };
      if (rel === '/marks') {
        const lm = {}, cl = {};
        for (const [k, seq] of Object.entries(landmarks)) lm[k] = { seq };
        for (const [k, s] of Object.entries(cleansing)) cl[k] = { grade: SCORE_GRADE[s] };
        return { landmarks: lm, cleansing: cl };
      }
      if (/^\/findings\/\d+\/history$/.test(rel)) return { history: [asRecord(findingOf(rel))] };
      throw Object.assign(new Error(`not in a training case: ${rel}`), { status: 404 });
    },
    async post(rel, body) {
      if (rel !== '/findings') throw Object.assign(new Error(`not in a training case: ${rel}`), { status: 404 });
      const f = { id: nextId++, type: body.type, seq_from: body.seq_from, seq_to: body.seq_to ?? body.seq_from, note: body.note || '', size_mm: body.size_mm ?? null, segment: body.segment || '' };
      findings.push(f);
      try { await save(); } catch (e) { findings = findings.filter((x) => x !== f); throw e; }
      return asRecord(f);
    },
    async put(rel, body) {
      let m;
      if ((m = rel.match(/^\/landmarks\/(\w+)$/))) landmarks[m[1]] = body.seq;
      else if ((m = rel.match(/^\/cleansing\/(\w+)$/))) cleansing[m[1]] = GRADE_SCORE[body.grade];
      else if (/^\/findings\/\d+$/.test(rel)) {
        const f = findingOf(rel);
        Object.assign(f, { type: body.type, seq_from: body.seq_from, seq_to: body.seq_to ?? body.seq_from, note: body.note || '', size_mm: body.size_mm ?? null, segment: body.segment || '' });
      } else throw Object.assign(new Error(`not in a training case: ${rel}`), { status: 404 });
      await save();
      return {};
    },
    async del(rel) {
      let m;
      if ((m = rel.match(/^\/landmarks\/(\w+)$/))) delete landmarks[m[1]];
      else if (/^\/findings\/\d+$/.test(rel)) { const f = findingOf(rel); findings = findings.filter((x) => x !== f); }
      else throw Object.assign(new Error(`not in a training case: ${rel}`), { status: 404 });
      await save();
      return null;
    },
  };
}

/**
 * Active reading time (docs/training.md): a second counts while the page
 * is visible, the window has the focus and the reader acted (key, pointer,
 * wheel) within the last IDLE_S seconds. Returns {seconds(), stop()}.
 */
export const IDLE_S = 60;
export function readingClock(start = 0) {
  let total = start, last = Date.now();
  const act = () => { last = Date.now(); };
  const events = ['keydown', 'pointerdown', 'pointermove', 'wheel'];
  events.forEach((e) => window.addEventListener(e, act, { passive: true }));
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && document.hasFocus() && Date.now() - last <= IDLE_S * 1000) total += 1;
  }, 1000);
  return {
    seconds: () => total,
    stop() { clearInterval(timer); events.forEach((e) => window.removeEventListener(e, act)); },
  };
}
