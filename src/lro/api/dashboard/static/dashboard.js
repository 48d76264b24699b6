// The dashboard page: sign-in, the counts, the job table (live from the list's event
// stream, re-read on each `sync`, on a job's status change and every ~20 s; every 2 s
// while the stream is down) and the job panel. The page's HTML holds no data; all of it
// comes from the API with the key typed into the sign-in form (see docs/dashboard.md).

import { Api, Busy, Unauthorized } from './api.js';
import { followList } from './livelist.js';
import { BatchesPanel } from './batches.js';
import { loadTimeline, resetTimeline } from './charts.js';
import { DetailPanel } from './detail.js';
import { loadOverview } from './overview.js';
import { initTheme } from './theme.js';
import {
  $, el, formatPct, formatShortTime, progressBar, setText, show, statusBadge,
} from './dom.js';

const REFRESH_MS = 2000; // while the live list is down (or the server has none)
const STATUS_REFRESH_MS = 1000; // a status change seen live: counts and panels re-read soon

/**
 * While the live list is up, the page is still read again this often, as a resync. The
 * page's address may set it in seconds (`/dashboard?resync=60`); 20 s by default.
 */
function resyncMs() {
  const raw = new URLSearchParams(window.location.search).get('resync');
  const seconds = Number(raw);
  return raw && Number.isFinite(seconds) && seconds >= 1 ? seconds * 1000 : 20000;
}

const RESYNC_MS = resyncMs();
const PAGE_SIZE = 25;
const STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'];

const api = new Api(document.querySelector('meta[name="lro-api-prefix"]').content);

const state = {
  active: false, // refreshing (signed in, or finding out whether a key is needed)
  shown: false, // the dashboard is on screen
  signingIn: false, // the key in use was just typed into the form
  seq: 0, // bumped by every refresh and sign-out: answers to older requests are dropped
  timer: null,
  due: 0, // when the timer fires (Date.now() ms)
  live: null, // the live list: {path, controller, up}
  seen: new Map(), // job_id -> job (null: removed) heard live since this refresh began
  statuses: new Map(), // job_id -> its status as last read or heard on the live list
  admin: false,
  cursors: [null], // cursors[n] is the cursor of page n (null: the first page)
  page: 0,
  nextCursor: null,
  jobs: new Map(), // job_id -> the list item on screen
  bulk: null, // the last bulk action's job, followed on each refresh until it ends
  trouble: false, // the notice on screen is the refresh loop's own (it clears it when well again)
};

const detail = new DetailPanel(api, {
  onUnauthorized: () => signOut(expiredMessage()),
  onNotice: (message) => notice(message),
  onChange: (job) => updateRow(job),
  // The list stream tells of a deletion only to a list it sent the job to; a row the
  // page read showed goes at once when this tab deleted it.
  onDeleted: (jobId) => liveRemoved(jobId),
});

const batches = new BatchesPanel(api, {
  onOpenJob: (job) => detail.open(job),
  onUnauthorized: () => signOut(expiredMessage()),
});

// -- notices and sign-in -----------------------------------------------------------------
/**
 * Show a message on the notice line. An action's answer (a refused bulk action, a job that
 * had already finished) stays until the next action replaces it: a refresh that was in
 * flight when the answer came must not wipe it before anyone could read it. Only the
 * refresh loop's own trouble notices are cleared by the refresh loop.
 */
function notice(message, { trouble = false } = {}) {
  state.trouble = trouble && Boolean(message);
  setText('notice', message || '');
  show($('notice'), Boolean(message));
}

function expiredMessage() {
  return state.signingIn
    ? 'That API key was not accepted.'
    : 'Your API key is no longer accepted; sign in again.';
}

function showSignIn(message) {
  show($('dashboard'), false);
  show($('session'), false);
  show($('sign-in'), true);
  setText('sign-in-error', message || '');
  show($('sign-in-error'), Boolean(message));
  $('key').value = '';
  $('key').focus();
}

