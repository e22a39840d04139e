/**
 * Who is signed in (GET /api/session) and signing out (DELETE /api/session),
 * issue 17. Both are public routes: asking never counts as a failed attempt.
 * The page asks only after the stream is live, so an open server pays nothing
 * before its first paint. Signing in (POST) is in signIn.ts, a lazy chunk.
 * Plain fetch, not fetchJson: that helper (and its messages) stays in the lazy
 * views' chunks instead of growing the entry bundle for four fields.
 */

export type SessionMethod = 'open' | 'token' | 'session' | 'proxy';

/** GET /api/session, as the contract of issue 17 words it. */
export interface SessionInfo {
  required: boolean;
  authenticated: boolean;
  method: SessionMethod | null;
  user: string | null;
}

export const SESSION_URL = '/api/session';

const METHODS: readonly unknown[] = ['open', 'token', 'session', 'proxy', null];

/** Hand-written (four fields): a generated validator would be bigger than this. */
export function isSessionInfo(data: unknown): data is SessionInfo {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    typeof d.required === 'boolean' &&
    typeof d.authenticated === 'boolean' &&
    METHODS.includes(d.method) &&
    (d.user === null || typeof d.user === 'string')
  );
}

/** GET /api/session; null when it failed (the footer then shows nothing). Never throws. */
export async function fetchSession(signal?: AbortSignal, fetchImpl: typeof fetch = fetch): Promise<SessionInfo | null> {
  try {
    const response = await fetchImpl(SESSION_URL, { signal, headers: { accept: 'application/json' }, credentials: 'same-origin' });
    const body: unknown = response.ok ? await response.json() : null;
    return isSessionInfo(body) ? body : null;
  } catch {
    return null;
  }
}

/**
 * DELETE /api/session: the server clears the HttpOnly cookie (the page cannot).
 * True when the server confirmed it; never throws.
 */
export async function endSession(fetchImpl: typeof fetch = fetch): Promise<boolean> {
  try {
    const response = await fetchImpl(SESSION_URL, { method: 'DELETE', credentials: 'same-origin', cache: 'no-store' });
    return response.ok;
  } catch {
    return false;
  }
}

/** Whether the footer has something to say: a proxy's user name, or a session to sign out of. */
export function showsAccount(session: SessionInfo | null): session is SessionInfo {
  if (session === null || !session.authenticated) return false;
  return session.method === 'session' || (session.method === 'proxy' && !!session.user);
}
