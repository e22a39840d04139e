import type { Gpu, TemperatureThresholds } from '../api/types';

export type TempLevel = 'ok' | 'warn' | 'hot' | 'unknown';

/**
 * ok < warn ≤ warn-level < hot ≤ hot, with the server's thresholds
 * (hello.config.temperatureThresholds). When the GPU reports its own slowdown
 * temperature, that is where "hot" starts.
 */
export function tempLevel(
  gpu: Pick<Gpu, 'temperature' | 'temperatureSlowdown'>,
  thresholds: TemperatureThresholds,
): TempLevel {
  const t = gpu.temperature;
  if (t === null) return 'unknown';
  const hot = gpu.temperatureSlowdown ?? thresholds.hot;
  const warn = Math.min(thresholds.warn, hot);
  if (t >= hot) return 'hot';
  if (t >= warn) return 'warn';
  return 'ok';
}

export const TEMP_LABEL: Record<TempLevel, string> = {
  ok: 'OK',
  warn: 'WARM',
  hot: 'HOT',
  unknown: 'N/A',
};

/**
 * A working GPU counts as busy (status sentence, hero count, card glow) from
 * the server's hello.config.busyUtilization % on; an unknown utilization is
 * not busy.
 */
export function isBusy(gpu: Pick<Gpu, 'status' | 'utilization'>, busyUtilization: number): boolean {
  return gpu.status === 'ok' && gpu.utilization !== null && gpu.utilization >= busyUtilization;
}
