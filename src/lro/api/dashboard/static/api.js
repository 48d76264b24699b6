// The API as the dashboard uses it. Every request carries the signed-in key as
// `Authorization: Bearer <key>` and no cookie; failures come back as exceptions the views
// act on: Unauthorized (back to the sign-in form), Busy (429/503: wait Retry-After) and
// ApiError (anything else, with the server's problem document).

const KEY_ITEM = 'lro.dashboard.key';

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && typeof problem.detail === 'string' ? problem.detail : '';
    super(detail || `The server answered HTTP ${status}.`);
    this.status = status;
    this.problem = problem;
  }
}

export class Unauthorized extends ApiError {}

export class Busy extends ApiError {
  constructor(status, problem, retryAfter) {
    super(status, problem);
    this.retryAfter = retryAfter;
  }
}

/** Seconds to wait from a Retry-After header (seconds or an HTTP date), 1 to 300. */
export function retryAfterSeconds(header, fallback = 5) {
  const value = (header || '').trim();
  let seconds = fallback;
  if (/^\d+$/.test(value)) {
    seconds = Number(value);
  } else if (value) {
    const when = Date.parse(value);
    if (!Number.isNaN(when)) seconds = (when - Date.now()) / 1000;
  }
  return Math.min(Math.max(Math.ceil(seconds), 1), 300);
}

async function errorOf(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status is all there is.
  }
  if (response.status === 401) return new Unauthorized(401, problem);
  if (response.status === 429 || response.status === 503) {
    const seconds = retryAfterSeconds(response.headers.get('Retry-After'));
    return new Busy(response.status, problem, seconds);
  }
  return new ApiError(response.status, problem);
}

export class Api {
  constructor(prefix) {
    this.prefix = prefix;
  }

  // The key lives in this tab's sessionStorage: gone when the tab closes, never sent
  // anywhere but in the Authorization header of our own requests.
  get key() {
    return sessionStorage.getItem(KEY_ITEM);
  }

  signIn(key) {
    sessionStorage.setItem(KEY_ITEM, key);
  }

  signOut() {
    sessionStorage.removeItem(KEY_ITEM);
  }

  /** fetch() a path under the API prefix: the Response when it is 2xx, else throws. */
  async send(method, path, { headers = {}, signal, body } = {}) {
    const all = { Accept: 'application/json', ...headers };
    const key = this.key;
    if (key) all.Authorization = `Bearer ${key}`;
    const response = await fetch(this.prefix + path, {
      method,
      headers: all,
      signal,
      body,
      cache: 'no-store',
      credentials: 'omit',
    });
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async json(method, path, options) {
    const response = await this.send(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  get(path, options) {
    return this.json('GET', path, options);
  }

  post(path, options) {
    return this.json('POST', path, options);
  }

  delete(path, options) {
    return this.json('DELETE', path, options);
  }
}
