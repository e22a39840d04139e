import { memo, useId } from 'react';
import { Area, AreaChart, YAxis } from 'recharts';
import { summarise, type SeriesKey } from '../lib/sparkline';
import type { HistoryPoint } from '../api/view';

interface SparklineProps {
  data: readonly HistoryPoint[];
  dataKey: SeriesKey;
  /** What the series is, for the accessible summary ("Utilization"). */
  title: string;
  from: string;
  to: string;
  height?: number;
}

// A little room at the bottom so an idle GPU's 0 % line is still visible.
const MARGIN = { top: 4, right: 1, bottom: 3, left: 1 };
const DOMAIN: [number, number] = [0, 100];


/**
 * A Recharts area sparkline (0–100 %). No animation, no tooltip, no dots:
 * it only redraws when its capped `data` array changes identity.
 */
function SparklineImpl({ data, dataKey, title, from, to, height = 56 }: SparklineProps) {
  const id = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  const gradient = `spark-${id}`;
  return (
    <div role="img" aria-label={summarise(data, dataKey, title)} className="w-full" style={{ height }}>
      <AreaChart
        responsive
        style={{ width: '100%', height }}
        data={data as HistoryPoint[]}
        margin={MARGIN}
        accessibilityLayer={false}
      >
        <defs>
          {/* userSpaceOnUse: a flat line has a zero-height box, and a bounding-box gradient would not paint it. */}
          <linearGradient id={gradient} gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="100%" y2="0">
            <stop offset="0%" stopColor={from} />
            <stop offset="100%" stopColor={to} />
          </linearGradient>
          <linearGradient id={`${gradient}-fill`} x1="0" y1="0" x2="0" y2="1">
            <stop offset="0%" stopColor={to} stopOpacity={0.35} />
            <stop offset="100%" stopColor={from} stopOpacity={0} />
          </linearGradient>
        </defs>
        <YAxis hide domain={DOMAIN} allowDataOverflow />
        <Area
          type="monotone"
          dataKey={dataKey}
          stroke={`url(#${gradient})`}
          strokeWidth={2}
          fill={`url(#${gradient}-fill)`}
          isAnimationActive={false}
          dot={false}
          activeDot={false}
          connectNulls={false}
        />
      </AreaChart>
    </div>
  );
}

export const Sparkline = memo(SparklineImpl);
