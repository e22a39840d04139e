import type { Gpu } from '../api/types';
import { BUSY_UTILIZATION } from './thresholds';

export interface Aggregate {
  count: number;
  failed: number;
  busy: number;
  /** Mean utilization over GPUs that report it, %. */
  utilization: number | null;
  memoryUsed: number | null;
  memoryTotal: number | null;
  powerUsage: number | null;
  powerLimit: number | null;
  hottest: number | null;
  /** Some GPUs did not report memory or power: the sums are partial. */
  partialMemory: boolean;
  partialPower: boolean;
}

function sum(values: (number | null)[]): { total: number | null; partial: boolean } {
  let total: number | null = null;
  let missing = 0;
  for (const v of values) {
    if (v === null) missing += 1;
    else total = (total ?? 0) + v;
  }
  return { total, partial: total !== null && missing > 0 };
}

export function aggregate(gpus: readonly Gpu[]): Aggregate {
  const ok = gpus.filter((g) => g.status === 'ok');
  const utils = ok.map((g) => g.utilization).filter((u): u is number => u !== null);
  const temps = ok.map((g) => g.temperature).filter((t): t is number => t !== null);
  const memUsed = sum(ok.map((g) => g.memoryUsed));
  const memTotal = sum(ok.map((g) => g.memoryTotal));
  const power = sum(ok.map((g) => g.powerUsage));
  const limit = sum(ok.map((g) => g.powerLimit));
  return {
    count: gpus.length,
    failed: gpus.length - ok.length,
    busy: utils.filter((u) => u >= BUSY_UTILIZATION).length,
    utilization: utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null,
    memoryUsed: memUsed.total,
    memoryTotal: memTotal.total,
    powerUsage: power.total,
    powerLimit: limit.total,
    hottest: temps.length ? Math.max(...temps) : null,
    partialMemory: memUsed.partial || memTotal.partial,
    partialPower: power.partial || limit.partial,
  };
}

/** "2 GPUs · 1 busy · hottest 63 °C" */
export function statusSentence(a: Aggregate): string {
  const parts = [`${a.count} GPU${a.count === 1 ? '' : 's'}`];
  if (a.count > 0) parts.push(a.busy === 0 ? 'all idle' : a.busy === a.count ? 'all busy' : `${a.busy} busy`);
  if (a.failed > 0) parts.push(`${a.failed} failed`);
  if (a.hottest !== null) parts.push(`hottest ${a.hottest} °C`);
  return parts.join(' · ');
}
