// Server-Sent Events over fetch(). The browser's EventSource cannot send an
// Authorization header, so the stream is read from a fetch() body: SseParser implements
// the event-stream format (WHATWG HTML, "server-sent events"), and follow() reads a job's
// stream until its terminal event, resuming with Last-Event-ID after a drop.

import { ApiError, Busy } from './api.js';

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export class SseParser {
  constructor(lastEventId = '') {
    this.buffer = '';
    this.started = false;
    this.type = '';
    this.data = [];
    this.lastEventId = lastEventId;
    this.retry = null;
  }

  /** Feed decoded text; returns the events it completed, as {type, data, lastEventId}. */
  push(text) {
    if (!this.started && text) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const buffer = this.buffer + text;
    const events = [];
    let start = 0;
    for (let i = 0; i < buffer.length; i += 1) {
      const c = buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      // A CR that ends the chunk may be the first half of a CRLF: wait for more text.
      if (c === '\r' && i === buffer.length - 1) break;
      this.line(buffer.slice(start, i), events);
      if (c === '\r' && buffer[i + 1] === '\n') i += 1;
      start = i + 1;
    }
    this.buffer = buffer.slice(start);
    return events;
  }

  line(line, events) {
    if (line === '') {
      if (this.data.length) {
        const data = this.data.join('\n');
        events.push({ type: this.type || 'message', data, lastEventId: this.lastEventId });
      }
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment: the server's heartbeat
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * Follow a job's event stream until its terminal event: onEvent(name, job) for each
 * change of the job, onPartial({seq, data}) for each of its partial results (skipped
 * without onPartial: they are not the job), onState('live' | 'reconnecting' | 'ended')
 * as the connection changes. A
 * dropped stream is resumed with Last-Event-ID, so no change is missed or repeated;
 * 429/503 wait for Retry-After. Rejects with the ApiError of a 4xx answer (401 included)
 * for the caller to handle; aborting `signal` ends it quietly. With `fromStart` the
 * stream begins at the job's first event: each replayed event carries the job as it was,
 * and onEvent returns false for one older than what the caller shows.
 */
export async function follow(api, path, { onEvent, onPartial, onState, signal, fromStart = false }) {
  // fromStart: Last-Event-ID 0, so the stream replays the job's whole history first.
  let lastEventId = fromStart ? '0' : '';
  let retryMs = 1000;
  while (!signal.aborted) {
    let delay = null; // the server's retry: time, unless it asked for longer
    try {
      const headers = { Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const response = await api.send('GET', path, { headers, signal });
      if (response.status === 204) {
        onState('ended'); // we already had the terminal event
        return;
      }
      onState('live');
      const parser = new SseParser(lastEventId);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          lastEventId = event.lastEventId;
          // A partial result (HTTP-CONTRACT §14) carries {seq, data}, not the job.
          if (event.type === 'partial') {
            if (onPartial) onPartial(JSON.parse(event.data));
            continue;
          }
          // A replay (fromStart) may hold an earlier run's end (a job retried under its
          // id): onEvent answers false for such a past state, and the stream goes on.
          const current = onEvent(event.type, JSON.parse(event.data));
          if (TERMINAL.has(event.type) && current !== false) {
            onState('ended');
            await reader.cancel();
            return;
          }
        }
        if (parser.retry !== null) retryMs = parser.retry;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof Busy) delay = error.retryAfter * 1000;
      else if (error instanceof ApiError && error.status < 500) throw error;
      // Otherwise the network or a proxy dropped us: reconnect below.
    }
    onState('reconnecting');
    await sleep(delay ?? retryMs, signal);
  }
}
