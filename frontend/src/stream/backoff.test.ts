import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const mid = () => 0.5; // no jitter
  it('doubles from 0.5 s and stops at 15 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelay(n, undefined, mid))).toEqual([
      500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000,
    ]);
  });
  it('spreads each delay by ±30 %', () => {
    expect(backoffDelay(1, undefined, () => 0)).toBe(350);
    expect(backoffDelay(1, undefined, () => 0.999999)).toBe(650);
    expect(backoffDelay(10, undefined, () => 0)).toBe(10500);
  });
});
