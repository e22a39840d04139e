import { describe, expect, it } from 'vitest';
import type { HistoryResponse, HistorySeries, Stats } from '../api/history.gen';
import historyGap from '../test/fixtures/history-gap.json';
import {
  chartPoints,
  findGaps,
  gpuCharts,
  isEmpty,
  niceAxis,
  orderCards,
  summariseChart,
  tickLabel,
  timeTicks,
} from './history';

const real = historyGap as HistoryResponse;
const stats = (mean: (number | null)[], spread = 5): Stats => ({
  mean,
  min: mean.map((m) => (m === null ? null : m - spread)),
  max: mean.map((m) => (m === null ? null : m + spread)),
});
const T = [1000, 1060, 1120, 1180, 1240, 1300];

describe('chart points', () => {
  it('keep a missing bucket missing: no mean, no band (the line and the band break there)', () => {
    const points = chartPoints(T, stats([10, 20, null, null, 50, 60]));
    expect(points.map((p) => p.mean)).toEqual([10, 20, null, null, 50, 60]);
    expect(points.map((p) => p.band)).toEqual([[5, 15], [15, 25], null, null, [45, 55], [55, 65]]);
    expect(points.map((p) => p.t)).toEqual(T.map((t) => t * 1000));
  });

  it('scale MiB to GiB, mean and band alike, and never invent a value for a metric the answer lacks', () => {
    const points = chartPoints(T.slice(0, 2), { mean: [1024, 2048], min: [512, 2048], max: [2048, 4096] }, 1024);
    expect(points).toEqual([
      { t: 1_000_000, mean: 1, band: [0.5, 2] },
      { t: 1_060_000, mean: 2, band: [2, 4] },
    ]);
    expect(chartPoints(T.slice(0, 2), undefined).map((p) => p.mean)).toEqual([null, null]);
  });

  it('find the gaps between data, not the empty start or end of the range', () => {
    expect(findGaps(T, [null, 1, null, null, 2, null], 60)).toEqual([{ from: 1120, to: 1240 }]);
    expect(findGaps(T, [1, null, 2, null, 3, 4], 60)).toEqual([
      { from: 1060, to: 1120 },
      { from: 1180, to: 1240 },
    ]);
    expect(findGaps(T, [null, null, null, null, null, null], 60)).toEqual([]);
  });
});

describe('a GPU\'s four charts', () => {
  const gpu = real.series[0]!;
  const charts = gpuCharts(real, gpu, { thresholds: { warn: 70, hot: 85 } });

  it('draw a real answer with its gap: the mean line, the band around it, the range\'s mean and max', () => {
    const util = charts.utilization;
    const means = gpu.values.utilization!.mean;
    expect(util.points.map((p) => p.mean)).toEqual(means);
    expect(util.gaps).toHaveLength(0); // the fixture's gap runs to the end of its range: no data after it
    expect(util.reported).toBe(means.filter((m) => m !== null).length);
    for (const [i, p] of util.points.entries()) {
      if (p.mean === null) {
        expect(p.band).toBeNull();
      } else {
        expect(p.band![0]).toBeLessThanOrEqual(p.mean);
        expect(p.band![1]).toBeGreaterThanOrEqual(p.mean);
      }
      expect(p.band?.[1] ?? null).toBe(gpu.values.utilization!.max[i] ?? null);
    }
    const known = means.filter((m): m is number => m !== null);
    expect(util.mean).toBeCloseTo(known.reduce((a, b) => a + b, 0) / known.length, 6);
    expect(util.max).toBe(Math.max(...gpu.values.utilization!.max.filter((m): m is number => m !== null)));
    expect([util.yMax, util.ticks]).toEqual([100, [0, 25, 50, 75, 100]]);
  });

  it('show memory in GiB up to the total, power up to the limit, temperature with room above the hot line', () => {
    expect(charts.memory.unit).toBe('GiB');
    expect(charts.memory.ceiling).toBeCloseTo(81559 / 1024, 1);
    expect(charts.memory.yMax).toBe(80);
    expect(charts.power.ceiling).toBe(700);
    expect(charts.power.yMax).toBe(800);
    expect(charts.temperature.yMax).toBe(100);
    expect(charts.temperature.ceiling).toBeNull();
  });

  it('sum each chart up for screen readers, gaps included', () => {
    const withGap = gpuCharts({ times: T, step: 60 }, { values: { utilization: stats([40, 60, null, null, 50, 90], 10) } });
    expect(summariseChart(withGap.utilization, 'GPU 0', 'the last 24 hours')).toBe(
      'GPU 0 utilization, the last 24 hours: mean 60 %, max 100 %; one gap without data (2 min)',
    );
    expect(summariseChart(withGap.memory, 'GPU 0', 'the last 24 hours')).toBe('GPU 0 memory used, the last 24 hours: no data');
    expect(summariseChart(charts.power, 'GPU 1', 'the last 1 hour')).toMatch(/^GPU 1 power, the last 1 hour: mean \d+ W, max \d+ W of 700 W limit$/);
  });
});

