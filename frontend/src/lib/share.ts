import type { Gpu } from '../api/types';

/** `used` as a percentage of `total`; null when either is not reported or the total is not positive. */
export function percentOf(used: number | null, total: number | null): number | null {
  return used === null || total === null || total <= 0 ? null : (used / total) * 100;
}

/** A GPU's memory in use, % of its total: its card's memory meter and its memory sparkline. */
export function memoryShare(gpu: Pick<Gpu, 'memoryUsed' | 'memoryTotal'>): number | null {
  return percentOf(gpu.memoryUsed, gpu.memoryTotal);
}
