import { memo, useEffect, useId, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, ReferenceArea, ReferenceLine, XAxis, YAxis } from 'recharts';
import type { TemperatureThresholds } from '../../api/types';
import {
  formatValue,
  METRIC_TITLE,
  pointLabel,
  tickLabel,
  timeTicks,
  type ChartData,
  type ChartMetric,
} from '../../lib/history';
import { useCrosshair } from './crosshair';
import { describeMarkers, markerAt, NO_MARKERS, SEVERITY_COLOR, type ChartMarker } from './markers';
import { useWidth } from './useWidth';

/** The plot's margins and axes, in px: the overlay (crosshair, zoom) uses the same numbers as Recharts. */
const MARGIN = { top: 10, right: 14, bottom: 0, left: 2 } as const;
const Y_AXIS_W = 42;
const X_AXIS_H = 26;
const TICK = { fill: '#b9c3d6', fontSize: 12.5, fontFamily: 'Inter Variable, ui-sans-serif, system-ui, sans-serif' };
/** The smallest drag that zooms, px (a click is not a zoom). */
const MIN_DRAG_PX = 8;
/** The shortest span a zoom may choose, ms. */
const MIN_ZOOM_MS = 60_000;

const COLORS: Record<ChartMetric, { from: string; to: string; unitLabel: string }> = {
  utilization: { from: '#7c3aed', to: '#d946ef', unitLabel: '%' },
  memory: { from: '#22d3ee', to: '#10b981', unitLabel: 'GiB' },
  temperature: { from: '#10b981', to: '#f43f5e', unitLabel: '°C' },
  power: { from: '#d946ef', to: '#22d3ee', unitLabel: 'W' },
};

