import { memo, useId, useMemo } from 'react';
import { sparkPaths, summarise, type SeriesKey, type SparkBox } from '../lib/sparkline';
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

// Horizontal user units: the SVG stretches them to its width (preserveAspectRatio="none"),
// and the stroke keeps its 2 px whatever the stretch (vector-effect: non-scaling-stroke).
const WIDTH = 100;
// A little room at the top for the 2 px line at 100 %, and at the bottom so an idle
// GPU's 0 % line is still visible.
const TOP = 4;
const BOTTOM = 3;

/**
 * A 0–100 % area sparkline drawn as two SVG paths: a gradient line over a
 * fading gradient fill, with gaps where a sample is missing. No animation at
 * all (nothing moves but the data, so prefers-reduced-motion has nothing to
 * turn off), no measuring of the layout: it redraws only when its capped
 * `data` array changes identity. The chart is an image whose accessible name
 * is the summary (now, min, max); the SVG itself is hidden from screen readers.
 */
function SparklineImpl({ data, dataKey, title, from, to, height = 56 }: SparklineProps) {
  const id = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  const gradient = `spark-${id}`;
  const { line, area } = useMemo(() => {
    const box: SparkBox = { width: WIDTH, height, top: TOP, bottom: BOTTOM };
    return sparkPaths(data, dataKey, box);
  }, [data, dataKey, height]);
  return (
    // 1 px each side: the line's round ends at the first and last sample spill out of the SVG.
    <div role="img" aria-label={summarise(data, dataKey, title)} className="w-full px-px" style={{ height }}>
      <svg
        className="block h-full w-full overflow-visible"
        viewBox={`0 0 ${WIDTH} ${height}`}
        preserveAspectRatio="none"
        aria-hidden="true"
        focusable="false"
      >
        <defs>
          {/* userSpaceOnUse: a flat line has a zero-height box, and a bounding-box gradient would not paint it. */}
          <linearGradient id={gradient} gradientUnits="userSpaceOnUse" x1="0" y1="0" x2={WIDTH} y2="0">
            <stop offset="0%" stopColor={from} />
            <stop offset="100%" stopColor={to} />
          </linearGradient>
          <linearGradient id={`${gradient}-fill`} x1="0" y1="0" x2="0" y2="1">
            <stop offset="0%" stopColor={to} stopOpacity={0.35} />
            <stop offset="100%" stopColor={from} stopOpacity={0} />
          </linearGradient>
        </defs>
        {area && <path className="spark-area" d={area} fill={`url(#${gradient}-fill)`} stroke="none" />}
        {line && (
          <path
            className="spark-line"
            d={line}
            fill="none"
            stroke={`url(#${gradient})`}
            strokeWidth={2}
            strokeLinecap="round"
            strokeLinejoin="round"
            vectorEffect="non-scaling-stroke"
          />
        )}
      </svg>
    </div>
  );
}

export const Sparkline = memo(SparklineImpl);
