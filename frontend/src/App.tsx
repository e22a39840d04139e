import { lazy, Suspense, useEffect, useMemo } from 'react';
import { Dashboard } from './components/Dashboard';
import { HistorySkeleton } from './components/history/HistorySkeleton';
import { LazyBoundary } from './components/LazyBoundary';
import { useRange } from './hooks/useRange';
import type { LiveGpuRef } from './lib/history';
import { useGpuStream } from './stream/useGpuStream';

// The past view (Recharts, the history validator) is a chunk of its own, fetched
// the first time a past range is opened: the live view never downloads it. A
// pointer over (or focus into) the range control starts the download early, so
// the click that follows rarely waits for it.
const loadHistoryPage = () => import('./HistoryPage');
const HistoryPage = lazy(loadHistoryPage);

function useHistoryPrefetchOnIntent(): void {
  useEffect(() => {
    const intent = (event: Event) => {
      if (!(event.target instanceof Element) || !event.target.closest('[data-testid="range-control"]')) return;
      document.removeEventListener('pointerover', intent);
      document.removeEventListener('focusin', intent);
      void loadHistoryPage();
    };
    document.addEventListener('pointerover', intent);
    document.addEventListener('focusin', intent);
    return () => {
      document.removeEventListener('pointerover', intent);
      document.removeEventListener('focusin', intent);
    };
  }, []);
}

const SEP = '\u0000';

export function App() {
  const stream = useGpuStream();
  const [range, setRange] = useRange();
  useHistoryPrefetchOnIntent();
  // The live GPUs (order, keys, names) for the past view's cards: a new list only when one of them changes.
  const liveText = stream.hasSample ? stream.gpus.map((e) => [e.key, e.gpu.id, e.gpu.name].join(SEP)).join('\n') : null;
  const live = useMemo<LiveGpuRef[] | null>(
    () =>
      liveText === null
        ? null
        : liveText
            .split('\n')
            .filter(Boolean)
            .map((line) => {
              const [key = '', id = '0', name = ''] = line.split(SEP);
              return { key, id: Number(id), name };
            }),
    [liveText],
  );
  const thresholds = stream.config?.temperatureThresholds ?? null;
  const past =
    range.kind === 'live' ? null : (
      <LazyBoundary what="history view">
        <Suspense fallback={<HistorySkeleton cards={Math.max(1, live?.length ?? 2)} />}>
          <HistoryPage range={range} live={live} thresholds={thresholds} onRange={setRange} />
        </Suspense>
      </LazyBoundary>
    );
  return <Dashboard {...stream} range={range} onRangeChange={setRange} past={past} />;
}
