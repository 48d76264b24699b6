// The job list's live stream: GET /jobs/events with the list's filters (see
// docs/http-api.md, "Live job list"). The server sends `sync` first on every connection
// (read the list now: there is no resuming a list), then `job` with a job's latest state
// and `removed` when a job leaves the list; a storm of changes comes as another `sync`.
// Read with fetch(), as the job panel's stream is (sse.js), so the key goes in a header.

import { ApiError, Busy } from './api.js';
import { SseParser } from './sse.js';

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
 * Follow `path` until `signal` aborts: onSync() on each `sync`, onJob(job) and
 * onRemoved(jobId) for the changes, onState('live' | 'reconnecting') as the connection
 * changes. A dropped stream is opened again after the server's `retry:` (429/503: after
 * Retry-After). Rejects with the ApiError of any other 4xx answer (401 included), for the
 * caller to handle (fall back to polling, or sign out).
 */
export async function followList(api, path, { onSync, onJob, onRemoved, onState, signal }) {
  let retryMs = 2000;
  while (!signal.aborted) {
    let delay = null;
    try {
      const response = await api.send('GET', path, {
        headers: { Accept: 'text/event-stream' }, signal,
      });
      onState('live');
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          const data = JSON.parse(event.data);
          if (event.type === 'sync') onSync(data);
          else if (event.type === 'job') onJob(data);
          else if (event.type === 'removed') onRemoved(data.job_id);
        }
        if (parser.retry !== null) retryMs = parser.retry;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof Busy) delay = error.retryAfter * 1000;
      else if (error instanceof ApiError && error.status < 500) throw error;
      // Otherwise the network, a proxy or the server's end: open it again below.
    }
    onState('reconnecting');
    await sleep(delay ?? retryMs, signal);
  }
}
