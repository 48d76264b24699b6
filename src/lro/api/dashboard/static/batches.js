// The batches panel (HTTP-CONTRACT §17): each batch with its status, overall progress and
// counts, and a click shows its jobs. The contract has no route that lists a caller's
// batches (only GET /batches/{id}), so the panel lists the batches of the jobs on the
// current page of the job list, plus any opened by id (the form, or the job panel's batch
// link), and reads each one from GET /batches/{id}.

import { ApiError, Unauthorized } from './api.js';
import {
  $, el, formatPct, formatShortTime, progressBar, show, statusBadge,
} from './dom.js';

const STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'];
const KEPT = 10; // batches on screen: the newest seen
const SHOWN_JOBS = 100; // of a chosen batch's up to 1,000 jobs

function jobButton(job) {
  const open = el('button', { className: 'job-link', text: job.job_id.slice(0, 8), title: job.job_id });
  open.type = 'button';
  open.dataset.jobId = job.job_id;
  return open;
}

export class BatchesPanel {
  /**
   * @param api the Api
   * @param onOpenJob called with a job resource to show in the job panel
   * @param onUnauthorized called when the key stops working
   */
  constructor(api, { onOpenJob, onUnauthorized }) {
    this.api = api;
    this.onOpenJob = onOpenJob;
    this.onUnauthorized = onUnauthorized;
    this.reset();
    $('batch-open').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = $('batch-id').value.trim();
      if (id) this.open(id);
    });
    $('batches-body').addEventListener('click', (event) => {
      const button = event.target.closest('button.batch-link');
      if (button) this.select(button.dataset.batchId);
    });
    $('batch-jobs-body').addEventListener('click', (event) => {
      const button = event.target.closest('button.job-link');
      const batch = this.known.get(this.selected);
      const job = button && batch && batch.jobs.find((j) => j.job_id === button.dataset.jobId);
      if (job) this.onOpenJob(job);
    });
  }

  reset() {
    this.known = new Map(); // batch_id -> its resource (null until read), newest first
    this.selected = null;
    this.supported = true;
    this.busy = false;
  }

  /** Remember `ids` (newest first), keeping the KEPT newest and the chosen one. */
  remember(ids) {
    const next = new Map();
    for (const id of ids) if (!next.has(id)) next.set(id, this.known.get(id) ?? null);
    for (const [id, batch] of this.known) if (!next.has(id)) next.set(id, batch);
    this.known = new Map([...next].filter(([id], i) => i < KEPT || id === this.selected));
  }

  /** Open a batch by id: read it, list it first and show its jobs. */
  async open(id) {
    this.note('');
    this.remember([id]);
    this.selected = id;
    $('batch-id').value = '';
    await this.refresh([]);
  }

  select(id) {
    this.note('');
    this.selected = this.selected === id ? null : id;
    this.render();
  }

  /** Called by the page's refresh with the jobs on screen: their batches join the list. */
  async refresh(jobs) {
    if (!this.supported || this.busy) return;
    this.remember(jobs.map((j) => j.batch_id).filter(Boolean));
    this.busy = true;
    try {
      // A finished batch changes no more: read it once, then keep it.
      const stale = [...this.known].filter(([, b]) => b === null || b.status !== 'completed');
      await Promise.all(stale.map(([id]) => this.read(id)));
    } finally {
      this.busy = false;
    }
    this.render();
  }

  async read(id) {
    try {
      const batch = await this.api.get(`/batches/${encodeURIComponent(id)}`);
      if (this.known.has(id)) this.known.set(id, batch);
    } catch (error) {
      if (error instanceof Unauthorized) {
        this.onUnauthorized();
      } else if (error instanceof ApiError && error.status === 501) {
        this.supported = false;
      } else if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
        this.known.delete(id); // not the caller's, or expired
        if (this.selected === id) {
          this.selected = null;
          this.note(`There is no batch ${id} (or it expired).`);
        }
      } else {
        this.note(error.message || String(error));
      }
    }
  }

  note(text) {
    $('batches-note').textContent = text;
    show($('batches-note'), Boolean(text));
  }

  render() {
    if (!this.supported) {
      $('batches-body').replaceChildren();
      show($('batch-jobs'), false);
      show($('batch-open'), false);
      show($('batches-empty'), false);
      this.note('Batches are not available on this store.');
      return;
    }
    const batches = [...this.known.values()].filter(Boolean);
    $('batches-body').replaceChildren(...batches.map((b) => this.row(b)));
    show($('batches-empty'), batches.length === 0);
    this.renderJobs(this.selected ? this.known.get(this.selected) : null);
  }

  row(batch) {
    const open = el('button', { className: 'batch-link', text: batch.batch_id.slice(0, 8), title: batch.batch_id });
    open.type = 'button';
    open.dataset.batchId = batch.batch_id;
    const row = el(
      'tr',
      {},
      el('td', {}, open),
      el('td', {}, statusBadge(batch.status)),
      el('td', { className: 'progress' }, progressBar(batch.progress_pct),
        el('span', { text: formatPct(batch.progress_pct) })),
      ...STATUSES.map((s) => el('td', { className: `num count-${s}`, text: String(batch.counts[s] ?? 0) })),
      el('td', { className: 'num total', text: String(batch.total) }),
      el('td', { className: 'time', text: formatShortTime(batch.created_at), title: batch.created_at || '' }),
    );
    row.dataset.batchId = batch.batch_id;
    if (batch.batch_id === this.selected) row.classList.add('selected');
    return row;
  }

  renderJobs(batch) {
    show($('batch-jobs'), Boolean(batch));
    if (!batch) return;
    $('batch-jobs-id').textContent = batch.batch_id;
    const jobs = batch.jobs.slice(0, SHOWN_JOBS);
    $('batch-jobs-body').replaceChildren(
      ...jobs.map((job) => {
        const row = el(
          'tr',
          {},
          el('td', {}, jobButton(job)),
          el('td', { text: job.operation }),
          el('td', {}, statusBadge(job.status)),
          el('td', { className: 'progress' }, progressBar(job.progress_pct),
            el('span', { text: formatPct(job.progress_pct) })),
          el('td', { className: 'step', text: job.step ?? '' }),
          el('td', { text: (job.waiting_on ?? []).map((id) => id.slice(0, 8)).join(', ') }),
        );
        row.dataset.jobId = job.job_id;
        return row;
      }),
    );
    const more = batch.jobs.length - jobs.length;
    $('batch-jobs-more').textContent = more > 0 ? `and ${more} more (GET ${batch.poll_url})` : '';
    show($('batch-jobs-more'), more > 0);
  }
}
