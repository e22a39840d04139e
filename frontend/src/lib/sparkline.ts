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

/** The drawing box of a sparkline, in SVG user units (the SVG stretches it to its width). */
export interface SparkBox {
  /** Horizontal units; the `<svg>` scales them to whatever width it gets. */
  width: number;
  /** Pixels, like the margins: the SVG is drawn at this height. */
  height: number;
  /** Room above 100 % and below 0 % (an idle GPU's 0 % line stays visible). */
  top: number;
  bottom: number;
}

export interface SparkPaths {
  /** The line: one subpath per run of reported samples, a dot (zero-length subpath) for a lone one. */
  line: string;
  /** The area under each run of two or more samples, down to 0 %. */
  area: string;
}

const round = (v: number) => Math.round(v * 100) / 100;
const sign = (v: number) => (v < 0 ? -1 : 1);

/**
 * Tangents of a monotone cubic through the points (Steffen's method, as in
 * d3-shape's curveMonotoneX, which Recharts' `type="monotone"` uses): the curve
 * never overshoots a sample, so 0 % and 100 % stay inside the box.
 */
function tangents(xs: readonly number[], ys: readonly number[]): number[] {
  const n = xs.length;
  const m = new Array<number>(n).fill(0);
  for (let i = 1; i < n - 1; i++) {
    const h0 = xs[i]! - xs[i - 1]!;
    const h1 = xs[i + 1]! - xs[i]!;
    const s0 = (ys[i]! - ys[i - 1]!) / h0;
    const s1 = (ys[i + 1]! - ys[i]!) / h1;
    const p = (s0 * h1 + s1 * h0) / (h0 + h1);
    m[i] = (sign(s0) + sign(s1)) * Math.min(Math.abs(s0), Math.abs(s1), 0.5 * Math.abs(p)) || 0;
  }
  const end = (a: number, b: number, t: number) => {
    const h = xs[b]! - xs[a]!;
    return h ? (3 * (ys[b]! - ys[a]!) / h - t) / 2 : t;
  };
  if (n > 2) {
    m[0] = end(0, 1, m[1]!);
    m[n - 1] = end(n - 2, n - 1, m[n - 2]!);
  }
  return m;
}

function curve(xs: readonly number[], ys: readonly number[]): string {
  if (xs.length === 2) return `M${round(xs[0]!)},${round(ys[0]!)}L${round(xs[1]!)},${round(ys[1]!)}`;
  const m = tangents(xs, ys);
  let d = `M${round(xs[0]!)},${round(ys[0]!)}`;
  for (let i = 0; i < xs.length - 1; i++) {
    const dx = (xs[i + 1]! - xs[i]!) / 3;
    d +=
      `C${round(xs[i]! + dx)},${round(ys[i]! + dx * m[i]!)} ` +
      `${round(xs[i + 1]! - dx)},${round(ys[i + 1]! - dx * m[i + 1]!)} ` +
      `${round(xs[i + 1]!)},${round(ys[i + 1]!)}`;
  }
  return d;
}

/**
 * The SVG paths of a 0–100 % sparkline: samples evenly spaced left to right
 * (the newest at the right edge), values clamped to 0–100, a gap wherever a
 * sample is `null`. A single sample sits at the right edge.
 */
export function sparkPaths(data: readonly HistoryPoint[], key: SeriesKey, box: SparkBox): SparkPaths {
  const n = data.length;
  const span = box.height - box.top - box.bottom;
  const baseline = round(box.top + span);
  const x = (i: number) => (n === 1 ? box.width : (i / (n - 1)) * box.width);
  const y = (v: number) => box.top + (1 - Math.min(100, Math.max(0, v)) / 100) * span;
  let line = '';
  let area = '';
  let xs: number[] = [];
  let ys: number[] = [];
  const flush = () => {
    if (xs.length === 1) {
      line += `M${round(xs[0]!)},${round(ys[0]!)}h0`;
    } else if (xs.length > 1) {
      const run = curve(xs, ys);
      line += run;
      area += `${run}L${round(xs[xs.length - 1]!)},${baseline}L${round(xs[0]!)},${baseline}Z`;
    }
    xs = [];
    ys = [];
  };
  data.forEach((p, i) => {
    const v = p[key];
    if (v === null || !Number.isFinite(v)) {
      flush();
    } else {
      xs.push(x(i));
      ys.push(y(v));
    }
  });
  flush();
  return { line, area };
}
