/**
 * GET /api/history (docs/protocol.md): the URL for a range, and a fetch that
 * hands back either the answer, checked against the backend's schema by code
 * generated ahead of time (history.validate.gen.js, `npm run gen:protocol`), or
 * a message a person can read (the shared rules of fetchJson.ts). Never throws.
 */
import type { HistoryResponse } from './history.gen';
import { HistoryResponse as validate } from './history.validate.gen';
import {
  fetchJson,
  type FetchFailure,
  type FetchFailureKind,
  type FetchJsonOptions,
  type FetchResult,
} from './fetchJson';

export type { HistoryResponse, HistorySeries, HistoryState, Stats } from './history.gen';

/** What the past view draws, and nothing more (the server decodes only these). */
export const HISTORY_METRICS = [
  'utilization',
  'memoryUsed',
  'memoryTotal',
  'temperature',
  'powerUsage',
  'powerLimit',
] as const;

export interface HistoryQuery {
  /** Unix seconds. */
  from: number;
  to: number;
  /** Default: HISTORY_METRICS. */
  metrics?: readonly string[];
  /** `gpus` (every GPU, not the host), `all`, `host` or GPU keys; default `gpus`. */
  gpu?: string;
}

/** 'off': 404 "history is off (HISTORY=off)"; see fetchJson.ts for the others. */
export type HistoryFailureKind = FetchFailureKind;
export type HistoryFailure = FetchFailure;

export type HistoryResult = FetchResult<HistoryResponse>;

export const HISTORY_TIMEOUT_MS = 20_000;

const seconds = (t: number) => String(Math.round(t * 1000) / 1000);

/** `/api/history?gpu=gpus&from=…&to=…&metrics=…` (and `&format=csv` for the download). */
export function historyUrl(query: HistoryQuery, format: 'json' | 'csv' = 'json'): string {
  const params = new URLSearchParams();
  params.set('gpu', query.gpu ?? 'gpus');
  params.set('from', seconds(query.from));
  params.set('to', seconds(query.to));
  params.set('metrics', (query.metrics ?? HISTORY_METRICS).join(','));
  if (format === 'csv') params.set('format', 'csv');
  return `/api/history?${params.toString()}`;
}

/** What the schema cannot say: every list has one value per time, and the range runs forwards. */
function consistency(data: HistoryResponse): string | null {
  if (!(data.to > data.from)) return `/to: ${data.to} is not after from (${data.from})`;
  const n = data.times.length;
  for (let i = 1; i < n; i++) {
    if (!(data.times[i]! > data.times[i - 1]!)) return `/times/${i}: not after the time before it`;
  }
  for (const [s, series] of data.series.entries()) {
    for (const [metric, stats] of Object.entries(series.values)) {
      for (const part of ['min', 'mean', 'max'] as const) {
        if (stats[part].length !== n) {
          return `/series/${s}/values/${metric}/${part}: ${stats[part].length} values for ${n} times`;
        }
      }
    }
  }
  return null;
}

export type FetchHistoryOptions = FetchJsonOptions;

/** Fetch and validate one range (through the shared fetchJson). Never throws. */
export function fetchHistory(query: HistoryQuery, options: FetchHistoryOptions = {}): Promise<HistoryResult> {
  return fetchJson(historyUrl(query), validate, { timeoutMs: HISTORY_TIMEOUT_MS, ...options, check: consistency });
}
