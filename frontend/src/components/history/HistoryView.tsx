import { CircleOff, Download, History as HistoryIcon, PauseCircle, RotateCw, TriangleAlert } from 'lucide-react';
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import type { HistoryResponse } from '../../api/history.gen';
import type { Event as LensEvent, TemperatureThresholds } from '../../api/types';
import type { HistoryState } from '../../hooks/useHistory';
import { findGaps, isEmpty, orderCards, type LiveGpuRef } from '../../lib/history';
import { gridColumns } from '../../lib/layout';
import { describeRange, formatMoment, formatSpan, type TimeRange } from '../../lib/range';
import { createCrosshair, CrosshairContext } from './crosshair';
import { HistoryCard } from './HistoryCard';
import { HistorySkeleton } from './HistorySkeleton';
import { cardMarkers, type ChartMarker } from './markers';

const NO_CARD_MARKERS: ReadonlyMap<string, readonly ChartMarker[]> = new Map();

export interface HistoryViewProps {
  range: TimeRange;
  history: HistoryState;
  /** The GPUs of the live view, in its order; null until the stream has said. */
  live: readonly LiveGpuRef[] | null;
  thresholds: TemperatureThresholds | null;
  /** The CSV download of the range on screen. */
  csvHref: string | null;
  onRange: (range: TimeRange) => void;
  onRetry: () => void;
  /**
   * The stored events of the range, drawn as markers on the charts; null when
   * there are none to draw (not asked, still loading, or the answer failed:
   * the charts are the same without them).
   */
  events?: { readonly events: readonly LensEvent[]; readonly total: number } | null;
}

const button =
  'inline-flex h-9 items-center gap-1.5 whitespace-nowrap rounded-lg border px-3 text-sm font-semibold transition-colors duration-150';
const quiet = `${button} border-line-strong bg-white/5 text-ink hover:bg-white/10`;

function BackToLive({ onLive }: { onLive: () => void }) {
  return (
    <button type="button" className={quiet} onClick={onLive}>
      <span className="size-1.5 rounded-full bg-ok" aria-hidden="true" />
      Back to live
    </button>
  );
}

function Panel({ icon, title, children, tone = 'neutral', testId, role }: {
  icon: ReactNode;
  title: string;
  children: ReactNode;
  tone?: 'neutral' | 'error';
  testId: string;
  role?: 'alert';
}) {
  return (
    <section
      className={`glass rounded-3xl p-6 sm:p-8 ${tone === 'error' ? 'border-hot/40' : ''}`}
      data-testid={testId}
      role={role}
    >
      <div className="flex items-start gap-4">
        <div className={`mt-0.5 shrink-0 ${tone === 'error' ? 'text-hot-ink' : 'text-violet-ink'}`}>{icon}</div>
        <div className="min-w-0">
          <h2 className="font-display text-2xl font-semibold">{title}</h2>
          <div className="mt-2 flex flex-col gap-3 text-ink-2">{children}</div>
        </div>
      </div>
    </section>
  );
}

/** "one point per 2 min", "every sample" */
function resolution(data: HistoryResponse): string {
  return data.resolution === 0 && data.step <= 1 ? 'every sample' : `one point per ${formatSpan(data.step)}`;
}

function Toolbar({ range, data, csvHref, onLive, busy }: {
  range: TimeRange;
  data: HistoryResponse;
  csvHref: string | null;
  onLive: () => void;
  busy: boolean;
}) {
  return (
    <div className="glass flex flex-wrap items-center justify-between gap-x-4 gap-y-3 rounded-2xl px-4 py-3 sm:px-5">
      <div className="min-w-0">
        <h2 className="flex items-center gap-2 font-display text-lg font-semibold sm:text-xl">
          <HistoryIcon size={18} aria-hidden="true" className="shrink-0 text-violet-ink" />
          <span className="min-w-0">History: {describeRange(range)}</span>
        </h2>
        <p className="num mt-0.5 text-sm text-ink-2" data-testid="history-span">
          <span className="whitespace-nowrap">{formatMoment(data.from)} →</span>{' '}
          <span className="whitespace-nowrap">{formatMoment(data.to)} ·</span>{' '}
          <span className="whitespace-nowrap">{resolution(data)}</span>
          <span className="hidden text-ink-3 md:inline"> · drag across a chart to zoom</span>
        </p>
      </div>
      <div className="flex items-center gap-2">
        {busy && (
          <span className="inline-flex items-center gap-1.5 text-sm text-ink-3">
            <RotateCw size={14} aria-hidden="true" className="animate-spin motion-reduce:animate-none" /> Loading
          </span>
        )}
        {csvHref && (
          <a href={csvHref} download className={quiet} data-testid="export-csv">
            <Download size={15} aria-hidden="true" />
            Export CSV
          </a>
        )}
        <BackToLive onLive={onLive} />
      </div>
    </div>
  );
}

