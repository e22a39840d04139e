import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { gpuCharts } from '../../lib/history';
import { createCrosshair, CrosshairContext } from './crosshair';
import { HistoryChart } from './HistoryChart';
import type { ChartMarker } from './markers';

// Ten one-minute buckets; 3–5 missing (the service was stopped).
const T0 = 1_796_000_040;
const times = Array.from({ length: 10 }, (_, i) => T0 + i * 60);
const mean = [10, 20, 30, null, null, null, 70, 80, 90, 100];
const band = (d: number) => mean.map((m) => (m === null ? null : Math.max(0, m - d)));
const charts = gpuCharts(
  { times, step: 60 },
  {
    values: {
      utilization: { mean, min: band(5), max: mean.map((m) => (m === null ? null : Math.min(100, m + 5))) },
      temperature: { mean: mean.map((m) => (m === null ? null : 30 + m / 2)), min: band(0), max: band(0) },
    },
  },
);
const fromMs = T0 * 1000;
const toMs = (T0 + 600) * 1000;
// 400 px wide: the plot is 400 − 44 (y axis and margin) − 14 = 342 px, so one bucket is 34.2 px.
const WIDTH = 400;

function chart(metric: 'utilization' | 'temperature', onZoom = vi.fn()) {
  return (
    <HistoryChart
      key={metric}
      data={charts[metric]}
      fromMs={fromMs}
      toMs={toMs}
      stepMs={60_000}
      summary={`GPU 0 ${metric}`}
      thresholds={{ warn: 70, hot: 85 }}
      onZoom={onZoom}
      width={WIDTH}
    />
  );
}

/** The subpaths of an SVG path: one per "M". */
const subpaths = (d: string | null | undefined) => (d ?? '').match(/M/g)?.length ?? 0;

describe('HistoryChart', () => {
  it('breaks the mean line and the min–max band at a gap: two runs each, nothing across the hole', () => {
    const { container } = render(chart('utilization'));
    const figure = screen.getByTestId('history-chart');
    expect(figure).toHaveAttribute('data-gaps', '1');
    expect(figure).toHaveAttribute('data-points', '7');
    const line = container.querySelector('.history-mean path.recharts-line-curve, .history-mean path.recharts-curve');
    const area = container.querySelector('.history-band path.recharts-area-area, .history-band path.recharts-curve');
    expect(line).not.toBeNull();
    expect(area).not.toBeNull();
    expect(subpaths(line!.getAttribute('d'))).toBe(2);
    expect(subpaths(area!.getAttribute('d'))).toBe(2);
    // The gap is shaded, from the first missing bucket to the end of the last.
    expect(container.querySelectorAll('.history-gap')).toHaveLength(1);
    // The chart is one image for screen readers, its summary as its name.
    expect(screen.getByRole('img', { name: 'GPU 0 utilization' })).toBeInTheDocument();
  });

  it('shares one crosshair: pointing at a time on one chart shows that time\'s values on every chart', async () => {
    const crosshair = createCrosshair();
    render(
      <CrosshairContext.Provider value={crosshair}>
        {chart('utilization')}
        {chart('temperature')}
      </CrosshairContext.Provider>,
    );
    const [util, temp] = screen.getAllByTestId('chart-readout');
    expect(util).toHaveTextContent(/^mean 57 % · max 100 %$/);
    const overlays = screen.getAllByTestId('chart-overlay');
    // Bucket 7 (80 %) starts at 7 × 34.2 = 239 px into the plot.
    fireEvent.pointerMove(overlays[0]!, { clientX: 240 });
    await waitFor(() => expect(crosshair.get()).toBe(7));
    expect(util).toHaveTextContent(/80 %/);
    expect(util).toHaveTextContent(/\(75–85 %\)/);
    expect(temp).toHaveTextContent(/70 °C/);
    // In the gap: no value, said in words.
    act(() => crosshair.set(4));
    expect(util).toHaveTextContent(/no data$/);
    expect(temp).toHaveTextContent(/no data$/);
    fireEvent.pointerLeave(overlays[0]!);
    expect(crosshair.get()).toBeNull();
    expect(util).toHaveTextContent(/^mean/);
  });

  it('zooms to the span dragged across, and ignores a click', () => {
    const onZoom = vi.fn();
    render(chart('utilization', onZoom));
    const overlay = screen.getByTestId('chart-overlay');
    fireEvent.pointerDown(overlay, { clientX: 100, button: 0, pointerId: 1 });
    fireEvent.pointerUp(overlay, { clientX: 103, pointerId: 1 });
    expect(onZoom).not.toHaveBeenCalled();

    fireEvent.pointerDown(overlay, { clientX: 34.2, button: 0, pointerId: 1 });
    fireEvent.pointerMove(overlay, { clientX: 171, pointerId: 1 });
    expect(screen.getByTestId('zoom-selection')).toBeInTheDocument();
    fireEvent.pointerUp(overlay, { clientX: 171, pointerId: 1 });
    expect(onZoom).toHaveBeenCalledOnce();
    const [from, to] = onZoom.mock.calls[0] as [number, number];
    expect(from).toBeGreaterThanOrEqual(T0 + 59);
    expect(from).toBeLessThanOrEqual(T0 + 61);
    expect(to).toBeGreaterThanOrEqual(T0 + 299);
    expect(to).toBeLessThanOrEqual(T0 + 301);
    expect(screen.queryByTestId('zoom-selection')).toBeNull();
  });
});

