import { lazy, Suspense, useMemo } from 'react';
import { Dashboard } from './components/Dashboard';
import { HistorySkeleton } from './components/history/HistorySkeleton';
import { LazyBoundary } from './components/LazyBoundary';
import { useRange } from './hooks/useRange';
import type { LiveGpuRef } from './lib/history';
import { useGpuStream } from './stream/useGpuStream';

// The past view (Recharts, the history validator) is a chunk of its own, fetched
// the first time a past range is opened: the live view never downloads it.
const HistoryPage = lazy(() => import('./HistoryPage'));

const SEP = '\u0000';

export function App() {
  const stream = useGpuStream();
  const [range, setRange] = useRange();
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