/** True when some GPU has a stretch without data between two with data (drawn hatched). */
function hasGaps(data: HistoryResponse): boolean {
  return data.series.some(
    (s) => s.kind === 'gpu' && Object.values(s.values).some((stats) => findGaps(data.times, stats.mean, data.step).length > 0),
  );
}

function Notices({ data }: { data: HistoryResponse }) {
  const notes: ReactNode[] = [];
  if (data.status.state === 'paused') {
    notes.push(
      <p
        key="paused"
        className="flex items-start gap-2 rounded-xl border border-warn/40 bg-warn/10 px-4 py-3 text-sm text-warn-ink"
        data-testid="history-paused"
      >
        <PauseCircle size={16} aria-hidden="true" className="mt-0.5 shrink-0" />
        <span className="wrap-anywhere">
          Recording is paused: {data.status.reason ?? 'the store cannot be written'}. What was stored before is shown;
          new samples wait in memory and are written when it can.
        </span>
      </p>,
    );
  }
  if (data.earliest !== null && data.earliest > data.from) {
    notes.push(
      <p
        key="earliest"
        className="rounded-xl border border-white/10 bg-white/[0.04] px-4 py-3 text-sm text-ink-2"
        data-testid="history-earliest"
      >
        No history before {formatMoment(data.earliest)}: gpulens was not running.
      </p>,
    );
  }
  if (hasGaps(data)) {
    notes.push(
      <p key="gaps" className="flex items-center gap-2.5 px-1 text-sm text-ink-2" data-testid="history-gaps">
        <svg width="22" height="14" aria-hidden="true" className="shrink-0 rounded-sm border border-dashed border-slate-400/50">
          <defs>
            <pattern id="legend-gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <rect width="2.5" height="6" fill="rgb(148 163 184 / 0.5)" />
            </pattern>
          </defs>
          <rect width="22" height="14" fill="url(#legend-gap)" />
        </svg>
        Hatched: no data. gpulens was not running, or the GPU was missing or failing.
      </p>,
    );
  }
  return notes.length === 0 ? null : <div className="flex flex-col gap-2">{notes}</div>;
}

function Empty({ data, onLive }: { data: HistoryResponse; onLive: () => void }) {
  const paused = data.status.state === 'paused' ? ` Recording is paused: ${data.status.reason ?? 'the store cannot be written'}.` : '';
  const text =
    data.earliest === null
      ? `gpulens has not stored any sample yet.${paused}`
      : data.earliest >= data.to
        ? `No history before ${formatMoment(data.earliest)}: gpulens was not running.${paused}`
        : `gpulens was not running, or no GPU was present, from ${formatMoment(data.from)} to ${formatMoment(data.to)}. Its history starts ${formatMoment(data.earliest)}.${paused}`;
  return (
    <Panel icon={<CircleOff size={28} aria-hidden="true" />} title={data.earliest === null ? 'No history yet' : 'Nothing recorded in this range'} testId="history-empty">
      <p>{text}</p>
      <div>
        <BackToLive onLive={onLive} />
      </div>
    </Panel>
  );
}

/**
 * The past: one card per GPU with its charts over the range, or the state
 * the answer is in (loading, empty, off, error). Everything here comes in a
 * chunk of its own, loaded when a past range is first opened.
 */
