import type { HistoryPoint } from '../api/view';

export type SeriesKey = 'util' | 'mem';

/** The text a screen reader gets for a sparkline. */
export function summarise(data: readonly HistoryPoint[], key: SeriesKey, title: string): string {
  const values = data.map((p) => p[key]).filter((v): v is number => v !== null);
  if (values.length === 0) return `${title}: not reported`;
  const last = values[values.length - 1]!;
  const seconds = data.length > 1 ? Math.round((data[data.length - 1]!.t - data[0]!.t) / 1000) : 0;
  return (
    `${title} over the last ${seconds} s: now ${Math.round(last)} %, ` +
    `min ${Math.round(Math.min(...values))} %, max ${Math.round(Math.max(...values))} %`
  );
}
