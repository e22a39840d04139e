export interface BackoffOptions {
  /** First retry delay, ms. */
  initialMs: number;
  /** Longest delay, ms. */
  maxMs: number;
  /** ± share of the delay picked at random (0.3 = ±30 %). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, jitter: 0.3 };

/**
 * Delay before retry number `failures` (1 = first retry): doubling from
 * `initialMs` up to `maxMs`, then spread by ±jitter so that many pages do not
 * reconnect in lock-step after a server restart. `random` returns [0, 1).
 */
export function backoffDelay(
  failures: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exp = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, failures - 1));
  const spread = 1 + options.jitter * (2 * random() - 1);
  return Math.round(exp * spread);
}
