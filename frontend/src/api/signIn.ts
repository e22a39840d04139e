/**
 * POST /api/session with the access token (issue 17). The token goes in this
 * request's JSON body and nowhere else: never a URL (URLs end up in logs and
 * history), never localStorage or sessionStorage. On success the server sets
 * an HttpOnly session cookie that the browser keeps for the session and sends
 * with the stream and every /api request. Loaded with the token prompt (a
 * lazy chunk): an open server never downloads it. Never throws.
 */
import { retryAfterSeconds, TOO_MANY_ATTEMPTS } from './access';
import { SESSION_URL } from './session';

export type SignInResult =
  | { ok: true }
  /** 401: the token is not the server's. */
  | { ok: false; kind: 'wrong' }
  /** 429: this address made too many wrong attempts; `retryAfterS` when the server said. */
  | { ok: false; kind: 'throttled'; retryAfterS: number | null }
  /** No answer at all (server down, network gone, timed out). */
  | { ok: false; kind: 'network' }
  /** Any other answer (403 from the Origin check, 5xx…): the server's `detail` when it gave one. */
  | { ok: false; kind: 'http'; status: number; message: string };

export const SIGN_IN_TIMEOUT_MS = 15_000;

async function detail(response: Response): Promise<string | null> {
  try {
    const body: unknown = await response.json();
    const d = typeof body === 'object' && body !== null ? (body as { detail?: unknown }).detail : undefined;
    return typeof d === 'string' && d.trim() !== '' ? d.trim().slice(0, 300) : null;
  } catch {
    return null;
  }
}

/** "…try again in 42 s" in the body, when no Retry-After header came through a proxy. */
function secondsIn(text: string | null): number | null {
  const m = text?.match(/in (\d{1,6}) s\b/);
  return m ? Number(m[1]) : null;
}

export async function signIn(token: string, fetchImpl: typeof fetch = fetch): Promise<SignInResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SIGN_IN_TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetchImpl(SESSION_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ token }),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch {
    return { ok: false, kind: 'network' };
  } finally {
    clearTimeout(timer);
  }
  if (response.ok) return { ok: true };
  const text = await detail(response);
  if (response.status === 401) return { ok: false, kind: 'wrong' };
  if (response.status === 429 && (text === null || TOO_MANY_ATTEMPTS.test(text))) {
    return {
      ok: false,
      kind: 'throttled',
      retryAfterS: retryAfterSeconds(response.headers.get('retry-after')) ?? secondsIn(text),
    };
  }
  return { ok: false, kind: 'http', status: response.status, message: text ?? `${response.status} ${response.statusText}`.trim() };
}
