// The overview panels: the operations with their limits and queue lag
// (GET /operations), the live workers (GET /workers, an admin's view: anyone else is
// told so) and the caller's schedules (GET /schedules). Read on every refresh of the
// page; each panel fails on its own, so a store without schedules still shows the rest.

import { ApiError, Unauthorized } from './api.js';
import { $, el, formatShortTime, setText, show } from './dom.js';

/** "1 h 02 min", "3 min 05 s", "42 s": a queue lag at a glance. */
export function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.floor(Number(seconds)));
  if (s < 60) return `${s} s`;
  const pad = (n) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

function cell(text, className = '') {
  return el('td', { className, text: text === null || text === undefined ? '—' : String(text) });
}

function rowHead(text) {
  const th = el('th', { text });
  th.scope = 'row';
  return th;
}

function rate(limit) {
  return limit ? `${limit.limit} / ${limit.period_seconds} s` : '—';
}

function operationRow(o) {
  const row = el(
    'tr',
    {},
    rowHead(o.operation),
    cell(o.queue),
    cell(o.concurrency, 'num'),
    cell(o.key_concurrency, 'num'),
    cell(rate(o.rate_limit)),
    cell(o.max_queued, 'num'),
    cell(o.queued, 'num'),
    cell(o.processing, 'num'),
    cell(formatAge(o.oldest_queued_age_seconds), 'num lag'),
  );
  row.dataset.operation = o.operation;
  return row;
}

function workerRow(w) {
  const row = el(
    'tr',
    {},
    rowHead(w.worker_id),
    cell(`${w.host} · ${w.pid}`),
    cell(w.queues.join(', ')),
    cell(`${w.busy} / ${w.concurrency}`, 'num busy'),
    el('td', { className: 'time', text: formatShortTime(w.started_at), title: w.started_at }),
    el('td', { className: 'time', text: formatShortTime(w.last_seen_at), title: w.last_seen_at }),
  );
  row.dataset.workerId = w.worker_id;
  return row;
}

function scheduleRow(s) {
  const every = s.cron ? `cron ${s.cron} (${s.timezone})` : `every ${formatAge(s.interval_seconds)}`;
  const row = el(
    'tr',
    {},
    rowHead(s.schedule_id),
    cell(s.operation),
    cell(every),
    cell(s.paused ? 'paused' : 'active', s.paused ? 'paused' : ''),
    el('td', { className: 'time', text: formatShortTime(s.next_run_at), title: s.next_run_at ?? '' }),
    el('td', { className: 'time', text: formatShortTime(s.last_run_at), title: s.last_run_at ?? '' }),
  );
  row.dataset.scheduleId = s.schedule_id;
  return row;
}

/** Fill one table from `path`, or say in its note why it cannot be shown. */
async function panel(api, path, { body, note, empty, render, explain }) {
  let page;
  try {
    page = await api.get(path);
  } catch (error) {
    if (error instanceof Unauthorized || !(error instanceof ApiError) || !error.status) throw error;
    $(body).replaceChildren();
    setText(note, explain(error));
    show($(note), true);
    return;
  }
  $(body).replaceChildren(...page.items.map(render));
  setText(note, page.items.length ? '' : empty);
  show($(note), page.items.length === 0);
}

const WHY = {
  403: 'Only an admin sees the workers: they describe the whole deployment.',
  501: 'This server\'s store does not keep them.',
};

function explain(error) {
  return WHY[error.status] || error.message;
}

/** Read and draw the three panels; throws only what the page acts on (401, network). */
export async function loadOverview(api) {
  await Promise.all([
    panel(api, '/operations', {
      body: 'operations-body', note: 'operations-note', empty: 'No operations.',
      render: operationRow, explain,
    }),
    panel(api, '/workers', {
      body: 'workers-body', note: 'workers-note', empty: 'No live workers.',
      render: workerRow, explain,
    }),
    panel(api, '/schedules', {
      body: 'schedules-body', note: 'schedules-note', empty: 'No schedules.',
      render: scheduleRow, explain,
    }),
  ]);
}
