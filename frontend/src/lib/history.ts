/**
 * GET /api/history's answer → what the past view draws: per GPU, one chart per
 * metric, each point a mean and a min–max band, a missing bucket kept missing
 * (null: the chart breaks there, never a line across the hole).
 */
import type { HistoryResponse, HistorySeries, Stats } from '../api/history.gen';
import type { TemperatureThresholds } from '../api/types';

export type ChartMetric = 'utilization' | 'memory' | 'temperature' | 'power';
export const CHART_METRICS: readonly ChartMetric[] = ['utilization', 'memory', 'temperature', 'power'];

export interface ChartPoint {
  /** The bucket's start, ms since the epoch. */
  readonly t: number;
  /** null: no sample in the bucket (a gap). */
  readonly mean: number | null;
  /** [min, max]; null in a gap. */
  readonly band: readonly [number, number] | null;
}

export interface Gap {
  /** Unix seconds: the first missing bucket's start, and the end of the last one. */
  readonly from: number;
  readonly to: number;
}

export interface ChartData {
  readonly metric: ChartMetric;
  readonly unit: '%' | 'GiB' | '°C' | 'W';
  readonly points: readonly ChartPoint[];
  /** The y axis: 0 to yMax, with these ticks. */
  readonly yMax: number;
  readonly ticks: readonly number[];
  /** Memory total or power limit (the most the range saw); null when not reported. */
  readonly ceiling: number | null;
  /** Over the range: the mean of the buckets' means, the lowest min, the highest max. */
  readonly mean: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** Runs of missing buckets with data on both sides. */
  readonly gaps: readonly Gap[];
  /** Buckets with data. */
  readonly reported: number;
}

export const METRIC_TITLE: Record<ChartMetric, string> = {
  utilization: 'Utilization',
  memory: 'Memory used',
  temperature: 'Temperature',
  power: 'Power',
};

/** 0 → the smallest "nice" top (1, 2, 2.5, 5 × 10^k steps) over `need`, in about four steps. */
export function niceAxis(need: number, steps = 4): { max: number; ticks: number[] } {
  if (!(need > 0) || !Number.isFinite(need)) return { max: 1, ticks: [0, 1] };
  const raw = need / steps;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw - 1e-9)!;
  const max = Math.ceil(need / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(Math.round(v * 1000) / 1000);
  return { max, ticks };
}

const scaled = (values: readonly (number | null)[], factor: number) =>
  factor === 1 ? values : values.map((v) => (v === null ? null : v / factor));

function extreme(values: readonly (number | null)[] | undefined, pick: 'min' | 'max'): number | null {
  let out: number | null = null;
  for (const v of values ?? []) {
    if (v === null) continue;
    if (out === null || (pick === 'max' ? v > out : v < out)) out = v;
  }
  return out;
}

/** Runs of null with data on both sides, as [start of the first missing bucket, end of the last). */
export function findGaps(times: readonly number[], mean: readonly (number | null)[], step: number): Gap[] {
  const gaps: Gap[] = [];
  let seen = false;
  let start: number | null = null;
  for (let i = 0; i < mean.length; i++) {
    if (mean[i] === null) {
      if (seen && start === null) start = i;
    } else {
      if (start !== null) gaps.push({ from: times[start]!, to: times[i - 1]! + step });
      start = null;
      seen = true;
    }
  }
  return gaps;
}

/**
 * One chart's points. A bucket is a gap when its mean is null; then its band
 * is null too (a min or max alone is not drawn).
 */
export function chartPoints(times: readonly number[], stats: Stats | undefined, factor = 1): ChartPoint[] {
  const mean = stats ? scaled(stats.mean, factor) : [];
  const min = stats ? scaled(stats.min, factor) : [];
  const max = stats ? scaled(stats.max, factor) : [];
  return times.map((t, i) => {
    const m = mean[i] ?? null;
    const lo = min[i] ?? null;
    const hi = max[i] ?? null;
    return {
      t: t * 1000,
      mean: m,
      band: m === null ? null : ([lo ?? m, hi ?? m] as const),
    };
  });
}

