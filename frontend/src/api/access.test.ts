import { afterEach, describe, expect, it, vi } from 'vitest';
import { accessSignal, retryAfterSeconds } from './access';
import { fetchJson, type SchemaValidator } from './fetchJson';
import { endSession, fetchSession, isSessionInfo, showsAccount, type SessionInfo } from './session';

const anything = (() => true) as unknown as SchemaValidator<unknown>;

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  return vi.fn(async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } }));
}

afterEach(() => accessSignal.clear());

describe('fetchJson and the access signal (issue 17)', () => {
  it('a 401 from any /api request asks the page for the token', async () => {
    const listener = vi.fn();
    const stop = accessSignal.subscribe(listener);
    const detail = "access token required: send 'Authorization: Bearer <token>' or sign in on the page";
    const result = await fetchJson('/api/usage', anything, { fetchImpl: answer(401, { detail }) });
    stop();
    expect(result).toEqual({ ok: false, error: { kind: 'http', status: 401, message: detail } });
    expect(accessSignal.get()).toEqual({ state: 'signin', retryAfterS: null });
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("a 429 'too many wrong attempts' says throttled, with Retry-After's seconds", async () => {
    await fetchJson('/api/events', anything, {
      fetchImpl: answer(429, { detail: 'too many wrong attempts: try again in 30 s' }, { 'retry-after': '30' }),
    });
    expect(accessSignal.get()).toEqual({ state: 'throttled', retryAfterS: 30 });
  });

  it('any other refusal (a proxy’s own 429, a 403, a 500) leaves access alone', async () => {
    await fetchJson('/api/usage', anything, { fetchImpl: answer(429, { detail: 'slow down' }) });
    await fetchJson('/api/usage', anything, { fetchImpl: answer(403, { detail: 'origin not allowed' }) });
    await fetchJson('/api/usage', anything, { fetchImpl: answer(500, { detail: 'boom' }) });
    expect(accessSignal.get().state).toBe('ok');
  });

  it('clear() after a sign-in puts it back to ok', async () => {
    await fetchJson('/api/usage', anything, { fetchImpl: answer(401, {}) });
    accessSignal.clear();
    expect(accessSignal.get()).toEqual({ state: 'ok', retryAfterS: null });
  });

  it('Retry-After: seconds only (an HTTP date or nonsense is unknown)', () => {
    expect(retryAfterSeconds('42')).toBe(42);
    expect(retryAfterSeconds(' 7 ')).toBe(7);
    expect(retryAfterSeconds('Wed, 21 Oct 2026 07:28:00 GMT')).toBeNull();
    expect(retryAfterSeconds('-3')).toBeNull();
    expect(retryAfterSeconds(null)).toBeNull();
  });
});

describe('GET and DELETE /api/session', () => {
  const proxy: SessionInfo = { required: true, authenticated: true, method: 'proxy', user: 'alice' };

  it('reads the contract’s answer and refuses anything else', async () => {
    expect(await fetchSession(undefined, answer(200, proxy))).toEqual(proxy);
    expect(await fetchSession(undefined, answer(200, { ...proxy, method: 'basic' }))).toBeNull();
    expect(await fetchSession(undefined, answer(404, { detail: 'not here' }))).toBeNull();
    expect(await fetchSession(undefined, vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))).toBeNull();
    expect(isSessionInfo({ required: false, authenticated: true, method: 'open', user: null })).toBe(true);
    expect(isSessionInfo({ required: true, authenticated: false, method: null, user: null })).toBe(true);
    expect(isSessionInfo({ required: true, authenticated: true, method: 'cookie', user: null })).toBe(false);
    expect(isSessionInfo({ required: true, authenticated: true, method: 'proxy', user: 7 })).toBe(false);
    expect(isSessionInfo(null)).toBe(false);
  });

  it('the footer says something only for a proxy user or a session to sign out of', () => {
    expect(showsAccount(proxy)).toBe(true);
    expect(showsAccount({ ...proxy, method: 'session', user: null })).toBe(true);
    expect(showsAccount({ ...proxy, user: '' })).toBe(false);
    expect(showsAccount({ required: false, authenticated: true, method: 'open', user: null })).toBe(false);
    expect(showsAccount({ required: true, authenticated: true, method: 'token', user: null })).toBe(false);
    expect(showsAccount({ ...proxy, authenticated: false })).toBe(false);
    expect(showsAccount(null)).toBe(false);
  });

  it('sign-out is a DELETE of /api/session; false when the server could not be told', async () => {
    const ok = vi.fn(async () => new Response(null, { status: 204 }));
    expect(await endSession(ok)).toBe(true);
    expect(ok).toHaveBeenCalledWith('/api/session', expect.objectContaining({ method: 'DELETE', credentials: 'same-origin' }));
    expect(await endSession(vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))).toBe(false);
    expect(await endSession(vi.fn(async () => new Response(null, { status: 500 })))).toBe(false);
  });
});
