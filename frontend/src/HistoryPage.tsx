/**
 * The past view, wired: fetches the range (validated, src/api/history.ts) and
 * its stored events (src/api/events.ts, drawn as markers), and renders them
 * (components/history). App.tsx loads this module with React.lazy, so it,
 * Recharts and the validators make a chunk of their own that the live view
 * never downloads.
 */
import { memo, useCallback, useMemo } from 'react';
import { fetchEvents } from './api/events';
import { HISTORY_METRICS, historyUrl } from './api/history';
import type { TemperatureThresholds } from './api/types';
import { HistoryView } from './components/history/HistoryView';
import { useAnswer, useHistory } from './hooks/useHistory';
import type { LiveGpuRef } from './lib/history';
import { rangeSearch, resolveRange, type TimeRange } from './lib/range';

/** The most events the charts mark: one request, the newest first. */
export const MARKER_LIMIT = 500;

export interface HistoryPageProps {
  range: TimeRange;
  live: readonly LiveGpuRef[] | null;
  thresholds: TemperatureThresholds | null;
  onRange: (range: TimeRange) => void;
}

function HistoryPage({ range, live, thresholds, onRange }: HistoryPageProps) {
  const key = rangeSearch(range);
  const resolve = useCallback(() => {
    const span = resolveRange(range, Date.now());
    return span === null ? null : { ...span, metrics: HISTORY_METRICS };
  }, [range]);
  const history = useHistory(key, resolve);
  // The events of the same range, asked beside it: a failed or missing answer (an older server, HISTORY=off) only means no markers.
  const resolveEvents = useCallback(() => {
    const span = resolveRange(range, Date.now());
    return span === null ? null : { ...span, limit: MARKER_LIMIT };
  }, [range]);
  const events = useAnswer(key, resolveEvents, fetchEvents);
  const eventsData = events.state === 'ok' ? events.data : null;
  const markers = useMemo(() => (eventsData === null ? null : { events: eventsData.events, total: eventsData.total }), [eventsData]);
  const { reload: reloadHistory } = history;
  const { reload: reloadEvents } = events;
  const retry = useCallback(() => {
    reloadHistory();
    reloadEvents();
  }, [reloadHistory, reloadEvents]);
  // The download is the range on screen, as the server answered it.
  const csvHref = history.state === 'ok' ? historyUrl({ from: history.data.from, to: history.data.to }, 'csv') : null;
  return (
    <HistoryView
      range={range}
      history={history}
      live={live}
      thresholds={thresholds}
      csvHref={csvHref}
      onRange={onRange}
      onRetry={retry}
      events={markers}
    />
  );
}

// Memoised: the live stream re-renders the page up to 5 times a second, the past does not change with it.
export default memo(HistoryPage);