function signOut(message = '') {
  state.active = false;
  state.shown = false;
  state.seq += 1;
  clearTimeout(state.timer);
  state.timer = null;
  stopLive();
  detail.close();
  api.signOut();
  notice('');
  showSignIn(message);
}

function signIn(key) {
  api.signIn(key);
  state.signingIn = true;
  begin();
}

function begin() {
  state.active = true;
  batches.reset();
  resetTimeline();
  state.cursors = [null];
  state.page = 0;
  refresh();
}

// -- the refresh loop --------------------------------------------------------------------
/** The filter as chosen in the form, less the search: the bulk actions' body. */
function currentFilter() {
  const filter = {};
  const status = $('filter-status').value;
  const operation = $('filter-operation').value;
  const tag = $('filter-tag').value.trim();
  if (status) filter.status = status;
  if (operation) filter.operation = operation;
  if (tag) filter.tag = tag;
  return filter;
}

/**
 * The text search (HTTP-CONTRACT §15 `q`). Only the list takes it: the bulk actions'
 * filter (§14) has no `q`, so they are not offered while a search is typed, rather than
 * acting on more jobs than the list shows.
 */
function currentSearch() {
  return $('filter-q').value.trim();
}

function jobsPath() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...currentFilter() });
  const q = currentSearch();
  if (q) query.set('q', q);
  const cursor = state.cursors[state.page];
  if (cursor) query.set('cursor', cursor);
  return `/jobs?${query}`;
}

/** Read the counts and the current page, draw them, and schedule the next refresh. */
async function refresh() {
  clearTimeout(state.timer);
  state.timer = null;
  if (!state.active || document.visibilityState !== 'visible') return;
  state.seq += 1;
  const seq = state.seq;
  state.seen = new Map();
  let delay = state.live?.up ? RESYNC_MS : REFRESH_MS;
  try {
    const [stats, page] = await Promise.all([api.get('/stats'), api.get(jobsPath())]);
    if (seq !== state.seq) return;
    showDashboard(stats);
    renderCounts(stats);
    renderJobs(page);
    startLive();
    await Promise.all([
      loadOverview(api), loadTimeline(api), refreshBulk(), batches.refresh(),
    ]);
    if (seq !== state.seq) return;
    detail.refresh();
    if (state.trouble) notice('');
  } catch (error) {
    if (seq !== state.seq) return;
    if (error instanceof Unauthorized) {
      signOut(api.key ? expiredMessage() : '');
      return;
    }
    delay = error instanceof Busy ? error.retryAfter * 1000 : REFRESH_MS * 2;
    notice(troubleMessage(error, delay), { trouble: true });
  }
  // A sooner refresh asked for meanwhile (a status change heard live) stays.
  scheduleRefresh(delay);
}

/** Refresh in `ms`, unless one is planned sooner. */
function scheduleRefresh(ms) {
  if (state.timer !== null && state.due <= Date.now() + ms) return;
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, ms);
  state.due = Date.now() + ms;
}

/** Refresh within `ms` (sooner than planned, never later) while the page is shown. */
function refreshWithin(ms) {
  if (state.active && document.visibilityState === 'visible') scheduleRefresh(ms);
}

// -- the live list -------------------------------------------------------------------------
/** The list's event stream with the list's filters (not its page: the stream has none). */
function livePath() {
  const query = new URLSearchParams(currentFilter());
  const q = currentSearch();
  if (q) query.set('q', q);
  const text = query.toString();
  return text ? `/jobs/events?${text}` : '/jobs/events';
}

/** Follow the live list for the current filters, unless it already is. */
function startLive() {
  const path = livePath();
  if (state.live && state.live.path === path) return;
  stopLive();
  const live = { path, controller: new AbortController(), up: false };
  state.live = live;
  followList(api, path, {
    signal: live.controller.signal,
    onState: (name) => {
      live.up = name === 'live';
      if (!live.up) refreshWithin(REFRESH_MS); // polled while it is down
    },
    onSync: () => refresh(),
    onJob: (job) => liveJob(job),
    onRemoved: (jobId) => liveRemoved(jobId),
  }).catch((error) => {
    if (live.controller.signal.aborted) return;
    live.up = false;
    if (error instanceof Unauthorized) signOut(expiredMessage());
    // Any other refusal (an older server without the stream, a filter it cannot take):
    // the page stays on its 2 s poll, which reports the server's problem itself.
  });
}