describe('HistoryChart: event markers', () => {
  const markers: ChartMarker[] = [
    { id: 'hot', kind: 'hot', severity: 'warning', fromMs: fromMs + 60_000, toMs: fromMs + 180_000, ongoing: false, label: 'Hot (warning), 10:01–10:03: GPU 0 at 83 °C' },
    { id: 'lost', kind: 'gpuLost', severity: 'critical', fromMs: fromMs + 420_000, toMs: null, ongoing: false, label: 'GPU lost (critical), at 10:07: GPU 0 fell off the bus' },
  ];

  it('draws a finding as a shaded span and a change as a line, coloured by severity, and says them', async () => {
    const crosshair = createCrosshair();
    const { container } = render(
      <CrosshairContext.Provider value={crosshair}>
        <HistoryChart
          data={charts.utilization}
          fromMs={fromMs}
          toMs={toMs}
          stepMs={60_000}
          summary="GPU 0 utilization"
          thresholds={null}
          onZoom={vi.fn()}
          markers={markers}
          width={WIDTH}
        />
      </CrosshairContext.Provider>,
    );
    expect(screen.getByTestId('history-chart')).toHaveAttribute('data-markers', '2');
    const span = container.querySelector('.event-marker-span');
    const line = container.querySelector('.event-marker-line');
    expect(span).not.toBeNull();
    expect(line).not.toBeNull();
    expect(container.querySelectorAll('.event-marker')).toHaveLength(2);
    expect(span!.querySelector('path, rect')!.getAttribute('fill')).toBe('#f59e0b');
    expect(line!.querySelector('line')!.getAttribute('stroke')).toBe('#f43f5e');
    // The span runs from the first to the third minute: 34.2 px a minute after the 44 px of axis.
    const rect = span!.querySelector('path, rect')!;
    expect(Number(rect.getAttribute('x'))).toBeCloseTo(44 + 34.2, 1);
    expect(Number(rect.getAttribute('width'))).toBeCloseTo(2 * 34.2, 1);
    expect(screen.getByRole('img').getAttribute('aria-label')).toBe(
      'GPU 0 utilization. 2 events: GPU lost (critical), at 10:07: GPU 0 fell off the bus; Hot (warning), 10:01–10:03: GPU 0 at 83 °C',
    );
    // Pointing into the span names the event in the readout.
    act(() => crosshair.set(1));
    await waitFor(() => expect(screen.getByTestId('chart-readout-event')).toHaveTextContent('Hot (warning)'));
    act(() => crosshair.set(5));
    await waitFor(() => expect(screen.queryByTestId('chart-readout-event')).toBeNull());
  });

  it('draws nothing extra without markers', () => {
    const { container } = render(chart('utilization'));
    expect(container.querySelectorAll('.event-marker')).toHaveLength(0);
    expect(screen.getByTestId('history-chart')).toHaveAttribute('data-markers', '0');
  });
});
