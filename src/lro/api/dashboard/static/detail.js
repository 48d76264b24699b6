// The job panel: one job followed live through its event stream, with its params (read
// once: they never change), its error, its metadata, its steps and partial results (output.js), its result link, its webhook
// deliveries, a Cancel button, and a Retry button for a failed or cancelled job
// (HTTP-CONTRACT §14: it runs again under its id).

import { ApiError, Unauthorized } from './api.js';
import { $, el, formatPct, formatTime, sameOrigin, setText, show } from './dom.js';
import { JobOutput } from './output.js';
import { Timeline } from './timeline.js';
import { TERMINAL, follow } from './sse.js';

const LIVE_TEXT = {
  connecting: 'connecting…',
  live: 'following live',
  reconnecting: 'reconnecting…',
  ended: 'finished',
  gone: 'this job no longer exists',
  deleted: 'deleted',
};

function deliveryItem(d) {
  const attempts = d.attempts === 1 ? '1 attempt' : `${d.attempts} attempts`;
  const answer = d.last_status_code !== null ? `answered HTTP ${d.last_status_code}` : d.last_error;
  return el(
    'li',
    {},
    el('div', {}, el('strong', { text: d.type }), ` · ${d.status} · ${attempts}`),
    el('code', { className: 'url', text: d.url }),
    el('div', { className: 'muted', text: answer || '' }),
  );
}

export class DetailPanel {
  /**
   * @param api the Api
   * @param onUnauthorized called when the key stops working (back to sign-in)
   * @param onNotice called with a message for the page's notice line
   * @param onChange called with the job each time the panel shows a newer state of it
   * @param onDeleted called with the job's id once the panel deleted it
   */
  constructor(api, { onUnauthorized, onNotice, onChange = () => {}, onDeleted = () => {} }) {
    this.api = api;
    this.onUnauthorized = onUnauthorized;
    this.onNotice = onNotice;
    this.onChange = onChange;
    this.onDeleted = onDeleted;
    this.job = null;
    this.controller = null;
    this.output = new JobOutput(api, (error) => this.failed(error));
    this.timeline = new Timeline();
    $('detail-close').addEventListener('click', () => this.close());
    $('detail-cancel').addEventListener('click', () => this.cancel());
    $('detail-retry').addEventListener('click', () => this.retry());
    $('detail-delete').addEventListener('click', () => this.remove());
  }

  get jobId() {
    return this.job ? this.job.job_id : null;
  }

  /** Show `job` (an item of the list) and follow it until it ends. */
  open(job) {
    this.close();
    this.job = job;
    this.deleted = false;
    this.owner = job.owner ?? null;
    this.resultLink = job.result_link ?? null;
    this.controller = new AbortController();
    show($('detail'), true);
    this.render(job);
    this.output.reset(this.path());
    this.timeline.reset();
    this.setLive('connecting');
    this.loadParams();
    this.loadDeliveries();
    this.output.loadSteps();
    this.follow(this.controller);
  }

