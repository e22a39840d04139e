/**
 * GET /api/usage's rows → what the usage view shows: the table sorted by any
 * column, the chart's top rows with the rest summed, the hero's numbers.
 */
import type { UsageResponse, UsageRow } from '../api/usage.gen';

export type UsageBy = UsageResponse['by'];

export type UsageColumn =
  | 'label'
  | 'user'
  | 'gpuHours'
  | 'gibHours'
  | 'heldHours'
  | 'sessions'
  | 'peakMemoryMib'
  | 'meanMemoryMib'
  | 'meanSm'
  | 'firstSeen'
  | 'lastSeen';

export type SortDirection = 'ascending' | 'descending';

export interface UsageSort {
  readonly column: UsageColumn;
  readonly direction: SortDirection;
}

export const DEFAULT_SORT: UsageSort = { column: 'gpuHours', direction: 'descending' };

/** A new column starts with its most telling end: the most used, the latest, A to Z for names. */
export function firstDirection(column: UsageColumn): SortDirection {
  return column === 'label' || column === 'user' ? 'ascending' : 'descending';
}

/** Clicking a column: the other direction if it is the one sorted by, else its first direction. */
export function nextSort(sort: UsageSort, column: UsageColumn): UsageSort {
  if (sort.column === column) return { column, direction: sort.direction === 'ascending' ? 'descending' : 'ascending' };
  return { column, direction: firstDirection(column) };
}

export const BY_NOUN: Record<UsageBy, { one: string; many: string }> = {
  user: { one: 'user', many: 'users' },
  process: { one: 'process', many: 'processes' },
  container: { one: 'container', many: 'containers' },
  gpu: { one: 'GPU', many: 'GPUs' },
  session: { one: 'session', many: 'sessions' },
};

/** What a person reads for a row: its label, else its key, else "unknown …". */
export function rowName(row: Pick<UsageRow, 'label' | 'key'>, by: UsageBy): string {
  const label = row.label.trim() || row.key.trim();
  if (label !== '') return label;
  return by === 'container' ? 'no container' : `unknown ${BY_NOUN[by].one}`;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function cell(row: UsageRow, column: UsageColumn, by: UsageBy): string | number | null {
  switch (column) {
    case 'label':
      return rowName(row, by);
    case 'user':
      return row.user ?? null;
    default:
      return row[column];
  }
}

/**
 * The rows sorted by a column. Missing values (no SM reading, no user) go last
 * in either direction; ties keep the server's order (most used first).
 */
export function sortRows(rows: readonly UsageRow[], sort: UsageSort, by: UsageBy): UsageRow[] {
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const keyed = rows.map((row, i) => ({ row, i, v: cell(row, sort.column, by) }));
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === b.v ? a.i - b.i : a.v === null ? 1 : -1;
    const d = typeof a.v === 'string' || typeof b.v === 'string' ? collator.compare(String(a.v), String(b.v)) : a.v - b.v;
    return d === 0 ? a.i - b.i : sign * d;
  });
  return keyed.map((k) => k.row);
}

export interface ChartRow {
  readonly key: string;
  readonly name: string;
  readonly gpuHours: number;
  readonly gibHours: number;
  /** The "others" bar: the rows past the top, summed. */
  readonly others: number;
}

export const CHART_TOP = 15;

/** The chart's bars: the `top` most used rows (GPU-hours, then GiB-hours) and one "others" bar for the rest. */
export function chartRows(rows: readonly UsageRow[], by: UsageBy, top = CHART_TOP): ChartRow[] {
  const ranked = [...rows].sort((a, b) => b.gpuHours - a.gpuHours || b.gibHours - a.gibHours);
  const head = ranked.slice(0, top).map((r, i) => ({
    key: `${i}:${r.key}`,
    name: rowName(r, by),
    gpuHours: r.gpuHours,
    gibHours: r.gibHours,
    others: 0,
  }));
  const rest = ranked.slice(top);
  if (rest.length > 0) {
    head.push({
      key: '__others',
      name: `${rest.length} other${rest.length === 1 ? '' : 's'}`,
      gpuHours: rest.reduce((s, r) => s + r.gpuHours, 0),
      gibHours: rest.reduce((s, r) => s + r.gibHours, 0),
      others: rest.length,
    });
  }
  return head;
}

export interface UsageTotals {
  readonly gpuHours: number;
  readonly gibHours: number;
  readonly sessions: number;
}

/** The answer's `total`, or the rows summed when it has none. */
export function usageTotals(data: Pick<UsageResponse, 'rows' | 'total'>): UsageTotals {
  if (data.total !== null) {
    return { gpuHours: data.total.gpuHours, gibHours: data.total.gibHours, sessions: data.total.sessions };
  }
  return data.rows.reduce(
    (t, r) => ({ gpuHours: t.gpuHours + r.gpuHours, gibHours: t.gibHours + r.gibHours, sessions: t.sessions + r.sessions }),
    { gpuHours: 0, gibHours: 0, sessions: 0 },
  );
}

/**
 * Who used the most GPU-hours: by user, the top row; by session, the sessions
 * summed per user. Other groupings do not say who: null (the view shows the
 * top row of its own grouping instead).
 */
export function busiestUser(rows: readonly UsageRow[], by: UsageBy): { name: string; gpuHours: number } | null {
  if (by === 'user') {
    const top = [...rows].sort((a, b) => b.gpuHours - a.gpuHours)[0];
    return top === undefined ? null : { name: rowName(top, 'user'), gpuHours: top.gpuHours };
  }
  if (by !== 'session') return null;
  const per = new Map<string, number>();
  for (const r of rows) {
    const user = r.user?.trim() || 'unknown user';
    per.set(user, (per.get(user) ?? 0) + r.gpuHours);
  }
  let best: { name: string; gpuHours: number } | null = null;
  for (const [name, gpuHours] of per) if (best === null || gpuHours > best.gpuHours) best = { name, gpuHours };
  return best;
}

/** "0.42", "12.3", "1,234" hours. */
export function formatHours(hours: number): string {
  if (hours === 0) return '0';
  if (hours < 0.01) return '< 0.01';
  if (hours < 10) return hours.toFixed(2);
  if (hours < 1000) return hours.toFixed(1);
  return Math.round(hours).toLocaleString('en-US');
}

/** MiB → "39.5 GiB", "512 MiB". */
export function formatMib(mib: number | null): string {
  if (mib === null) return '—';
  if (mib < 1024) return `${Math.round(mib)} MiB`;
  const gib = mib / 1024;
  return `${gib >= 100 ? gib.toFixed(0) : gib.toFixed(1)} GiB`;
}

/** "43 %", or "—" where the source gives no SM reading. */
export function formatPercent(value: number | null): string {
  return value === null ? '—' : `${Math.round(value)} %`;
}

const formatters = new Map<boolean, Intl.DateTimeFormat>();

/** "Dec 1, 21:05" (the year only when not this year's), with the formatter made once: 500 rows × 2 dates stay cheap. */
export function formatSeen(unixS: number, nowMs = Date.now()): string {
  const date = new Date(unixS * 1000);
  const withYear = date.getFullYear() !== new Date(nowMs).getFullYear();
  let f = formatters.get(withYear);
  if (f === undefined) {
    f = new Intl.DateTimeFormat(undefined, {
      month: 'short',
      day: 'numeric',
      ...(withYear ? { year: 'numeric' } : {}),
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(withYear, f);
  }
  return f.format(date);
}

/** The axis' ticks from 0: about `count` round steps (1, 2, 2.5 or 5 × 10ⁿ) up to at least `max`. */
export function axisTicks(max: number, count = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}
