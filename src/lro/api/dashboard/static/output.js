// What a long job has done so far, for the job panel (HTTP-CONTRACT §14): its durable
// steps (GET /jobs/{id}/steps) and its partial results, read once from
// GET /jobs/{id}/partials and then as they arrive on the job's event stream. Step names
// and partial values are whatever the handler wrote: text only, never markup.

import { ApiError } from './api.js';
import { $, el, formatShortTime, show } from './dom.js';

export const SHOWN_PARTIALS = 200;
/** Only the newest partials stay on screen: a job may make a million rows. */
const PARTIAL_PAGE = 1000;
const PARTIAL_PAGES = 5;
/** The first read walks at most this many pages; later partials come from the stream. */

function stepItem(step) {
  const finished = step.finished_at ? ` → ${formatShortTime(step.finished_at)}` : '';
  const item = el(
    'li',
    {},
    el('code', { className: 'name', text: step.name }),
    el('span', { className: `status step-${step.status}`, text: step.status }),
    el('span', { className: 'attempt muted', text: ` attempt ${step.attempt} · ` }),
    el('span', { className: 'time muted', text: `${formatShortTime(step.started_at)}${finished}` }),
  );
  item.dataset.step = step.name;
  item.dataset.attempt = String(step.attempt);
  return item;
}

export function valueText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class JobOutput {
  constructor(api, onError) {
    this.api = api;
    this.onError = onError;
    this.reset(null);
  }

  /** Start over for another job (or none). */
  reset(path) {
    this.path = path;
    this.partials = new Map(); // seq -> data, newest SHOWN_PARTIALS kept
    this.highest = 0;
    this.stepsBusy = false;
    this.stepsAgain = false;
    this.supported = true; // false after a 501: this store keeps no steps or partials
    $('detail-steps-list').replaceChildren();
    $('detail-partials-list').replaceChildren();
    show($('detail-steps'), false);
    show($('detail-partials'), false);
  }

  /** Read the steps again; calls that come while a read is out are folded into one more. */
  async loadSteps() {
    if (!this.path || !this.supported) return;
    if (this.stepsBusy) {
      this.stepsAgain = true;
      return;
    }
    const path = this.path;
    this.stepsBusy = true;
    try {
      const page = await this.api.get(`${path}/steps`);
      if (path !== this.path) return;
      $('detail-steps-list').replaceChildren(...page.items.map(stepItem));
      show($('detail-steps'), page.items.length > 0);
    } catch (error) {
      if (path === this.path) this.failed(error);
    } finally {
      if (path === this.path) {
        this.stepsBusy = false;
        if (this.stepsAgain) {
          this.stepsAgain = false;
          this.loadSteps();
        }
      }
    }
  }

  /**
   * Read the partials stored so far. Called once the stream is live, so every partial is
   * either in this read or in a later event; the two overlap at most, and `seq` dedupes.
   */
  async loadPartials() {
    if (!this.path || !this.supported) return;
    const path = this.path;
    let after = 0;
    try {
      for (let i = 0; i < PARTIAL_PAGES; i += 1) {
        const query = new URLSearchParams({ after: String(after), limit: String(PARTIAL_PAGE) });
        const page = await this.api.get(`${path}/partials?${query}`);
        if (path !== this.path) return;
        for (const item of page.items) this.add(item, false);
        if (page.items.length < PARTIAL_PAGE) break;
        after = page.next_after;
      }
      this.renderPartials();
    } catch (error) {
      if (path === this.path) this.failed(error);
    }
  }

  /** A partial result from the stream (or a read): {seq, data}. */
  add(partial, render = true) {
    if (!Number.isInteger(partial.seq) || this.partials.has(partial.seq)) return;
    this.partials.set(partial.seq, partial.data);
    this.highest = Math.max(this.highest, partial.seq);
    if (this.partials.size > SHOWN_PARTIALS) {
      const oldest = Math.min(...this.partials.keys());
      this.partials.delete(oldest);
    }
    if (render) this.renderPartials();
  }

  renderPartials() {
    const seqs = [...this.partials.keys()].sort((a, b) => a - b);
    $('detail-partials-list').replaceChildren(
      ...seqs.map((seq) => {
        const item = el('li', {}, el('span', { className: 'seq muted', text: `#${seq}` }),
          el('code', { text: valueText(this.partials.get(seq)) }));
        item.dataset.seq = String(seq);
        return item;
      }),
    );
    show($('detail-partials'), seqs.length > 0);
    const count = this.highest;
    $('detail-partials-count').textContent = count === 1 ? '1 so far' : `${count} so far`;
    const hidden = seqs.length ? seqs[0] - 1 : 0;
    $('detail-partials-more').textContent = hidden > 0
      ? `The ${hidden} before #${seqs[0]} are not shown here (GET …/partials reads them all).`
      : '';
    show($('detail-partials-more'), hidden > 0);
  }

  failed(error) {
    if (error instanceof ApiError && error.status === 501) {
      this.supported = false; // no steps or partials on this store: nothing to show
      return;
    }
    this.onError(error);
  }
}
