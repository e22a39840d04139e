/**
 * GET /api/fleet/history: the fleet's GPUs over a range, from Prometheus range
 * queries made by the gpulens server (the browser never talks to Prometheus).
 * The URL for a range, and a fetch that hands back the answer checked against
 * the backend's schema (fleet.validate.gen.js) or a message a person can read
 * (fetchJson.ts). Never throws.
 */
import { fetchJson, type FetchFailure, type FetchJsonOptions, type FetchResult } from './fetchJson';
import type { FleetHistoryResponse } from './fleet.gen';
import { FleetHistoryResponse as validate } from './fleet.validate.gen';

export type { FleetHistoryResponse, FleetHistorySeries } from './fleet.gen';
export type FleetHistoryFailure = FetchFailure;
export type FleetHistoryResult = FetchResult<FleetHistoryResponse>;

export interface FleetHistoryQuery {
  /** Unix seconds. */
  from: number;
  to: number;
  /** Seconds between points. */
  step: number;
}

/** About this many points per chart: enough for a small chart, cheap for Prometheus. */
export const FLEET_HISTORY_POINTS = 240;

/** A step for a span: a round number of seconds, at least 15 (a common scrape interval). */
export function fleetStep(spanS: number): number {
  const raw = Math.max(15, spanS / FLEET_HISTORY_POINTS);
  for (const s of [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200, 86_400]) if (raw <= s) return s;
  return Math.ceil(raw / 86_400) * 86_400;
}

const seconds = (t: number) => String(Math.round(t * 1000) / 1000);

export function fleetHistoryUrl(query: FleetHistoryQuery): string {
  const params = new URLSearchParams();
  params.set('from', seconds(query.from));
  params.set('to', seconds(query.to));
  params.set('step', String(query.step));
  return `/api/fleet/history?${params.toString()}`;
}

/** What the schema cannot say: the range runs forwards, and each series has one value per time. */
function consistency(data: FleetHistoryResponse): string | null {
  if (!(data.to > data.from)) return `/to: ${data.to} is not after from (${data.from})`;
  for (const [i, s] of data.series.entries()) {
    const n = s.times.length;
    for (const key of ['utilization', 'memoryUsed', 'temperature', 'powerUsage'] as const) {
      if (s[key].length !== n) return `/series/${i}/${key}: ${s[key].length} values for ${n} times`;
    }
  }
  return null;
}

/** Fetch and validate the fleet's history over a range. Never throws. */
export function fetchFleetHistory(query: FleetHistoryQuery, options: FetchJsonOptions = {}): Promise<FleetHistoryResult> {
  return fetchJson(fleetHistoryUrl(query), validate, {
    ...options,
    check: consistency,
    slowHint: 'Prometheus may be slow: try a shorter range.',
  });
}
