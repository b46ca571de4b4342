// fetch wrapper for /api/v1: same-origin cookies, the CSRF header on every
// state-changing request, error JSON ({"error","status","reason"}) turned
// into an ApiError with .status, .code and .retryAfter (seconds, from
// Retry-After). Any 401 (but the login's own) calls the unauthorised
// handler, which sends the page to #/login.

let csrfToken = null;
let onUnauthorised = () => {};

export function setCsrfToken(t) { csrfToken = t || null; }
export function getCsrfToken() { return csrfToken; }
export function setUnauthorisedHandler(fn) { onUnauthorised = fn; }

export class ApiError extends Error {
  constructor(status, code, reason, retryAfter) {
    super(reason || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * api('studies/ID', {method, body, query, allow401, signal})
 * path: relative to /api/v1/ or absolute ('/api/v1/...').
 * Resolves to the parsed JSON (null for 204 / empty bodies).
 */
export async function api(path, opts = {}) {
  const method = (opts.method || 'GET').toUpperCase();
  let url = path.startsWith('/') ? path : `/api/v1/${path}`;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query))
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const qs = q.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  const headers = { Accept: 'application/json' };
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (UNSAFE.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(url, { method, headers, body, credentials: 'same-origin', signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const ra = res.headers.get('Retry-After');
    const err = new ApiError(res.status, data && data.error, (data && data.reason) || res.statusText,
      ra !== null && ra !== '' && !isNaN(Number(ra)) ? Number(ra) : undefined);
    if (res.status === 401 && !opts.allow401) onUnauthorised(err);
    throw err;
  }
  return data;
}

export const get = (p, o = {}) => api(p, { ...o, method: 'GET' });
export const post = (p, body, o = {}) => api(p, { ...o, method: 'POST', body });
export const put = (p, body, o = {}) => api(p, { ...o, method: 'PUT', body });
export const del = (p, o = {}) => api(p, { ...o, method: 'DELETE' });

/** URL of a frame's JPEG / thumbnail (the viewer puts these in <img src>). */
export const frameUrl = (study, seq) => `/api/v1/studies/${encodeURIComponent(study)}/frames/${seq}.jpg`;
export const thumbUrl = (study, seq) => `/api/v1/studies/${encodeURIComponent(study)}/frames/${seq}/thumb.jpg`;
export const studyPath = (study, rest = '') => `studies/${encodeURIComponent(study)}${rest}`;
