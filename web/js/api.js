// The JSON API client. Same origin only. In the root shell the session travels in the
// HttpOnly cookie cityos_session (credentials: 'same-origin', no token in the page); the
// single sign-on screens (portal, console, ops) call setAuth() and send their own OIDC
// access token as Authorization: Bearer instead, refreshing it once on a 401.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code   the error code from {"error":{"code","message"}}, or a fallback
   * @param {string} message the server's message (English, for logs; the page shows its own)
   * @param {object} [extra] details: retryAfter (seconds), the error object's other fields
   */
  constructor(status, code, message, extra = {}) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    Object.assign(this, extra);
  }
}

const unauthorizedListeners = new Set();
let auth = null;

/** Bearer mode: a = { token() -> string|null, refresh() -> Promise<boolean> }, or null. */
export function setAuth(a) {
  auth = a;
}

/** The Authorization header of the current access token ({} in cookie mode), for the
 *  few requests that do not go through api() (e.g. Open311). */
export function authHeaders() {
  const tok = auth && auth.token();
  return tok ? { Authorization: `Bearer ${tok}` } : {};
}

/** fn() runs when a request that needed a session answers 401 (the session ended). */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

function fallbackCode(status) {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  return `http_${status}`;
}

/**
 * Calls the API. path starts with /api/v1/. Resolves to the parsed JSON body (null for an
 * empty body); rejects with ApiError. opts: method, body (sent as JSON), signal,
 * quiet401 (do not announce a 401 as an ended session).
 */
export async function api(path, opts = {}) {
  const init = {
    method: opts.method || 'GET',
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: opts.signal,
  };
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res;
  for (let attempt = 0; ; attempt++) {
    const bearer = authHeaders();
    if (bearer.Authorization) {
      init.headers.Authorization = bearer.Authorization;
      init.credentials = 'omit';
    }
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', String(e && e.message));
    }
    if (res.status !== 401 || !bearer.Authorization || attempt > 0) break;
    let renewed = false;
    try {
      renewed = await auth.refresh();
    } catch {
      renewed = false;
    }
    if (!renewed) break;
  }
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (res.ok) return body;
  const err = body && typeof body.error === 'object' && body.error ? body.error : {};
  const retry = Number.parseInt(res.headers.get('Retry-After') || '', 10);
  const e = new ApiError(res.status, err.code || fallbackCode(res.status), err.message || res.statusText, {
    details: err,
    retryAfter: Number.isFinite(retry) ? retry : undefined,
  });
  if (res.status === 401 && !opts.quiet401) for (const fn of unauthorizedListeners) fn(e);
  throw e;
}

/** Builds a query string from an object, leaving out null and undefined values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
