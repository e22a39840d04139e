import { memo, useId } from 'react';
import { axisTicks, formatHours, type ChartRow } from '../../lib/usage';
import { useWidth } from '../history/useWidth';

const TICK = { fill: '#b9c3d6', fontSize: 12.5, fontFamily: 'Inter Variable, ui-sans-serif, system-ui, sans-serif' };
const BAR_H = 26;
/** Between two bars, px. */
const BAR_GAP = 10;
const X_AXIS_H = 24;
const MARGIN = { top: 4, right: 16, bottom: 0, left: 0 } as const;
const RADIUS = 6;
const OTHERS_FILL = 'rgb(100 116 139 / 0.7)';
const METRICS = {
  gpuHours: { title: 'GPU-hours', from: '#7c3aed', to: '#d946ef', unit: 'GPU-h' },
  gibHours: { title: 'GiB-hours', from: '#22d3ee', to: '#10b981', unit: 'GiB-h' },
} as const;

type Metric = keyof typeof METRICS;

/** "train.py" → at most `n` characters, with an ellipsis. */
const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

interface PanelProps {
  rows: readonly ChartRow[];
  metric: Metric;
  /** A fixed width (tests); otherwise the panel is measured. */
  width?: number;
}

/** A bar `w` wide from `x`, its right end rounded. */
function barPath(x: number, y: number, w: number, h: number): string {
  const r = Math.max(0, Math.min(RADIUS, w, h / 2));
  return `M${x},${y}h${w - r}a${r},${r} 0 0 1 ${r},${r}v${h - 2 * r}a${r},${r} 0 0 1 ${-r},${r}h${r - w}Z`;
}

/**
 * One horizontal bar chart: a bar per row, the "others" bar in slate. Plain
 * SVG drawn in the render (no chart library): 16 bars are a few dozen
 * elements, and a library's measuring and store updates after each answer
 * cost a long task of their own.
 */
const Panel = memo(function Panel({ rows, metric, width }: PanelProps) {
  const [measure, measured] = useWidth<HTMLDivElement>();
  const w = width ?? measured;
  const id = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  const m = METRICS[metric];
  const height = rows.length * BAR_H + X_AXIS_H + MARGIN.top;
  const yWidth = Math.min(150, Math.max(80, Math.floor(w * 0.34)));
  const chars = Math.floor(yWidth / 7.2);
  const top = rows.slice(0, 3).map((r) => `${r.name} ${formatHours(r[metric])}`).join(', ');
  const summary = `${m.title} per row, ${rows.length} bar${rows.length === 1 ? '' : 's'}${top ? `: ${top}` : ''}${rows.length > 3 ? ', …' : ''}. The table below lists every row.`;
  const ticks = axisTicks(Math.max(0, ...rows.map((r) => r[metric])));
  const domain = ticks[ticks.length - 1]!;
  const plot = Math.max(0, w - yWidth - MARGIN.right);
  const x = (v: number) => yWidth + (Math.max(0, v) / domain) * plot;
  const axisY = MARGIN.top + rows.length * BAR_H;
  return (
    <figure className="m-0 min-w-0" data-testid="usage-chart" data-metric={metric}>
      <figcaption className="label mb-2">
        {m.title} <span className="normal-case tracking-normal">· {m.unit}</span>
      </figcaption>
      <div ref={measure} role="img" aria-label={summary} className="w-full" style={{ height }}>
        {w > 0 && (
          <svg width={w} height={height} viewBox={`0 0 ${w} ${height}`} aria-hidden="true" className="overflow-visible" style={{ fontFamily: TICK.fontFamily }}>
            <defs>
              <linearGradient id={`${id}-bar`} x1="0" y1="0" x2="1" y2="0">
                <stop offset="0%" stopColor={m.from} />
                <stop offset="100%" stopColor={m.to} />
              </linearGradient>
            </defs>
            <g stroke="rgb(255 255 255 / 0.07)">
              {ticks.map((t) => (
                <line key={t} x1={x(t)} x2={x(t)} y1={MARGIN.top} y2={axisY} />
              ))}
            </g>
            <g className="usage-bar">
              {rows.map((r, i) => (
                <path
                  key={r.key}
                  d={barPath(yWidth, MARGIN.top + i * BAR_H + BAR_GAP / 2, x(r[metric]) - yWidth, BAR_H - BAR_GAP)}
                  fill={r.others > 0 ? OTHERS_FILL : `url(#${id}-bar)`}
                />
              ))}
            </g>
            <g fill={TICK.fill} fontSize={TICK.fontSize} textAnchor="end">
              {rows.map((r, i) => (
                <text key={r.key} x={yWidth - 8} y={MARGIN.top + (i + 0.5) * BAR_H} dominantBaseline="central">
                  {clip(r.name, chars)}
                </text>
              ))}
            </g>
            <line x1={yWidth} x2={yWidth + plot} y1={axisY} y2={axisY} stroke="rgb(255 255 255 / 0.18)" />
            <g fill={TICK.fill} fontSize={TICK.fontSize} textAnchor="middle">
              {ticks.map((t) => (
                <text key={t} x={x(t)} y={axisY + 16}>
                  {formatHours(t)}
                </text>
              ))}
            </g>
          </svg>
        )}
      </div>
    </figure>
  );
});

/** GPU-hours and GiB-hours of the top rows, side by side (stacked on a phone), the same rows in the same order. */
export const UsageChart = memo(function UsageChart({ rows, width }: { rows: readonly ChartRow[]; width?: number }) {
  return (
    <section aria-label="Usage chart" className="glass grid gap-x-6 gap-y-5 rounded-2xl p-4 sm:p-5 md:grid-cols-2">
      <Panel rows={rows} metric="gpuHours" width={width} />
      <Panel rows={rows} metric="gibHours" width={width} />
    </section>
  );
});