function stopLive() {
  if (state.live) state.live.controller.abort();
  state.live = null;
}

function newer(a, b) {
  return Date.parse(a.updated_at) >= Date.parse(b.updated_at);
}

function liveJob(job) {
  state.seen.set(job.job_id, job);
  // Not the row's status: the job panel's stream may have moved the row already.
  const known = state.statuses.get(job.job_id);
  state.statuses.set(job.job_id, job.status);
  // A new job or a status change: the counts (and for a new job the page's cursors).
  if (known !== job.status) refreshWithin(STATUS_REFRESH_MS);
  if (state.jobs.has(job.job_id)) updateRow(job);
  else if (state.page === 0) insertRow(job);
}

function liveRemoved(jobId) {
  state.seen.set(jobId, null);
  if (!state.jobs.has(jobId)) return;
  state.jobs.delete(jobId);
  const row = Array.from($('jobs-body').rows).find((r) => r.dataset.jobId === jobId);
  if (row) row.remove();
  show($('jobs-empty'), state.jobs.size === 0);
  refreshWithin(STATUS_REFRESH_MS);
}

/** Newest first, as the list orders: by created_at, then by id. */
function before(a, b) {
  const ta = Date.parse(a.created_at);
  const tb = Date.parse(b.created_at);
  if (ta !== tb) return ta > tb;
  return a.job_id > b.job_id;
}

/** A job heard live that the first page does not show yet: put it in its place. */
function insertRow(job) {
  const rows = Array.from($('jobs-body').rows);
  const jobs = rows.map((r) => state.jobs.get(r.dataset.jobId));
  if (rows.length >= PAGE_SIZE && !before(job, jobs[jobs.length - 1])) return; // older
  state.jobs.set(job.job_id, job);
  const at = jobs.findIndex((shown) => shown && before(job, shown));
  const row = jobRow(job);
  if (at < 0) $('jobs-body').append(row);
  else rows[at].before(row);
  if ($('jobs-body').rows.length > PAGE_SIZE) {
    const last = $('jobs-body').rows[PAGE_SIZE];
    state.jobs.delete(last.dataset.jobId);
    last.remove();
  }
  show($('jobs-empty'), false);
}

function troubleMessage(error, delay) {
  const seconds = Math.round(delay / 1000);
  if (error instanceof Busy) {
    const why = error.status === 429 ? 'asks us to slow down' : 'is unavailable';
    return `The server ${why} (HTTP ${error.status}); trying again in ${seconds} s.`;
  }
  const why = error.status ? error.message : 'The server cannot be reached.';
  return `${why} Trying again in ${seconds} s.`;
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') {
    refresh();
  } else {
    clearTimeout(state.timer);
    state.timer = null;
    stopLive(); // a background tab holds no stream either
  }
});

// -- drawing -----------------------------------------------------------------------------
function showDashboard(stats) {
  state.signingIn = false;
  state.admin = stats.admin;
  if (!state.shown) {
    state.shown = true;
    show($('sign-in'), false);
    show($('dashboard'), true);
  }
  show($('session'), true);
  show($('sign-out'), Boolean(api.key));
  // With auth off every caller is the anonymous principal "".
  const anonymous = stats.principal === '';
  setText('principal', stats.principal);
  show($('signed-in'), !anonymous);
  show($('auth-off'), anonymous);
  show($('admin-badge'), stats.admin);
  for (const cell of document.querySelectorAll('#jobs .owner')) show(cell, stats.admin);
  fillOperations(stats.operations.map((o) => o.operation));
}

