import { memo, useId } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, XAxis, YAxis } from 'recharts';
import { formatHours, type ChartRow } from '../../lib/usage';
import { useWidth } from '../history/useWidth';

const TICK = { fill: '#b9c3d6', fontSize: 12.5, fontFamily: 'Inter Variable, ui-sans-serif, system-ui, sans-serif' };
const BAR_H = 26;
const X_AXIS_H = 24;
const MARGIN = { top: 4, right: 16, bottom: 0, left: 0 } as const;

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

/** One horizontal bar chart: a bar per row, the "others" bar in slate. */
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
  return (
    <figure className="m-0 min-w-0" data-testid="usage-chart" data-metric={metric}>
      <figcaption className="label mb-2">
        {m.title} <span className="normal-case tracking-normal">· {m.unit}</span>
      </figcaption>
      <div ref={measure} role="img" aria-label={summary} className="w-full" style={{ height }}>
        {w > 0 && (
          <BarChart
            width={w}
            height={height}
            data={rows as ChartRow[]}
            layout="vertical"
            margin={MARGIN}
            barCategoryGap={5}
            accessibilityLayer={false}
          >
            <defs>
              <linearGradient id={`${id}-bar`} x1="0" y1="0" x2="1" y2="0">
                <stop offset="0%" stopColor={m.from} />
                <stop offset="100%" stopColor={m.to} />
              </linearGradient>
            </defs>
            <CartesianGrid horizontal={false} stroke="rgb(255 255 255 / 0.07)" />
            <XAxis
              type="number"
              tick={TICK}
              tickLine={false}
              axisLine={{ stroke: 'rgb(255 255 255 / 0.18)' }}
              height={X_AXIS_H}
              tickFormatter={(v: number) => formatHours(v)}
              allowDecimals
            />
            <YAxis
              type="category"
              dataKey="name"
              width={yWidth}
              tick={TICK}
              tickLine={false}
              axisLine={false}
              interval={0}
              tickFormatter={(name: string) => clip(name, chars)}
            />
            <Bar dataKey={metric} isAnimationActive={false} radius={[0, 6, 6, 0]} className="usage-bar">
              {rows.map((r) => (
                <Cell key={r.key} fill={r.others > 0 ? 'rgb(100 116 139 / 0.7)' : `url(#${id}-bar)`} />
              ))}
            </Bar>
          </BarChart>
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
