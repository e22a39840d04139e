/**
 * The page-wide "the server wants the access token" signal (issue 17). Any
 * /api answer of 401 (or 429 "too many wrong attempts") raises it, wherever
 * the fetch was made, so that one place (App) shows the token prompt instead
 * of every view showing its own error. The stream reports its 4401/4429 close
 * through its own state (GpuStreamState.access); App combines the two.
 *
 * Framework-free and tiny: it is in the entry bundle, which it must not grow.
 */
import type { AccessState } from './view';

export interface AccessSignal {
  /** 'ok' until an answer said otherwise; back to 'ok' after a sign-in. */
  readonly state: AccessState;
  /** Retry-After of the last 429, in seconds (null when unknown or not throttled). */
  readonly retryAfterS: number | null;
}

const OK: AccessSignal = Object.freeze({ state: 'ok', retryAfterS: null });

let current: AccessSignal = OK;
const listeners = new Set<() => void>();

function set(next: AccessSignal): void {
  if (next.state === current.state && next.retryAfterS === current.retryAfterS) return;
  current = next;
  for (const listener of listeners) listener();
}

export const accessSignal = {
  get: (): AccessSignal => current,
  subscribe: (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  needSignIn: (): void => set({ state: 'signin', retryAfterS: null }),
  throttled: (retryAfterS: number | null): void => set({ state: 'throttled', retryAfterS }),
  /** After a sign-in (or in tests). */
  clear: (): void => set(OK),
};

/** "Retry-After: 42" -> 42; an HTTP date or nonsense -> null. */
export function retryAfterSeconds(value: string | null): number | null {
  if (value === null || !/^\s*\d{1,6}\s*$/.test(value)) return null;
  return Number(value);
}

/** The server's 429 for a locked-out address (not some other limit a proxy might add). */
export const TOO_MANY_ATTEMPTS = /too many wrong attempts/i;