  close() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.job = null;
    this.output.reset(null);
    show($('detail'), false);
  }

  /**
   * Called by the page's refresh: deliveries keep changing after a job ends, and a running
   * job's steps change without an event of the job (a step is not a state).
   */
  refresh() {
    if (!this.job || this.deleted) return;
    if (TERMINAL.has(this.job.status)) this.loadDeliveries();
    else this.output.loadSteps();
  }

  path(suffix = '') {
    return `/jobs/${encodeURIComponent(this.jobId)}${suffix}`;
  }

  async follow(controller) {
    const current = () => controller === this.controller;
    let partialsRead = false;
    const readPartials = () => {
      // Once, after the stream is live: what came before is in this read, the rest in events.
      if (partialsRead) return;
      partialsRead = true;
      this.output.loadPartials();
    };
    try {
      await follow(this.api, this.path('/events'), {
        signal: controller.signal,
        onState: (state) => {
          if (!current()) return;
          this.setLive(state);
          if (state === 'live' || state === 'ended') readPartials();
        },
        fromStart: true,
        onEvent: (name, job) => {
          if (!current()) return;
          this.timeline.add(name, job);
          // The replay's earlier states go to the timeline only: the panel (and the list
          // row it updates) never steps back from the state it already shows.
          if (Date.parse(job.updated_at) < Date.parse(this.job.updated_at)) return false;
          this.render(job);
          this.output.loadSteps();
          if (TERMINAL.has(name)) this.finished();
        },
        onPartial: (partial) => current() && this.output.add(partial),
      });
    } catch (error) {
      if (current()) this.failed(error);
    }
  }

  /** The stream's job resource has no signed result link: read the job once more. */
  async finished() {
    const id = this.jobId;
    try {
      const job = await this.api.get(this.path());
      if (id !== this.jobId) return;
      this.resultLink = job.result_link ?? null;
      this.render(job);
      await this.loadDeliveries();
    } catch (error) {
      if (id === this.jobId) this.failed(error);
    }
  }

  failed(error) {
    if (error instanceof Unauthorized) {
      this.onUnauthorized();
    } else if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
      this.setLive('gone');
    } else {
      this.onNotice(error.message || String(error));
    }
  }

  async cancel() {
    const id = this.jobId;
    this.onNotice(''); // the last action's answer gives way to this one's
    const button = $('detail-cancel');
    button.disabled = true;
    try {
      const job = await this.api.post(this.path('/cancel'));
      if (id === this.jobId) this.render(job);
    } catch (error) {
      if (id !== this.jobId) return;
      button.disabled = false;
      if (error instanceof ApiError && error.status === 409) {
        this.onNotice('The job has already finished; it cannot be cancelled.');
      } else {
        this.failed(error);
      }
    }
  }

  async retry() {
    const id = this.jobId;
    this.onNotice(''); // the last action's answer gives way to this one's
    const button = $('detail-retry');
    button.disabled = true;
    try {
      const job = await this.api.post(this.path('/retry'));
      if (id !== this.jobId) return;
      // Queued again: follow it from here, as a newly opened job.
      this.open({ ...job, owner: this.owner });
    } catch (error) {
      if (id !== this.jobId) return;
      button.disabled = false;
      if (error instanceof ApiError && error.status === 409) {
        this.onNotice('Only a failed or cancelled job can be retried.');
      } else if (error instanceof ApiError && error.status === 501) {
        this.onNotice('This server\'s store cannot retry jobs.');
      } else {
        this.failed(error);
      }
    }
  }

  /** DELETE a finished job (and its result): the panel then says it is gone. */
  async remove() {
    const id = this.jobId;
    if (!window.confirm(`Delete job ${id} and its result? This cannot be undone.`)) return;
    this.onNotice(''); // the last action's answer gives way to this one's
    const button = $('detail-delete');
    button.disabled = true;
    try {
      await this.api.delete(this.path());
      if (id !== this.jobId) return;
      this.deleted = true;
      this.setLive('deleted');
      for (const name of ['detail-cancel', 'detail-retry', 'detail-delete']) show($(name), false);
      this.onDeleted(id);
    } catch (error) {
      if (id !== this.jobId) return;
      button.disabled = false;
      if (error instanceof ApiError && error.status === 409) {
        this.onNotice('Only a finished job can be deleted; cancel it first.');
      } else {
        this.failed(error);
      }
    }
  }

  /** The params the job was submitted with (GET …/params): not in the job resource. */
  async loadParams() {
    const id = this.jobId;
    show($('detail-params'), false);
    setText('detail-params-value', '');
    let body;
    try {
      body = await this.api.get(this.path('/params'));
    } catch (error) {
      if (id === this.jobId) this.failed(error);
      return;
    }
    if (id !== this.jobId) return;
    setText('detail-params-value', JSON.stringify(body.params, null, 2));
    show($('detail-params'), true);
  }

  async loadDeliveries() {
    const id = this.jobId;
    let page;
    try {
      page = await this.api.get(this.path('/deliveries'));
    } catch (error) {
      if (id === this.jobId) this.failed(error);
      return;
    }
    if (id !== this.jobId) return;
    $('detail-deliveries-list').replaceChildren(...page.items.map(deliveryItem));
    show($('detail-deliveries'), page.items.length > 0);
  }

  setLive(state) {
    setText('detail-live', LIVE_TEXT[state] || state);
  }

  render(job) {
    this.job = job;
    this.onChange(job);
    setText('detail-id', job.job_id);
    const status = $('detail-status');
    status.textContent = job.cancel_requested && !TERMINAL.has(job.status)
      ? `${job.status} (cancel requested)`
      : job.status;
    status.className = `status status-${job.status}`;
    $('detail-progress').value = Number(job.progress_pct) || 0;
    setText('detail-pct', formatPct(job.progress_pct));
    setText('detail-step', job.step ?? '—');
    setText('detail-operation', job.operation);
    setText('detail-tags', (job.tags ?? []).join(', ') || '—');
    this.renderFlow(job);
    const metadata = job.metadata ?? {};
    const hasMetadata = Object.keys(metadata).length > 0;
    show($('detail-metadata'), hasMetadata);
    setText('detail-metadata-value', hasMetadata ? JSON.stringify(metadata, null, 2) : '');
    show($('detail-owner-label'), this.owner !== null);
    show($('detail-owner'), this.owner !== null);
    setText('detail-owner', this.owner ?? '');
    setText('detail-attempt', `${job.attempt} of ${job.max_attempts}`);
    setText('detail-created', formatTime(job.created_at));
    setText('detail-started', formatTime(job.started_at));
    setText('detail-updated', formatTime(job.updated_at));
    setText('detail-finished', formatTime(job.finished_at));
    this.renderError(job.error);
    this.renderResult(job);
    const cancellable = !TERMINAL.has(job.status);
    const button = $('detail-cancel');
    show(button, cancellable);
    button.disabled = job.cancel_requested;
    button.textContent = job.cancel_requested ? 'Cancel requested' : 'Cancel job';
    const retry = $('detail-retry');
    show(retry, job.status === 'failed' || job.status === 'cancelled');
    retry.disabled = false;
    const remove = $('detail-delete');
    show(remove, TERMINAL.has(job.status));
    remove.disabled = false;
  }

  renderError(error) {
    show($('detail-error'), Boolean(error));
    if (!error) return;
    setText('detail-error-title', error.title);
    setText('detail-error-detail', error.detail);
    setText('detail-error-code', error.code);
    setText('detail-error-retryable', error.retryable ? 'retryable' : 'not retryable');
    const attempts = Number(error.attempts);
    setText('detail-error-attempts', attempts > 0
      ? `, after ${attempts === 1 ? '1 attempt' : `${attempts} attempts`}`
      : '');
  }

  /** The batch a job came in and the jobs it still waits for (HTTP-CONTRACT §17). */
  renderFlow(job) {
    const batch = job.batch_id ?? null;
    show($('detail-batch-label'), batch !== null);
    show($('detail-batch-cell'), batch !== null);
    setText('detail-batch', batch ?? '');
    const waiting = job.waiting_on ?? [];
    show($('detail-waiting-label'), waiting.length > 0);
    show($('detail-waiting'), waiting.length > 0);
    setText('detail-waiting', waiting.join(', '));
  }

  renderResult(job) {
    const completed = job.status === 'completed';
    show($('detail-result'), completed);
    if (!completed) return;
    const link = $('detail-result-link');
    const usable = this.resultLink && sameOrigin(this.resultLink);
    if (usable) link.href = this.resultLink;
    else link.removeAttribute('href');
    show(link, Boolean(usable));
    setText('detail-result-note', usable ? '(a signed link, valid for a while)' : '');
    const value = $('detail-result-value');
    const inline = job.result !== null && job.result !== undefined;
    value.textContent = inline ? JSON.stringify(job.result, null, 2) : '';
    show(value, inline);
  }
}
