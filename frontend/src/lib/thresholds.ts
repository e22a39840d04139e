import type { Gpu } from '../api/types';

export type TempLevel = 'ok' | 'warn' | 'hot' | 'unknown';

export interface TempThresholds {
  /** At or above: warn. */
  warn: number;
  /** At or above: hot. */
  hot: number;
}

export const DEFAULT_THRESHOLDS: TempThresholds = { warn: 70, hot: 85 };

/** The server's thresholds (hello.config.temperatureThresholds), or the defaults. */
export function thresholdsFrom(config: { temperatureThresholds: TempThresholds } | null): TempThresholds {
  const t = config?.temperatureThresholds;
  return {
    warn: t?.warn ?? DEFAULT_THRESHOLDS.warn,
    hot: t?.hot ?? DEFAULT_THRESHOLDS.hot,
  };
}

/**
 * ok < warn ≤ warn-level < hot ≤ hot. When the GPU reports its own slowdown
 * temperature, that is where "hot" starts.
 */
export function tempLevel(
  gpu: Pick<Gpu, 'temperature' | 'temperatureSlowdown'>,
  thresholds: TempThresholds = DEFAULT_THRESHOLDS,
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

/** A GPU counts as busy in the status sentence at this utilization or more. */
export const BUSY_UTILIZATION = 10;
