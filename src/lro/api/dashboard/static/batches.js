// The batches panel (HTTP-CONTRACT §17): each batch with its status, overall progress and
// counts, and a click shows its jobs. It lists the caller's newest batches from
// GET /batches (each without its jobs), plus any opened by id (the form, or the job
// panel's batch link) that the list does not hold; the chosen one and those opened by id
// are read whole from GET /batches/{id}.

import { ApiError, Unauthorized } from './api.js';
import {
  $, el, formatPct, formatShortTime, progressBar, show, statusBadge,
} from './dom.js';

const STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'];
const KEPT = 10; // batches listed: the newest, and up to as many opened by id
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
      const batch = this.whole.get(this.selected);
      const job = button && batch && batch.jobs.find((j) => j.job_id === button.dataset.jobId);
      if (job) this.onOpenJob(job);
    });
  }

  reset() {
    this.listed = []; // the newest batches, as GET /batches gives them (without jobs)
    this.opened = []; // ids opened by id, the latest first
    this.whole = new Map(); // batch_id -> its whole resource (with jobs), for those read
    this.selected = null;
    this.supported = true;
    this.busy = false;
  }

  /** Open a batch by id: read it, list it first and show its jobs. */
  async open(id) {
    this.note('');
    this.opened = [id, ...this.opened.filter((o) => o !== id)].slice(0, KEPT);
    this.selected = id;
    $('batch-id').value = '';
    if (!this.supported) return;
    await this.read(id);
    this.render();
  }

  select(id) {
    this.note('');
    this.selected = this.selected === id ? null : id;
    this.render();
    if (this.selected && !this.whole.has(this.selected)) {
      this.read(this.selected).then(() => this.render());
    }
  }

  /** Called by the page's refresh: the list again, and the batches read whole. */
  async refresh() {
    if (!this.supported || this.busy) return;
    this.busy = true;
    try {
      const page = await this.api.get(`/batches?limit=${KEPT}`);
      this.listed = page.items;
      const listed = new Set(this.listed.map((b) => b.batch_id));
      const wanted = new Set(this.opened.filter((id) => !listed.has(id)));
      if (this.selected) wanted.add(this.selected);
      for (const id of this.whole.keys()) if (!wanted.has(id)) this.whole.delete(id);
      // A finished batch changes no more: read it whole once, then keep it.
      const stale = [...wanted].filter((id) => this.whole.get(id)?.status !== 'completed');
      await Promise.all(stale.map((id) => this.read(id)));
    } catch (error) {
      this.failed(error);
    } finally {
      this.busy = false;
    }
    this.render();
  }

  async read(id) {
    try {
      this.whole.set(id, await this.api.get(`/batches/${encodeURIComponent(id)}`));
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
        this.whole.delete(id); // not the caller's, or expired
        this.opened = this.opened.filter((o) => o !== id);
        if (this.selected === id) {
          this.selected = null;
          this.note(`There is no batch ${id} (or it expired).`);
        }
      } else {
        this.failed(error);
      }
    }
  }

  failed(error) {
    if (error instanceof Unauthorized) this.onUnauthorized();
    else if (error instanceof ApiError && error.status === 501) this.supported = false;
    else this.note(error.message || String(error));
  }

  /** What the table shows: those opened by id the list lacks, then the list. */
  shown() {
    const listed = new Set(this.listed.map((b) => b.batch_id));
    const opened = this.opened.filter((id) => !listed.has(id) && this.whole.has(id));
    return [
      ...opened.map((id) => this.whole.get(id)),
      ...this.listed.map((b) => this.whole.get(b.batch_id) ?? b),
    ];
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
    const batches = this.shown();
    $('batches-body').replaceChildren(...batches.map((b) => this.row(b)));
    show($('batches-empty'), batches.length === 0);
    this.renderJobs(this.selected ? this.whole.get(this.selected) : null);
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
