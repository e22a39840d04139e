/**
 * The past view, wired: fetches the range (validated, src/api/history.ts) and
 * renders it (components/history). App.tsx loads this module with
 * React.lazy, so it, Recharts and the history validator make a chunk of
 * their own that the live view never downloads.
 */
import { memo, useCallback } from 'react';
import { HISTORY_METRICS, historyUrl } from './api/history';
import type { TemperatureThresholds } from './api/types';
import { HistoryView } from './components/history/HistoryView';
import { useHistory } from './hooks/useHistory';
import type { LiveGpuRef } from './lib/history';
import { rangeSearch, resolveRange, type TimeRange } from './lib/range';

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
      onRetry={history.reload}
    />
  );
}

// Memoised: the live stream re-renders the page up to 5 times a second, the past does not change with it.
export default memo(HistoryPage);