export interface ChartOptions {
  thresholds?: TemperatureThresholds | null;
}

/** The four charts of one GPU. */
export function gpuCharts(
  response: { readonly times: readonly number[]; readonly step: number },
  series: Pick<HistorySeries, 'values'>,
  options: ChartOptions = {},
): Record<ChartMetric, ChartData> {
  const { times, step } = response;
  const v = series.values;
  const build = (
    metric: ChartMetric,
    stats: Stats | undefined,
    unit: ChartData['unit'],
    factor: number,
    axis: (max: number | null, ceiling: number | null) => { max: number; ticks: number[] },
    ceilingStats?: Stats,
  ): ChartData => {
    const points = chartPoints(times, stats, factor);
    const means = points.map((p) => p.mean).filter((m): m is number => m !== null);
    const max = extreme(stats ? scaled(stats.max, factor) : undefined, 'max');
    const min = extreme(stats ? scaled(stats.min, factor) : undefined, 'min');
    const ceiling = ceilingStats ? extreme(scaled(ceilingStats.max, factor), 'max') : null;
    const { max: yMax, ticks } = axis(max, ceiling);
    return {
      metric,
      unit,
      points,
      yMax,
      ticks,
      ceiling,
      mean: means.length === 0 ? null : means.reduce((a, b) => a + b, 0) / means.length,
      min,
      max,
      gaps: findGaps(times, stats?.mean ?? [], step),
      reported: means.length,
    };
  };
  const hot = options.thresholds?.hot ?? 85;
  return {
    utilization: build('utilization', v.utilization, '%', 1, () => ({ max: 100, ticks: [0, 25, 50, 75, 100] })),
    memory: build('memory', v.memoryUsed, 'GiB', 1024, (max, total) => niceAxis(Math.max(total ?? 0, max ?? 0, 1)), v.memoryTotal),
    temperature: build('temperature', v.temperature, '°C', 1, (max) =>
      (max ?? 0) < 95 && hot < 95 ? { max: 100, ticks: [0, 25, 50, 75, 100] } : niceAxis(Math.max(max ?? 0, hot) + 5),
    ),
    power: build('power', v.powerUsage, 'W', 1, (max, limit) => niceAxis(Math.max(limit ?? 0, max ?? 0, 1)), v.powerLimit),
  };
}

