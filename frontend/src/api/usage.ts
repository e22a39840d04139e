/**
 * GET /api/usage: GPU-hours and GiB-hours over a range, grouped by user,
 * process, container, GPU or session. The URL for a range (and its CSV), and a
 * fetch that hands back the answer checked against the backend's schema
 * (usage.validate.gen.js) or a message a person can read. Never throws.
 */
import { fetchJson, type FetchFailure, type FetchJsonOptions, type FetchResult } from './fetchJson';
import type { UsageResponse } from './usage.gen';
import { UsageResponse as validate } from './usage.validate.gen';

export type { UsageResponse, UsageRow } from './usage.gen';
export type UsageBy = UsageResponse['by'];
export type UsageFailure = FetchFailure;
export type UsageResult = FetchResult<UsageResponse>;

export const USAGE_BY: readonly UsageBy[] = ['user', 'process', 'container', 'gpu', 'session'];

export interface UsageQuery {
  /** Unix seconds. */
  from: number;
  to: number;
  by: UsageBy;
}

const seconds = (t: number) => String(Math.round(t * 1000) / 1000);

/** `/api/usage?by=user&from=…&to=…` (and `&format=csv` for the download). */
export function usageUrl(query: UsageQuery, format: 'json' | 'csv' = 'json'): string {
  const params = new URLSearchParams();
  params.set('by', query.by);
  params.set('from', seconds(query.from));
  params.set('to', seconds(query.to));
  if (format === 'csv') params.set('format', 'csv');
  return `/api/usage?${params.toString()}`;
}

/** What the schema cannot say: the range runs forwards, and the rows are of the grouping asked for. */
function consistency(data: UsageResponse, by: UsageBy): string | null {
  if (!(data.to > data.from)) return `/to: ${data.to} is not after from (${data.from})`;
  if (data.by !== by) return `/by: ${JSON.stringify(data.by)}, asked for ${JSON.stringify(by)}`;
  return null;
}

/** Fetch and validate one range's usage. Never throws. */
export function fetchUsage(query: UsageQuery, options: FetchJsonOptions = {}): Promise<UsageResult> {
  return fetchJson(usageUrl(query), validate, { ...options, check: (data) => consistency(data, query.by) });
}