function fillOperations(names) {
  const select = $('filter-operation');
  const have = Array.from(select.options, (o) => o.value).slice(1);
  if (have.join('\n') === names.join('\n')) return;
  const chosen = select.value;
  select.replaceChildren(el('option', { text: 'any' }), ...names.map((n) => el('option', { text: n })));
  select.options[0].value = '';
  select.value = names.includes(chosen) ? chosen : '';
}

function renderCounts(stats) {
  $('status-counts').replaceChildren(
    ...[...STATUSES, 'total'].map((status) => {
      const count = status === 'total' ? stats.total : stats.by_status[status] ?? 0;
      const tile = el(
        'li',
        { className: `tile tile-${status}` },
        el('span', { className: 'count', text: String(count) }),
        el('span', { className: 'label', text: status }),
      );
      tile.dataset.status = status;
      return tile;
    }),
  );
  $('operation-counts').tBodies[0].replaceChildren(
    ...stats.operations.map((o) => {
      const name = el('th', { text: o.operation });
      name.scope = 'row';
      const row = el('tr', {}, name);
      for (const status of STATUSES) {
        row.append(el('td', { className: 'num', text: String(o.by_status[status] ?? 0) }));
      }
      row.append(el('td', { className: 'num', text: String(o.total) }));
      return row;
    }),
  );
}

/**
 * The page as read, with what the live list told meanwhile: a newer state of a job, a
 * job gone from the list, and on the first page a job made after the read.
 */
function withSeen(page) {
  const items = [];
  for (const job of page.items) {
    const seen = state.seen.get(job.job_id);
    if (seen === null) continue;
    items.push(seen && !newer(job, seen) ? { ...job, ...seen } : job);
  }
  if (state.page === 0) {
    const listed = new Set(items.map((j) => j.job_id));
    const last = items[items.length - 1];
    for (const seen of state.seen.values()) {
      if (!seen || listed.has(seen.job_id)) continue;
      if (items.length < PAGE_SIZE || before(seen, last)) items.push(seen);
    }
    items.sort((a, b) => (before(a, b) ? -1 : 1));
  }
  return items.slice(0, PAGE_SIZE);
}

function renderJobs(page) {
  state.nextCursor = page.next_cursor;
  const items = withSeen(page);
  state.jobs = new Map(items.map((job) => [job.job_id, job]));
  state.statuses = new Map(items.map((job) => [job.job_id, job.status]));
  $('jobs-body').replaceChildren(...items.map(jobRow));
  show($('jobs-empty'), items.length === 0);
  $('newer').disabled = state.page === 0;
  $('older').disabled = !page.next_cursor;
  setText('page-number', `page ${state.page + 1}`);
}

/**
 * A row follows the live list (and the open job's also its panel's stream) at once: one
 * stream for the whole list, not one per row, which would soon take all six connections
 * a browser allows a host over HTTP/1.1 (see docs/dashboard.md, "The live job list").
 */
function updateRow(job) {
  const shown = state.jobs.get(job.job_id);
  if (!shown || Date.parse(job.updated_at) < Date.parse(shown.updated_at)) return;
  const merged = { ...shown, ...job, result_link: job.result_link ?? shown.result_link };
  state.jobs.set(job.job_id, merged);
  const row = Array.from($('jobs-body').rows).find((r) => r.dataset.jobId === job.job_id);
  if (row) row.replaceWith(jobRow(merged));
}

function jobRow(job) {
  const open = el('button', { className: 'job-link', text: job.job_id.slice(0, 8), title: job.job_id });
  open.type = 'button';
  open.dataset.jobId = job.job_id;
  const progress = el('td', { className: 'progress' }, progressBar(job.progress_pct),
    el('span', { text: formatPct(job.progress_pct) }));
  const owner = el('td', { className: 'owner', text: job.owner ?? '' });
  owner.hidden = !state.admin;
  const row = el(
    'tr',
    {},
    el('td', {}, open),
    el('td', { text: job.operation }),
    el('td', {}, statusBadge(job.status)),
    progress,
    el('td', { className: 'step', text: job.step ?? '' }),
    el('td', { className: 'time', text: formatShortTime(job.created_at), title: job.created_at }),
    el('td', { className: 'time', text: formatShortTime(job.updated_at), title: job.updated_at }),
    owner,
  );
  row.dataset.jobId = job.job_id;
  if (job.job_id === detail.jobId) row.classList.add('selected');
  return row;
}