/** "43 %", "41.2 GiB", "63 °C", "350 W" */
export function formatValue(value: number, unit: ChartData['unit']): string {
  switch (unit) {
    case 'GiB':
      return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} GiB`;
    default:
      return `${Math.round(value)} ${unit}`;
  }
}

/** The chart's accessible summary: "GPU 0 utilization, the last 24 hours: mean 43 %, max 100 %". */
export function summariseChart(data: ChartData, gpuLabel: string, rangeText: string): string {
  const what = `${gpuLabel} ${METRIC_TITLE[data.metric].toLowerCase()}, ${rangeText}`;
  if (data.mean === null || data.max === null) return `${what}: no data`;
  let text = `${what}: mean ${formatValue(data.mean, data.unit)}, max ${formatValue(data.max, data.unit)}`;
  if (data.ceiling !== null && data.metric === 'memory') text += ` of ${formatValue(data.ceiling, data.unit)}`;
  if (data.ceiling !== null && data.metric === 'power') text += ` of ${formatValue(data.ceiling, data.unit)} limit`;
  if (data.gaps.length > 0) {
    const missing = data.gaps.reduce((sum, g) => sum + (g.to - g.from), 0);
    text += `; ${data.gaps.length === 1 ? 'one gap' : `${data.gaps.length} gaps`} without data (${missingText(missing)})`;
  }
  return text;
}

function missingText(seconds: number): string {
  const m = Math.round(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 6) / 10;
  return `${h} h`;
}

export interface CardEntry {
  readonly key: string;
  /** The history of this GPU; null for a GPU present now that the store does not know yet. */
  readonly series: HistorySeries | null;
  readonly index: number | null;
  readonly name: string | null;
  /** In the live view now: true / false; null while the live stream has not said. */
  readonly present: boolean | null;
}

export interface LiveGpuRef {
  readonly key: string;
  readonly id: number;
  readonly name: string;
}

/**
 * The past view's cards: the GPUs present now first, in the live grid's order
 * (keyed by UUID), then the ones the history knows that were there during the
 * range but are gone now (by index). The host series is not drawn.
 */
export function orderCards(
  response: Pick<HistoryResponse, 'series' | 'from' | 'to'>,
  live: readonly LiveGpuRef[] | null,
): CardEntry[] {
  const gpus = response.series.filter((s) => s.kind === 'gpu');
  const byKey = new Map(gpus.map((s) => [s.key, s]));
  const liveKeys = new Set(live?.map((g) => g.key) ?? []);
  const out: CardEntry[] = (live ?? []).map((g) => {
    const series = byKey.get(g.key) ?? null;
    return { key: g.key, series, index: g.id, name: g.name, present: true };
  });
  const overlaps = (s: HistorySeries) => s.lastSeen >= response.from && s.firstSeen <= response.to;
  const rest = gpus
    .filter((s) => !liveKeys.has(s.key) && overlaps(s))
    .sort((a, b) => (a.index ?? 1e9) - (b.index ?? 1e9) || a.key.localeCompare(b.key));
  for (const s of rest) out.push({ key: s.key, series: s, index: s.index, name: s.name, present: live === null ? null : false });
  return out;
}

/** True when no GPU has a single bucket with data over the range. */
export function isEmpty(response: Pick<HistoryResponse, 'series'>): boolean {
  return !response.series.some(
    (s) => s.kind === 'gpu' && Object.values(s.values).some((stats) => stats.mean.some((m) => m !== null)),
  );
}

// ---- the time axis ---------------------------------------------------------

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;
const INTERVALS = [MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

/**
 * Ticks for a time axis of `width` px over [fromMs, toMs]: on local-time
 * boundaries (whole hours, midnights), about one per 56 px.
 */
export function timeTicks(fromMs: number, toMs: number, width: number): { ticks: number[]; interval: number } {
  const span = (toMs - fromMs) / 1000;
  const count = Math.max(2, Math.floor(width / 56));
  // `< count + 1`: a range a little over 24 h (its start is aligned to the step) still gets 6-hour ticks.
  const interval = INTERVALS.find((i) => span / i < count + 1) ?? 14 * DAY;
  const start = new Date(fromMs);
  start.setHours(0, 0, 0, 0);
  const ticks: number[] = [];
  if (interval >= DAY) {
    const days = interval / DAY;
    const d = new Date(start);
    while (d.getTime() <= toMs && ticks.length < 200) {
      if (d.getTime() >= fromMs) ticks.push(d.getTime());
      d.setDate(d.getDate() + days);
    }
  } else {
    // Walk from local midnight by the interval; a DST change shifts the day's later ticks by an hour at most.
    for (let t = start.getTime(); t <= toMs && ticks.length < 500; t += interval * 1000) {
      if (t >= fromMs) ticks.push(t);
    }
  }
  return { ticks, interval };
}

const fmt = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat(undefined, options);
// 24-hour times on the axes: "21:00" is shorter than "09:00 PM", and short labels stay readable.
const HM = fmt({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const WEEKDAY = fmt({ weekday: 'short' });
const MONTH_DAY = fmt({ month: 'short', day: 'numeric' });

/** A tick's label: "14:00"; a midnight as its date ("Dec 2"); days as "Wed 2" (up to ten days) or "Nov 3". */
export function tickLabel(ms: number, interval: number, spanS: number): string {
  const d = new Date(ms);
  if (interval >= DAY) return spanS > 10 * DAY ? MONTH_DAY.format(d) : `${WEEKDAY.format(d)} ${d.getDate()}`;
  if (d.getHours() === 0 && d.getMinutes() === 0) return MONTH_DAY.format(d);
  return HM.format(d);
}

const POINT = fmt({ weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** The moment under the crosshair: "Tue 1 Dec, 14:35". */
export function pointLabel(ms: number): string {
  return POINT.format(new Date(ms));
}