describe('axes', () => {
  it('end on a nice number in about four steps', () => {
    expect(niceAxis(79.6)).toEqual({ max: 80, ticks: [0, 20, 40, 60, 80] });
    expect(niceAxis(700)).toEqual({ max: 800, ticks: [0, 200, 400, 600, 800] });
    expect(niceAxis(24)).toEqual({ max: 30, ticks: [0, 10, 20, 30] });
    expect(niceAxis(0)).toEqual({ max: 1, ticks: [0, 1] });
  });

  it('put time ticks on whole local hours and midnights, about one per 56 px', () => {
    const from = new Date(2026, 11, 1, 21, 7).getTime();
    const day = timeTicks(from, from + 86_400_000, 336);
    expect(day.interval).toBe(6 * 3600);
    for (const t of day.ticks) expect(new Date(t).getMinutes()).toBe(0);
    expect(day.ticks.length).toBeLessThanOrEqual(6);
    expect(day.ticks.some((t) => new Date(t).getHours() === 0)).toBe(true);
    const week = timeTicks(from, from + 7 * 86_400_000, 224);
    expect(week.interval).toBe(86_400 * 2);
    for (const t of week.ticks) expect([new Date(t).getHours(), new Date(t).getMinutes()]).toEqual([0, 0]);
    expect(tickLabel(new Date(2026, 11, 2, 0, 0).getTime(), 6 * 3600, 86_400)).toMatch(/Dec/);
    expect(tickLabel(new Date(2026, 11, 2, 6, 0).getTime(), 6 * 3600, 86_400)).toBe('06:00');
    expect(tickLabel(new Date(2026, 11, 2, 0, 0).getTime(), 86_400, 7 * 86_400)).toBe('Wed 2');
    expect(timeTicks(from, from + 7 * 86_400_000, 560).interval).toBe(86_400);
    // A day and two minutes (the start aligned to the step) at 250 px: still every 6 hours, 4 ticks.
    expect(timeTicks(from - 120_000, from + 86_400_000, 250)).toMatchObject({ interval: 6 * 3600 });
    expect(timeTicks(from - 120_000, from + 86_400_000, 250).ticks).toHaveLength(4);
  });
});

describe('the cards', () => {
  const gpu = (key: string, index: number, seen: [number, number] = [0, 2e9]): HistorySeries => ({
    key,
    kind: 'gpu',
    name: `NVIDIA H100 ${key}`,
    index,
    firstSeen: seen[0],
    lastSeen: seen[1],
    values: { utilization: stats([1]) },
  });
  const host: HistorySeries = { ...gpu('host', 0), kind: 'host', index: null, name: null };
  const response = { from: 1000, to: 2000, series: [gpu('GPU-b', 1), host, gpu('GPU-old', 0, [100, 1500]), gpu('GPU-a', 0), gpu('GPU-ancient', 3, [10, 20])] };

  it('follow the live grid, then the GPUs gone since (during the range only), never the host', () => {
    const live = [
      { key: 'GPU-a', id: 0, name: 'NVIDIA H100' },
      { key: 'GPU-b', id: 1, name: 'NVIDIA H100' },
      { key: 'GPU-new', id: 2, name: 'NVIDIA L4' },
    ];
    const cards = orderCards(response, live);
    expect(cards.map((c) => [c.key, c.present, c.series?.key ?? null])).toEqual([
      ['GPU-a', true, 'GPU-a'],
      ['GPU-b', true, 'GPU-b'],
      ['GPU-new', true, null],
      ['GPU-old', false, 'GPU-old'],
    ]);
  });

  it('are in index order, present or not unknown, before the stream has said', () => {
    expect(orderCards(response, null).map((c) => [c.key, c.present])).toEqual([
      ['GPU-a', null],
      ['GPU-old', null],
      ['GPU-b', null],
    ]);
  });

  it('know an answer without a single GPU value from one with data', () => {
    expect(isEmpty(real)).toBe(false);
    expect(isEmpty({ series: [host] })).toBe(true);
    expect(isEmpty({ series: [{ ...gpu('GPU-a', 0), values: { utilization: stats([null, null]) } }] })).toBe(true);
  });
});
