// The care team's monitor (#/monitor, docs/care.md "The monitor"): every
// live study as a tile, kept current by server-sent events
// (GET /api/v1/monitor/events, a `monitor` event whenever something shown
// changes, at most once a second). One click marks a stage or acknowledges
// an alert. A tile is rebuilt only when its data changed, so a button is
// not pulled from under the pointer; ages ("12 s ago") are computed here
// from the server's timestamps and move every second in place.
import { post, studyPath } from './api.js';
import { h, clear, toast, errorText, label, fmtDuration } from './util.js';

const STAGES = [['stomach', 'Stomach'], ['small_bowel', 'Small bowel'], ['colon', 'Colon'],
  ['excreted', 'Excreted']];
const STAGE_ORDER = ['awaiting', 'ingested', 'stomach', 'small_bowel', 'colon', 'excreted'];

function ago(ms, now) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

// A text that depends on the time: kind 'ago' or 'since', from `ms`.
function timed(kind, ms, attrs = {}) {
  // data-timer, not data-kind: an alert's item carries data-kind (its alert
  // kind), and the clock below must not rewrite it.
  return h('span', { ...attrs, dataset: { timer: kind, ms: String(ms || 0) } }, timeText(kind, ms, Date.now()));
}
function timeText(kind, ms, now) {
  if (kind === 'since') return ms ? fmtDuration((now - ms) / 1000) : 'not started';
  return ago(ms, now);
}

export async function mountMonitor(main) {
  const grid = h('div.monitor-grid#monitor', { testid: 'monitor' });
  const state = h('span.muted', { testid: 'monitor-state' }, 'Connecting…');
  const empty = h('p.muted', { testid: 'monitor-empty', hidden: true }, 'No live studies.');
  main.appendChild(h('section.page.wide', h('div.page-head', h('h1', 'Live studies'), state),
    empty, grid));
  let last = { studies: [] };
  const tiles = new Map();

  function tile(s) {
    let t = tiles.get(s.study);
    if (!t) {
      const el = h('article.tile', { testid: `tile-${s.study}`, 'aria-labelledby': `t-${s.study}` });
      t = { el, img: h('img.tile-img', { alt: 'Latest picture', testid: 'tile-img', width: 128, height: 128 }) };
      tiles.set(s.study, t);
      grid.appendChild(el);
    }
    return t;
  }

  function render() {
    const now = Date.now();
    const live = new Set(last.studies.map((s) => s.study));
    for (const [id, t] of tiles) if (!live.has(id)) { t.el.remove(); tiles.delete(id); }
    empty.hidden = last.studies.length > 0;
    for (const s of last.studies) {
      const t = tile(s);
      const json = JSON.stringify(s);
      if (t.json === json) continue;
      t.json = json;
      const hub = s.hub;
      const frameKey = `${s.frames}`;
      if (t.frameKey !== frameKey && s.frames > 0) {
        t.frameKey = frameKey;
        t.img.src = `/api/v1/${studyPath(s.study, '/latest.jpg')}?n=${encodeURIComponent(frameKey)}`;
      }
      const stageIdx = STAGE_ORDER.indexOf(s.stage);
      const alerts = s.open_alerts.map((a) => h('li.alert', { testid: `alert-${a.kind}`, dataset: { kind: a.kind } },
        h('span.alert-kind', label(a.kind)), ' ', h('span.alert-msg', a.message), ' ',
        timed('ago', a.raised_at_ms, { class: 'muted' }), ' ',
        h('button.btn.btn-small', {
          type: 'button', testid: `ack-${a.id}`,
          on: { click: (ev) => act(ev.target, `/alerts/${a.id}/ack`, {}, s.study, 'Acknowledged') },
        }, 'Acknowledge')));
      clear(t.el).append(
        h('header.tile-head', h('h2', { id: `t-${s.study}` }, s.label || s.study),
          h('span.tile-stage-name', { testid: 'tile-stage' }, label(s.stage)),
          // Shown only for its open alerts: say why it is here.
          s.live === false ? h('span.tile-status', { testid: 'tile-status' },
            s.closed ? 'Closed, with open alerts' : s.first_byte_ms ? 'Not live, with open alerts' : 'Not live yet') : null),
        h('div.tile-body', t.img,
          h('dl.tile-facts',
            h('dt', 'Since first frames'), h('dd', timed('since', s.first_byte_ms)),
            h('dt', 'Last frame'), h('dd', { testid: 'tile-last' }, timed('ago', s.last_byte_ms)),
            h('dt', 'Frames'), h('dd', { testid: 'tile-frames' }, `${s.frames}` + (s.frames_per_min !== null ? ` (${s.frames_per_min}/min)` : '')),
            h('dt', 'Hub'), h('dd', { testid: 'tile-hub' }, hub
              ? [`battery ${hub.battery_pct}%, signal ${hub.signal_dbm} dBm, spool ${hub.spool_used_pct}%, ${hub.recorder} (`, timed('ago', hub.at_ms), ')']
              : 'no report yet'),
            h('dt', 'Prep ticked'), h('dd', { testid: 'tile-prep' }, s.prep_done.length ? s.prep_done.map((p) => label(p.id)).join(', ') : 'none'))),
        // Stages are marked on live studies only: a closed or imported one
        // is read in the viewer, where a landmark takes its exact frame.
        s.live === false ? null : h('div.tile-stages', { role: 'group', 'aria-label': 'Mark the stage' },
          STAGES.map(([k, name]) => h('button.btn.btn-small', {
            type: 'button', testid: `stage-${k}`,
            'aria-pressed': STAGE_ORDER.indexOf(k) <= stageIdx ? 'true' : 'false',
            on: { click: (ev) => act(ev.target, '/stage', { stage: k }, s.study, `Marked: ${name}`) },
          }, name))),
        h('ul.tile-alerts', { testid: 'tile-alerts', 'aria-label': 'Open alerts' },
          alerts.length ? alerts : h('li.muted', 'No open alerts')));
    }
  }

  async function act(btn, rest, body, study, done) {
    btn.disabled = true;
    try {
      await post(studyPath(study, rest), body);
      toast(done);
    } catch (e) {
      toast(errorText(e), 'error');
    } finally {
      btn.disabled = false;
    }
  }

  const es = new EventSource('/api/v1/monitor/events');
  es.addEventListener('monitor', (ev) => {
    last = JSON.parse(ev.data);
    const nLive = last.studies.filter((s) => s.live !== false).length;
    const nOther = last.studies.length - nLive;
    state.textContent = `Live: ${nLive} studies` + (nOther ? `; ${nOther} more with open alerts` : '');
    render();
  });
  es.addEventListener('session_ended', () => { es.close(); state.textContent = 'Session ended'; });
  es.onerror = () => { state.textContent = 'Reconnecting…'; };
  // Ages move every second without rebuilding anything.
  const clock = setInterval(() => {
    const now = Date.now();
    for (const el of grid.querySelectorAll('[data-timer]')) el.textContent = timeText(el.dataset.timer, Number(el.dataset.ms), now);
  }, 1000);
  return () => { es.close(); clearInterval(clock); };
}
