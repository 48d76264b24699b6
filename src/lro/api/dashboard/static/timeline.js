// The job panel's timeline: every change of the job, from its first event, as the stream
// replays them (Last-Event-ID 0 asks for the whole history, HTTP-CONTRACT §4) and then
// as they happen. Progress is coalesced: a run of progress events of one attempt and
// one step is one line that keeps its latest figure, so a job that reports progress a
// thousand times still reads as a handful of lines.

import { $, el, formatPct, formatTime, show } from './dom.js';

const MAX_LINES = 200; // the newest lines kept on screen; the heading counts the rest

export class Timeline {
  constructor() {
    this.reset();
  }

  reset() {
    this.lines = []; // {name, status, attempt, step, pct, at, node}
    this.dropped = 0;
    $('detail-timeline-list').replaceChildren();
    show($('detail-timeline'), false);
    this.count();
  }

  /** One event of the stream: `name` its SSE event name, `job` the resource as of it. */
  add(name, job) {
    const last = this.lines[this.lines.length - 1];
    const step = job.step ?? null;
    if (name === 'progress' && last && last.name === 'progress'
        && last.attempt === job.attempt && last.step === step) {
      last.pct = job.progress_pct;
      last.at = job.updated_at;
      this.draw(last);
      return;
    }
    const line = {
      name, status: job.status, attempt: job.attempt, step, pct: job.progress_pct,
      at: job.updated_at, node: el('li'),
    };
    this.draw(line);
    this.lines.push(line);
    $('detail-timeline-list').append(line.node);
    while (this.lines.length > MAX_LINES) {
      this.lines.shift().node.remove();
      this.dropped += 1;
    }
    show($('detail-timeline'), true);
    this.count();
  }

  draw(line) {
    const what = line.name === 'progress' ? `progress ${formatPct(line.pct)}` : line.status;
    const parts = [what, `attempt ${line.attempt}`];
    if (line.step) parts.push(line.step);
    line.node.replaceChildren(
      el('time', { className: 'muted', text: formatTime(line.at) }),
      ' ',
      el('span', { text: parts.join(' · ') }),
    );
  }

  count() {
    const shown = this.lines.length;
    $('detail-timeline-count').textContent = this.dropped
      ? `(the newest ${shown}; ${this.dropped} earlier not shown)`
      : '';
  }
}