// -- bulk actions on the current filter ---------------------------------------------------
const BULK_WORDS = { cancel: 'Cancel', retry: 'Retry' };

async function bulk(action) {
  if (currentSearch()) return; // not offered: see currentSearch
  const filter = currentFilter();
  const what = Object.keys(filter).length
    ? `every job that fits the filter (${Object.entries(filter).map(([k, v]) => `${k} ${v}`).join(', ')})`
    : 'every job you can see';
  if (!window.confirm(`${BULK_WORDS[action]} ${what}?`)) return;
  notice('');
  const button = $(`bulk-${action}`);
  button.disabled = true;
  try {
    state.bulk = await api.json('POST', `/jobs/bulk/${action}`, {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(filter),
    });
    renderBulk();
    refresh();
  } catch (error) {
    if (error instanceof Unauthorized) signOut(expiredMessage());
    else notice(error.message);
  } finally {
    button.disabled = Boolean(currentSearch());
  }
}

async function refreshBulk() {
  if (!state.bulk || ['completed', 'failed', 'cancelled'].includes(state.bulk.status)) return;
  state.bulk = await api.get(`/jobs/${encodeURIComponent(state.bulk.job_id)}`);
  renderBulk();
}

function renderBulk() {
  const job = state.bulk;
  show($('bulk-status'), Boolean(job));
  if (!job) return;
  setText('bulk-job', `${job.operation} ${job.job_id.slice(0, 8)}`);
  $('bulk-job').title = job.job_id;
  $('bulk-progress').value = Number(job.progress_pct) || 0;
  const result = job.status === 'completed' && job.result
    ? `: ${job.result.changed} of ${job.result.matched} changed`
    : '';
  setText('bulk-text', `${job.status} ${formatPct(job.progress_pct)}${result}`);
}

$('detail-batch').addEventListener('click', () => {
  const id = $('detail-batch').textContent;
  if (id) batches.open(id);
});

$('bulk-cancel').addEventListener('click', () => bulk('cancel'));
$('bulk-retry').addEventListener('click', () => bulk('retry'));
$('bulk-job').addEventListener('click', (event) => {
  event.preventDefault();
  if (state.bulk) detail.open(state.bulk);
});

// -- wiring ------------------------------------------------------------------------------
$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key').value.trim();
  if (key) signIn(key);
});

$('sign-out').addEventListener('click', () => signOut());

$('filters').addEventListener('submit', (event) => event.preventDefault());
function showBulkButtons() {
  const searching = Boolean(currentSearch());
  $('bulk-cancel').disabled = searching;
  $('bulk-retry').disabled = searching;
  show($('bulk-no-search'), searching);
}

function filtersChanged() {
  showBulkButtons();
  state.cursors = [null];
  state.page = 0;
  refresh();
}

$('filters').addEventListener('change', filtersChanged);
// Clearing a search box with its own × button fires `search`, not always `change`.
$('filter-q').addEventListener('search', filtersChanged);

$('older').addEventListener('click', () => {
  if (!state.nextCursor) return;
  state.cursors[state.page + 1] = state.nextCursor;
  state.page += 1;
  refresh();
});

$('newer').addEventListener('click', () => {
  if (state.page === 0) return;
  state.page -= 1;
  refresh();
});

$('jobs-body').addEventListener('click', (event) => {
  const button = event.target.closest('button.job-link');
  const job = button && state.jobs.get(button.dataset.jobId);
  if (!job) return;
  for (const row of $('jobs-body').rows) row.classList.toggle('selected', row === button.closest('tr'));
  detail.open(job);
});

initTheme($('theme'));

// Without a stored key, the first refresh finds out whether the server needs one at all.
begin();
