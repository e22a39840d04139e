/**
 * GET /api/history (docs/protocol.md): the URL for a range, and a fetch that
 * hands back either the answer, checked against the backend's schema by code
 * generated ahead of time (history.validate.gen.js, `npm run gen:protocol`), or
 * a message a person can read. Never throws.
 */
import type { HistoryResponse } from './history.gen';
import { HistoryResponse as validate, type ValidationError } from './history.validate.gen';

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

export type HistoryFailureKind =
  /** 404 "history is off (HISTORY=off)": the server keeps nothing. */
  | 'off'
  /** Any other answer than 200 (400, 404, 503, a proxy's 502…). */
  | 'http'
  | 'network'
  | 'timeout'
  /** Not JSON, or not the shape of the schema. */
  | 'invalid'
  /** The caller gave up (a newer range was asked for): nothing to show. */
  | 'aborted';

export interface HistoryFailure {
  kind: HistoryFailureKind;
  /** The HTTP status, when there was an answer. */
  status: number | null;
  /** For a person: the API's own `detail` where it gave one. */
  message: string;
}

export type HistoryResult = { ok: true; data: HistoryResponse } | { ok: false; error: HistoryFailure };

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

/** "/series/0/values/utilization/mean/3: must be number,null" (the first problem found). */
function describe(errors: readonly ValidationError[] | null | undefined): string {
  const e = errors?.[0];
  if (e === undefined) return 'does not match the schema';
  const allowed = e.params.allowedValues;
  const list = Array.isArray(allowed) ? ` (${allowed.map((v) => JSON.stringify(v)).join(' | ')})` : '';
  return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${list}`;
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

/** The API's `{"detail": "…"}`, if the body is one. */
async function detail(response: Response): Promise<string | null> {
  try {
    const body: unknown = await response.json();
    if (typeof body === 'object' && body !== null && 'detail' in body) {
      const d = (body as { detail: unknown }).detail;
      if (typeof d === 'string' && d.trim() !== '') return d.trim().slice(0, 500);
    }
  } catch {
    /* not JSON: a proxy's error page */
  }
  return null;
}

export interface FetchHistoryOptions {
  /** Aborting it gives `{kind: 'aborted'}`. */
  signal?: AbortSignal;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/** Fetch and validate one range. Never throws. */
export async function fetchHistory(query: HistoryQuery, options: FetchHistoryOptions = {}): Promise<HistoryResult> {
  const { signal, timeoutMs = HISTORY_TIMEOUT_MS, fetchImpl = fetch } = options;
  const fail = (kind: HistoryFailureKind, message: string, status: number | null = null): HistoryResult => ({
    ok: false,
    error: { kind, status, message },
  });
  if (signal?.aborted) return fail('aborted', 'cancelled');
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const stopped = (): HistoryResult | null =>
    timedOut
      ? fail('timeout', `The server did not answer within ${Math.round(timeoutMs / 1000)} s. Try a shorter range.`)
      : signal?.aborted
        ? fail('aborted', 'cancelled')
        : null;
  try {
    let response: Response;
    try {
      response = await fetchImpl(historyUrl(query), {
        signal: controller.signal,
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
    } catch {
      return stopped() ?? fail('network', 'Could not reach the gpulens server. Check that it is running.');
    }
    if (!response.ok) {
      const text = await detail(response);
      const status = response.status;
      if (status === 404 && text !== null && /^history is off/i.test(text)) return fail('off', text, status);
      const what = text ?? `${status}${response.statusText ? ` ${response.statusText}` : ''}`;
      return fail('http', status >= 500 ? `The server could not answer: ${what}` : what, status);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return stopped() ?? fail('invalid', 'The server answered with something that is not JSON.', response.status);
    }
    if (!validate(body)) {
      return fail('invalid', `The server's answer is not in the expected format (${describe(validate.errors)}).`, 200);
    }
    const problem = consistency(body);
    if (problem !== null) return fail('invalid', `The server's answer is not in the expected format (${problem}).`, 200);
    return { ok: true, data: body };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
