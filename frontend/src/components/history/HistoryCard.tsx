import { Unplug } from 'lucide-react';
import { memo, useMemo } from 'react';
import type { TemperatureThresholds } from '../../api/types';
import { shortName, shortUuid } from '../../lib/format';
import { CHART_METRICS, gpuCharts, summariseChart, type CardEntry } from '../../lib/history';
import { formatMoment } from '../../lib/range';
import { HistoryChart } from './HistoryChart';
import { NO_MARKERS, type ChartMarker } from './markers';

interface HistoryCardProps {
  entry: CardEntry;
  times: readonly number[];
  step: number;
  fromMs: number;
  toMs: number;
  /** "the last 24 hours", for the summaries. */
  rangeText: string;
  thresholds: TemperatureThresholds | null;
  onZoom: (fromS: number, toS: number) => void;
  /** The events of this GPU and the host's over the range, drawn on each chart. */
  markers?: readonly ChartMarker[];
}

/** One GPU over the range: its four charts, under the same header as its live card. */
function HistoryCardImpl({ entry, times, step, fromMs, toMs, rangeText, thresholds, onZoom, markers = NO_MARKERS }: HistoryCardProps) {
  const charts = useMemo(
    () => (entry.series === null ? null : gpuCharts({ times, step }, entry.series, { thresholds })),
    [entry.series, times, step, thresholds],
  );
  const label = entry.index === null ? 'GPU' : `GPU ${entry.index}`;
  const name = entry.name === null ? 'Unknown GPU' : shortName(entry.name);
  const titleId = `history-${entry.key.replace(/[^a-zA-Z0-9_-]/g, '')}-title`;
  const gone = entry.present === false;
  return (
    <article
      aria-labelledby={titleId}
      className={`glass @container flex min-w-0 flex-col gap-4 rounded-2xl p-4 sm:p-5 ${gone ? 'border-dashed border-white/20' : ''}`}
      data-testid="history-card"
      data-gpu-key={entry.key}
      data-present={entry.present === null ? 'unknown' : String(entry.present)}
      data-markers={markers.length}
    >
      <header className="flex flex-wrap items-start justify-between gap-3">
        <div className="flex min-w-0 items-center gap-3">
          <div
            className={`num grid size-10 shrink-0 place-items-center rounded-xl text-lg font-bold ring-1 ring-white/15 ${
              gone ? 'bg-white/5 text-ink-2' : 'bg-gradient-to-br from-neon-violet/40 to-neon-cyan/25 text-ink'
            }`}
            aria-hidden="true"
          >
            {entry.index ?? '?'}
          </div>
          <div className="min-w-0">
            <h3 id={titleId} className="line-clamp-2 font-display text-lg font-semibold leading-tight break-words">
              <span className="sr-only">{label}: </span>
              {name}
            </h3>
            <p className="num truncate text-xs text-ink-3" title={entry.key}>
              {shortUuid(entry.key) ?? entry.key}
            </p>
          </div>
        </div>
        {gone && entry.series && (
          <span
            className="inline-flex items-center gap-1.5 rounded-full border border-unknown/60 bg-unknown/15 px-2.5 py-1 text-xs font-semibold text-unknown-ink"
            data-testid="gpu-gone"
          >
            <Unplug size={14} aria-hidden="true" />
            Not present now · last seen {formatMoment(entry.series.lastSeen)}
          </span>
        )}
      </header>
      {charts === null ? (
        <p className="rounded-xl border border-white/[0.06] bg-white/[0.03] p-4 text-sm text-ink-2">
          No history stored for this GPU yet: it appears as soon as gpulens has written its first samples.
        </p>
      ) : (
        <div className="grid grid-cols-1 gap-x-5 gap-y-4 @[34rem]:grid-cols-2">
          {CHART_METRICS.map((metric) => (
            <HistoryChart
              key={metric}
              data={charts[metric]}
              fromMs={fromMs}
              toMs={toMs}
              stepMs={step * 1000}
              summary={summariseChart(charts[metric], label, rangeText)}
              thresholds={thresholds}
              onZoom={onZoom}
              markers={markers}
            />
          ))}
        </div>
      )}
    </article>
  );
}

export const HistoryCard = memo(HistoryCardImpl);