export function HistoryView({ range, history, live, thresholds, csvHref, onRange, onRetry, events = null }: HistoryViewProps) {
  const [crosshair] = useState(createCrosshair);
  const onLive = useCallback(() => onRange({ kind: 'live' }), [onRange]);
  const onZoom = useCallback((from: number, to: number) => onRange({ kind: 'custom', from, to }), [onRange]);
  const data = history.state === 'ok' ? history.data : history.state === 'loading' ? history.previous : null;
  const busy = history.state === 'loading';
  const cards = useMemo(() => (data === null ? [] : orderCards(data, live)), [data, live]);
  const markers = useMemo(
    () => (data === null ? NO_CARD_MARKERS : cardMarkers(events?.events ?? null, cards, data.from * 1000, data.to * 1000)),
    [data, cards, events],
  );
  const rangeText = describeRange(range);

  let body: ReactNode;
  let said: string;
  if (history.state === 'error') {
    const { error } = history;
    said = error.kind === 'off' ? 'History is off.' : `Could not load the history: ${error.message}`;
    body =
      error.kind === 'off' ? (
        <Panel icon={<CircleOff size={28} aria-hidden="true" />} title="History is off" testId="history-off">
          <p>
            This gpulens server keeps no history (<code className="text-ink">{error.message}</code>). The live view
            works as usual; to keep the past, start it without <code className="text-ink">HISTORY=off</code>.
          </p>
          <div>
            <BackToLive onLive={onLive} />
          </div>
        </Panel>
      ) : (
        <Panel
          icon={<TriangleAlert size={28} aria-hidden="true" />}
          title="Could not load the history"
          tone="error"
          testId="history-error"
          role="alert"
        >
          <p className="text-ink wrap-anywhere" data-testid="history-error-message">
            {error.message}
          </p>
          <div className="flex flex-wrap gap-2">
            <button type="button" className={quiet} onClick={onRetry}>
              <RotateCw size={15} aria-hidden="true" /> Try again
            </button>
            <BackToLive onLive={onLive} />
          </div>
        </Panel>
      );
  } else if (data === null) {
    said = 'Loading the history.';
    body = <HistorySkeleton cards={Math.max(1, live?.length ?? 2)} />;
  } else {
    const empty = isEmpty(data);
    said = busy
      ? 'Loading the history.'
      : empty
        ? 'No history in this range.'
        : `History loaded: ${cards.length} GPU${cards.length === 1 ? '' : 's'}, ${rangeText}.`;
    body = (
      <>
        <Toolbar range={range} data={data} csvHref={busy ? null : csvHref} onLive={onLive} busy={busy} />
        <Notices data={data} />
        {!empty && events !== null && events.total > events.events.length && (
          <p className="px-1 text-sm text-ink-2" data-testid="history-events-capped">
            The charts mark the newest {events.events.length} of the {events.total} events in this range; the Events view lists
            them all.
          </p>
        )}
        {empty ? (
          <Empty data={data} onLive={onLive} />
        ) : (
          <CrosshairContext.Provider value={crosshair}>
            <div
              className={`grid gap-4 lg:gap-5 ${gridColumns(cards.length)} transition-opacity duration-200 ${busy ? 'pointer-events-none opacity-50' : ''}`}
              data-testid="history-grid"
              data-from={data.from}
              data-to={data.to}
            >
              {cards.map((entry) => (
                <HistoryCard
                  key={entry.key}
                  entry={entry}
                  times={data.times}
                  step={data.step}
                  fromMs={data.from * 1000}
                  toMs={data.to * 1000}
                  rangeText={rangeText}
                  thresholds={thresholds}
                  onZoom={onZoom}
                  markers={markers.get(entry.key)}
                />
              ))}
            </div>
          </CrosshairContext.Provider>
        )}
      </>
    );
  }

  return (
    <section
      aria-label="History"
      aria-busy={busy}
      className="flex flex-col gap-4 lg:gap-5"
      data-testid="history-view"
      data-state={history.state}
    >
      {body}
      <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="history-status">
        {said}
      </div>
    </section>
  );
}
