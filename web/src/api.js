// The server's API, as the UI uses it. The token lives in sessionStorage (this tab only, gone
// when it closes) and travels only in the Authorization header: event streams are read with
// fetch (EventSource cannot send a header), so no token ever appears in a URL or a log.

const KEY = 'couler.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An error answer of the API: its status and the server's `{error, detail}`. */
export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail ? `${error}: ${detail}` : error);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

function headers(extra) {
  const h = { ...extra };
  const t = token.get();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

/** Fired on the window when the server answers 401: the token is gone or unknown. */
export const UNAUTHORIZED = 'couler-unauthorized';

async function failure(r) {
  let body = {};
  try {
    body = await r.json();
  } catch {
    body = { error: r.statusText };
  }
  const e = new ApiError(r.status, body.error || `HTTP ${r.status}`, body.detail || '');
  if (r.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED, { detail: e }));
  return e;
}

/** A request under /api/v1; its JSON answer, or throws ApiError. */
export async function api(method, path, body, signal) {
  const init = { method, headers: headers(body ? { 'Content-Type': 'application/json' } : {}), signal };
  if (body) init.body = JSON.stringify(body);
  const r = await fetch(`/api/v1${path}`, init);
  if (!r.ok) throw await failure(r);
  return r.json();
}

/** A plain-text body streamed chunk by chunk into `onText` (logs with `?follow=true`). */
export async function streamText(path, onText, signal) {
  const r = await fetch(`/api/v1${path}`, { headers: headers(), signal });
  if (!r.ok) throw await failure(r);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(dec.decode(value, { stream: true }));
  }
}

/**
 * Server-sent events of `path`, read with fetch so the token goes in the header: calls
 * `onEvent(kind, data)` for each event until `signal` aborts or the stream ends.
 */
export async function events(path, onEvent, signal) {
  let pending = '';
  await streamText(
    path,
    (text) => {
      pending += text;
      let end;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const frame = pending.slice(0, end);
        pending = pending.slice(end + 2);
        let kind = 'message';
        let data = '';
        for (const line of frame.split('\n')) {
          if (line.startsWith('event: ')) kind = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(kind, JSON.parse(data));
      }
    },
    signal,
  );
}

/**
 * Follows an endless stream (`GET /events`): reads it again 2 s after it ends or fails (a
 * server restart), until `signal` aborts.
 */
export async function followEvents(path, onEvent, signal, onReconnect) {
  while (!signal.aborted) {
    await events(path, onEvent, signal).catch(() => {});
    if (signal.aborted) return;
    await new Promise((done) => setTimeout(done, 2000));
    onReconnect();
  }
}

/** A file artifact, fetched with the token and handed to the browser as a download. */
export async function download(path, name) {
  const r = await fetch(`/api/v1${path}`, { headers: headers() });
  if (!r.ok) throw await failure(r);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const RANK = { viewer: 1, editor: 2, admin: 3 };

/** Whether `me` (GET /me) has at least `role` in `namespace`. */
export function may(me, role, namespace) {
  return (me?.roles || []).some(
    (b) => (b.namespace === namespace || b.namespace === '*') && RANK[b.role] >= RANK[role],
  );
}