interface Geometry {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

function geometry(width: number, height: number): Geometry {
  const left = MARGIN.left + Y_AXIS_W;
  const top = MARGIN.top;
  return {
    width,
    height,
    left,
    top,
    plotW: Math.max(1, width - left - MARGIN.right),
    plotH: Math.max(1, height - top - MARGIN.bottom - X_AXIS_H),
  };
}

interface PlotProps {
  data: ChartData;
  fromMs: number;
  toMs: number;
  geo: Geometry;
  thresholds: TemperatureThresholds | null;
  markers: readonly ChartMarker[];
}

/** The Recharts part: drawn once per answer and size, never for the pointer. */
const Plot = memo(function Plot({ data, fromMs, toMs, geo, thresholds, markers }: PlotProps) {
  const id = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  const c = COLORS[data.metric];
  const { ticks, interval } = timeTicks(fromMs, toMs, geo.plotW);
  const span = (toMs - fromMs) / 1000;
  const yOf = (v: number) => 1 - Math.min(1, Math.max(0, v / data.yMax));
  const temperature = data.metric === 'temperature';
  const warn = thresholds?.warn ?? 70;
  const hot = thresholds?.hot ?? 85;
  // Temperature is coloured by value, like the live chip: emerald below warn, amber, rose from hot.
  const tempStops = [
    [0, '#f43f5e'],
    [yOf(hot), '#f43f5e'],
    [yOf(hot), '#f59e0b'],
    [yOf(warn), '#f59e0b'],
    [yOf(warn), '#10b981'],
    [1, '#22d3ee'],
  ] as const;
  const lineGradient = (
    <linearGradient
      id={`${id}-line`}
      gradientUnits="userSpaceOnUse"
      x1={temperature ? 0 : geo.left}
      y1={temperature ? geo.top : 0}
      x2={temperature ? 0 : geo.left + geo.plotW}
      y2={temperature ? geo.top + geo.plotH : 0}
    >
      {temperature ? (
        tempStops.map(([o, color], i) => <stop key={i} offset={o} stopColor={color} />)
      ) : (
        <>
          <stop offset="0%" stopColor={c.from} />
          <stop offset="100%" stopColor={c.to} />
        </>
      )}
    </linearGradient>
  );
  return (
    <ComposedChart
      width={geo.width}
      height={geo.height}
      data={data.points as ChartData['points'][number][]}
      margin={MARGIN}
      accessibilityLayer={false}
    >
      <defs>
        {lineGradient}
        {/* No data: diagonal hatching, the usual sign for "nothing here", readable at any width. */}
        <pattern id={`${id}-gap`} width={6} height={6} patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width={2.5} height={6} fill="rgb(148 163 184 / 0.35)" />
        </pattern>
        <linearGradient
          id={`${id}-band`}
          gradientUnits="userSpaceOnUse"
          x1={0}
          y1={geo.top}
          x2={0}
          y2={geo.top + geo.plotH}
        >
          {temperature ? (
            tempStops.map(([o, color], i) => <stop key={i} offset={o} stopColor={color} stopOpacity={0.28} />)
          ) : (
            <>
              <stop offset="0%" stopColor={c.to} stopOpacity={0.42} />
              <stop offset="100%" stopColor={c.from} stopOpacity={0.12} />
            </>
          )}
        </linearGradient>
      </defs>
      <CartesianGrid vertical={false} stroke="rgb(255 255 255 / 0.07)" />
      {data.gaps.map((g) => (
        <ReferenceArea
          key={g.from}
          x1={g.from * 1000}
          x2={Math.min(g.to * 1000, toMs)}
          fill={`url(#${id}-gap)`}
          fillOpacity={1}
          stroke="rgb(148 163 184 / 0.45)"
          strokeDasharray="3 3"
          ifOverflow="hidden"
          className="history-gap"
        />
      ))}
      {/* Events: a finding as a shaded span (behind the data), an instant change as a line; coloured by severity. */}
      {markers.map((m) =>
        m.toMs === null ? null : (
          <ReferenceArea
            key={m.id}
            x1={m.fromMs}
            x2={m.toMs}
            fill={SEVERITY_COLOR[m.severity]}
            fillOpacity={m.severity === 'info' ? 0.1 : 0.16}
            stroke={SEVERITY_COLOR[m.severity]}
            strokeOpacity={0.45}
            ifOverflow="hidden"
            className={`event-marker event-marker-span event-${m.severity}`}
          />
        ),
      )}
      <XAxis
        dataKey="t"
        type="number"
        domain={[fromMs, toMs]}
        allowDataOverflow
        ticks={ticks}
        interval={0}
        tickFormatter={(ms: number) => tickLabel(ms, interval, span)}
        height={X_AXIS_H}
        tick={TICK}
        tickLine={false}
        axisLine={{ stroke: 'rgb(255 255 255 / 0.18)' }}
        minTickGap={4}
      />
      <YAxis
        type="number"
        domain={[0, data.yMax]}
        allowDataOverflow
        ticks={data.ticks as number[]}
        interval={0}
        width={Y_AXIS_W}
        tick={TICK}
        tickLine={false}
        axisLine={false}
        tickFormatter={(v: number) => String(v)}
      />
      {data.metric === 'temperature' && (
        <>
          <ReferenceLine y={warn} stroke="#f59e0b" strokeOpacity={0.55} strokeDasharray="5 5" ifOverflow="hidden" />
          <ReferenceLine y={hot} stroke="#f43f5e" strokeOpacity={0.6} strokeDasharray="5 5" ifOverflow="hidden" />
        </>
      )}
      {data.ceiling !== null && (
        <ReferenceLine y={data.ceiling} stroke="rgb(238 241 248 / 0.45)" strokeDasharray="5 5" ifOverflow="hidden" />
      )}
      <Area
        dataKey="band"
        type="linear"
        stroke="none"
        fill={`url(#${id}-band)`}
        isAnimationActive={false}
        connectNulls={false}
        activeDot={false}
        dot={false}
        className="history-band"
      />
      <Line
        dataKey="mean"
        type="linear"
        stroke={`url(#${id}-line)`}
        strokeWidth={2}
        strokeLinejoin="round"
        strokeLinecap="round"
        dot={false}
        activeDot={false}
        isAnimationActive={false}
        connectNulls={false}
        className="history-mean"
      />
      {markers.map((m) =>
        m.toMs !== null ? null : (
          <ReferenceLine
            key={m.id}
            x={m.fromMs}
            stroke={SEVERITY_COLOR[m.severity]}
            strokeWidth={2}
            strokeDasharray="4 3"
            ifOverflow="hidden"
            className={`event-marker event-marker-line event-${m.severity}`}
          />
        ),
      )}
    </ComposedChart>
  );
});

interface HistoryChartProps {
  data: ChartData;
  /** The x axis: the answer's range, ms. */
  fromMs: number;
  toMs: number;
  stepMs: number;
  /** The accessible summary ("GPU 0 utilization, the last 24 hours: mean 43 %, max 100 %"). */
  summary: string;
  thresholds: TemperatureThresholds | null;
  onZoom: (fromS: number, toS: number) => void;
  /** The events on this GPU (and the host's) over the range; none by default. */
  markers?: readonly ChartMarker[];
  height?: number;
  /** A fixed width (tests); otherwise the chart's box is measured. */
  width?: number;
}

/**
 * One metric of one GPU over the range: the mean as a gradient line, min–max
 * as a band, a missing bucket as a gap (shaded, nothing drawn across it). The
 * pointer shows the crosshair on every chart of the page; dragging across a
 * span zooms to it.
 */
function HistoryChartImpl({
  data,
  fromMs,
  toMs,
  stepMs,
  summary,
  thresholds,
  onZoom,
  markers = NO_MARKERS,
  height = 150,
  width,
}: HistoryChartProps) {
  const [measure, measured] = useWidth<HTMLDivElement>();
  const w = width ?? measured;
  const geo = geometry(w, height);
  const [index, crosshair] = useCrosshair();
  const [drag, setDrag] = useState<{ start: number; end: number } | null>(null);
  const frame = useRef(0);
  const c = COLORS[data.metric];

  const timeAt = (x: number) => fromMs + (Math.min(Math.max(x, 0), geo.plotW) / geo.plotW) * (toMs - fromMs);
  const xOf = (t: number) => ((t - fromMs) / (toMs - fromMs)) * geo.plotW;
  const indexAt = (x: number) => {
    const n = data.points.length;
    if (n === 0) return null;
    const i = Math.round((timeAt(x) - data.points[0]!.t) / stepMs);
    return Math.min(n - 1, Math.max(0, i));
  };
  const localX = (event: ReactPointerEvent<HTMLDivElement>) =>
    event.clientX - event.currentTarget.getBoundingClientRect().left;

  const onPointerMove = (event: ReactPointerEvent<HTMLDivElement>) => {
    const x = localX(event);
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => crosshair?.set(indexAt(x)));
    if (drag !== null) setDrag({ start: drag.start, end: Math.min(Math.max(x, 0), geo.plotW) });
  };
  const onPointerDown = (event: ReactPointerEvent<HTMLDivElement>) => {
    if (event.button !== 0) return;
    const x = localX(event);
    event.currentTarget.setPointerCapture?.(event.pointerId);
    setDrag({ start: x, end: x });
  };
  const onPointerUp = (event: ReactPointerEvent<HTMLDivElement>) => {
    if (drag === null) return;
    setDrag(null);
    const a = Math.min(drag.start, drag.end);
    const b = Math.max(drag.start, drag.end);
    if (b - a < MIN_DRAG_PX) return;
    let from = timeAt(a);
    let to = timeAt(b);
    if (to - from < MIN_ZOOM_MS) {
      const mid = (from + to) / 2;
      from = mid - MIN_ZOOM_MS / 2;
      to = mid + MIN_ZOOM_MS / 2;
    }
    event.currentTarget.releasePointerCapture?.(event.pointerId);
    onZoom(Math.floor(from / 1000), Math.ceil(to / 1000));
  };
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const point = index === null ? undefined : data.points[index];
  const readout =
    point === undefined ? (
      data.mean === null || data.max === null ? (
        <span className="text-ink-3">no data</span>
      ) : (
        <>
          <span className="text-ink-3">mean</span> {formatValue(data.mean, data.unit)}
          <span className="text-ink-3"> · max</span> {formatValue(data.max, data.unit)}
        </>
      )
    ) : (
      <>
        <span className="text-ink-3">{pointLabel(point.t)}</span>{' '}
        {point.mean === null ? (
          <span className="text-ink-3">no data</span>
        ) : (
          <>
            <span className="font-semibold text-ink">{formatValue(point.mean, data.unit)}</span>
            {point.band && point.band[0] !== point.band[1] && (
              <span className="text-ink-3">
                {' '}
                ({formatValue(point.band[0], data.unit).replace(/ .*/, '')}–{formatValue(point.band[1], data.unit)})
              </span>
            )}
          </>
        )}
      </>
    );

