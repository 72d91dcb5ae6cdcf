/**
 * The console's only door to the server: fetch and Server-Sent Events with the system key.
 * Invariants: the key lives in sessionStorage (gone with the tab) and is sent as the
 * x-functions-key header (EventSource cannot send headers, so streams carry it as ?code=); a 401
 * forgets the key and asks for it again; every action is a POST or DELETE, never a GET.
 */
export const BASE = '/runtime/webhooks/durabletask';
const STORAGE_KEY = 'durable-nats.system-key';

export const getKey = (): string | null => sessionStorage.getItem(STORAGE_KEY);
export function setKey(key: string | null): void {
  if (key) sessionStorage.setItem(STORAGE_KEY, key);
  else sessionStorage.removeItem(STORAGE_KEY);
  window.dispatchEvent(new Event('dn-key'));
}

/** Takes `?code=` from the address (a shared link), keeps it, and removes it from the address bar. */
export function adoptKeyFromUrl(): void {
  const url = new URL(location.href);
  const code = url.searchParams.get('code');
  if (!code) return;
  setKey(code);
  url.searchParams.delete('code');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }
}

export interface ApiResult<T> {
  data: T;
  status: number;
  headers: Headers;
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

export async function api<T = unknown>(
  path: string, init: { method?: 'GET' | 'POST' | 'DELETE'; query?: Query; body?: unknown; headers?: Record<string, string>; key?: string } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  const key = init.key ?? getKey();
  if (key) headers['x-functions-key'] = key;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  const res = await fetch(withQuery(`${BASE}${path}`, init.query), { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let data: unknown;
  if (text.length > 0) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (res.status === 401) {
    if (init.key === undefined) setKey(null); // the kept key no longer works: ask again
    throw new ApiError(401, 'the system key was refused', 'unauthorized');
  }
  if (!res.ok) {
    // The server's errors are { error: { code, message } } (src/http/errors.ts).
    const err = (data as { error?: { message?: string; code?: string } } | undefined)?.error;
    throw new ApiError(res.status, err?.message ?? (typeof data === 'string' && data ? data : `HTTP ${res.status}`), err?.code);
  }
  return { data: data as T, status: res.status, headers: res.headers };
}

/** Opens an SSE stream; returns the function that closes it. */
export function stream(path: string, handlers: Record<string, (data: unknown) => void>, onError?: () => void): () => void {
  const key = getKey() ?? '';
  const es = new EventSource(withQuery(`${BASE}${path}`, { code: key }));
  for (const [event, fn] of Object.entries(handlers)) {
    es.addEventListener(event, (e) => {
      try { fn(JSON.parse((e as MessageEvent<string>).data)); } catch { /* a malformed event is skipped */ }
    });
  }
  if (onError) es.addEventListener('error', onError);
  return () => es.close();
}

export const enc = encodeURIComponent;
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
