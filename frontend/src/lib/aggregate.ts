import type { Gpu } from '../api/types';
import { isBusy } from './thresholds';

/** A used / capacity pair summed over GPUs, honest about the ones that do not report. */
export interface Pair {
  /** Sum over the GPUs that report a use; null when none does. */
  used: number | null;
  /** Sum of capacities, only when every GPU counted in `used` reports one. */
  total: number | null;
  /** GPUs (not failed) that report no use. */
  missing: number;
}

export interface Aggregate {
  count: number;
  failed: number;
  busy: number;
  /** Mean utilization over GPUs that report it, %. */
  utilization: number | null;
  memory: Pair;
  power: Pair;
  hottest: number | null;
}

function pair(gpus: readonly Gpu[], usage: (g: Gpu) => number | null, cap: (g: Gpu) => number | null): Pair {
  let used: number | null = null;
  let total: number | null = 0;
  let missing = 0;
  for (const g of gpus) {
    const u = usage(g);
    if (u === null) {
      missing += 1;
      continue;
    }
    used = (used ?? 0) + u;
    const c = cap(g);
    total = total === null || c === null ? null : total + c;
  }
  return { used, total: used === null ? null : total, missing };
}

/** Sums over the GPUs; `busyUtilization` is hello.config.busyUtilization. */
export function aggregate(gpus: readonly Gpu[], busyUtilization: number): Aggregate {
  const ok = gpus.filter((g) => g.status === 'ok');
  const utils = ok.map((g) => g.utilization).filter((u): u is number => u !== null);
  const temps = ok.map((g) => g.temperature).filter((t): t is number => t !== null);
  return {
    count: gpus.length,
    failed: gpus.length - ok.length,
    busy: ok.filter((g) => isBusy(g, busyUtilization)).length,
    utilization: utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null,
    memory: pair(ok, (g) => g.memoryUsed, (g) => g.memoryTotal),
    power: pair(ok, (g) => g.powerUsage, (g) => g.powerLimit),
    hottest: temps.length ? Math.max(...temps) : null,
  };
}

const NBSP = '\u00a0';

/** "2 GPUs · 1 busy · hottest 63 °C" (a number never wraps away from its unit). */
export function statusSentence(a: Aggregate): string {
  return statusParts(a).join(' · ');
}

/** The sentence's parts; the last one is the hottest temperature when known. */
export function statusParts(a: Aggregate): string[] {
  const parts = [`${a.count}${NBSP}GPU${a.count === 1 ? '' : 's'}`];
  if (a.count > 0) {
    parts.push(a.busy === 0 ? 'all idle' : a.busy === a.count ? 'all busy' : `${a.busy}${NBSP}busy`);
  }
  if (a.failed > 0) parts.push(`${a.failed}${NBSP}failed`);
  if (a.hottest !== null) parts.push(`hottest${NBSP}${a.hottest}${NBSP}°C`);
  return parts;
}