  // The event under the pointer, said in the readout and the tooltip (a line counts within one bucket of it).
  const hovered = point === undefined || markers.length === 0 ? null : markerAt(markers, point.t + stepMs / 2, stepMs);
  const crossX = point === undefined ? null : xOf(point.t);
  // The dot takes the line's colour there: temperature by its level, the rest the gradient's end.
  const dotColor =
    data.metric !== 'temperature' || point?.mean == null
      ? c.to
      : point.mean >= (thresholds?.hot ?? 85)
        ? '#f43f5e'
        : point.mean >= (thresholds?.warn ?? 70)
          ? '#f59e0b'
          : '#10b981';
  const dotY = point?.mean == null ? null : geo.top + (1 - Math.min(1, point.mean / data.yMax)) * geo.plotH;

  return (
    <figure
      className="m-0 min-w-0"
      data-testid="history-chart"
      data-metric={data.metric}
      data-gaps={data.gaps.length}
      data-points={data.reported}
      data-markers={markers.length}
    >
      <figcaption className="mb-1.5 flex flex-col gap-0.5">
        <span className="label">
          {METRIC_TITLE[data.metric]} <span className="normal-case tracking-normal">· {c.unitLabel}</span>
        </span>
        <span className="num block h-5 truncate text-[0.8125rem] text-ink-2" aria-hidden="true" data-testid="chart-readout">
          {readout}
          {hovered && (
            <span className="ml-1.5" data-testid="chart-readout-event" style={{ color: SEVERITY_COLOR[hovered.severity] }}>
              · {hovered.label}
            </span>
          )}
        </span>
      </figcaption>
      <div ref={measure} role="img" aria-label={`${summary}${describeMarkers(markers)}`} className="relative w-full select-none" style={{ height }}>
        {w > 0 && (
          <div aria-hidden="true" className="absolute inset-0">
            <Plot data={data} fromMs={fromMs} toMs={toMs} geo={geo} thresholds={thresholds} markers={markers} />
          </div>
        )}
        {w > 0 && (
          <div
            aria-hidden="true"
            className="absolute cursor-crosshair touch-pan-y"
            style={{ left: geo.left, top: geo.top, width: geo.plotW, height: geo.plotH }}
            onPointerMove={onPointerMove}
            onPointerDown={onPointerDown}
            onPointerUp={onPointerUp}
            onPointerCancel={() => setDrag(null)}
            title={hovered?.label}
            onPointerLeave={() => {
              cancelAnimationFrame(frame.current);
              if (drag === null) crosshair?.set(null);
            }}
            data-testid="chart-overlay"
          >
            {crossX !== null && (
              <div className="pointer-events-none absolute inset-y-0 w-px bg-white/50" style={{ left: crossX }} />
            )}
            {crossX !== null && dotY !== null && (
              <div
                className="pointer-events-none absolute size-2.5 -translate-x-1/2 -translate-y-1/2 rounded-full border-2 border-canvas"
                style={{ left: crossX, top: dotY - geo.top, background: dotColor }}
              />
            )}
            {drag !== null && Math.abs(drag.end - drag.start) >= 2 && (
              <div
                className="pointer-events-none absolute inset-y-0 border-x border-fuchsia-ink/70 bg-neon-fuchsia/15"
                style={{ left: Math.min(drag.start, drag.end), width: Math.abs(drag.end - drag.start) }}
                data-testid="zoom-selection"
              />
            )}
          </div>
        )}
      </div>
    </figure>
  );
}

export const HistoryChart = memo(HistoryChartImpl);
