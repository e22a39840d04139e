import { Fragment, lazy, Suspense, useCallback, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react';
import { accessSignal } from './api/access';
import { endSession, showsAccount } from './api/session';
import { Dashboard } from './components/Dashboard';
import { HistorySkeleton } from './components/history/HistorySkeleton';
import { LazyBoundary } from './components/LazyBoundary';
import { UsageSkeleton } from './components/usage/UsageSkeleton';
import { ViewSwitchContext } from './components/ViewSwitchContext';
import { useRange } from './hooks/useRange';
import { useSession } from './hooks/useSession';
import { useView } from './hooks/useView';
import type { LiveGpuRef } from './lib/history';
import { useGpuStream } from './stream/useGpuStream';

// The past view (Recharts, the history validator), the usage view and the
// events view are chunks of their own, fetched the first time one is opened:
// the live view never downloads them. A pointer over (or focus into) the
// range control or the view switch starts the download early, so the click
// that follows rarely waits for it.
const loadHistoryPage = () => import('./HistoryPage');
const HistoryPage = lazy(loadHistoryPage);
const loadUsagePage = () => import('./UsagePage');
const UsagePage = lazy(loadUsagePage);
const loadEventsView = () => import('./components/events/EventsView');
const EventsView = lazy(() => loadEventsView().then((m) => ({ default: m.EventsView })));
const loadFleetPage = () => import('./FleetPage');
const FleetPage = lazy(loadFleetPage);
// The token prompt (issue 17): only when the server refused the page, so open access costs nothing.
const SignIn = lazy(() => import('./SignIn'));
// "Signed in as …" / "Sign out" in the footer: only where access is required, so a chunk of its own too.
const AccountStatus = lazy(() => import('./components/AccountStatus').then((m) => ({ default: m.AccountStatus })));

function usePrefetchOnIntent(): void {
  useEffect(() => {
    const wanted = new Map<string, () => Promise<unknown>>([
      ['[data-testid="range-control"]', loadHistoryPage],
      ['[data-testid="view-switch"] [data-value="usage"]', loadUsagePage],
      ['[data-testid="view-switch"] [data-value="events"]', loadEventsView],
      ['[data-testid="view-switch"] [data-value="fleet"]', loadFleetPage],
    ]);
    const stop = () => {
      document.removeEventListener('pointerover', intent);
      document.removeEventListener('focusin', intent);
    };
    function intent(event: Event) {
      if (!(event.target instanceof Element)) return;
      for (const [selector, load] of wanted) {
        if (event.target.closest(selector) === null) continue;
        wanted.delete(selector);
        void load().catch(() => {
          /* the view's own boundary reports it when it is opened */
        });
      }
      if (wanted.size === 0) stop();
    }
    document.addEventListener('pointerover', intent);
    document.addEventListener('focusin', intent);
    return stop;
  }, []);
}

const SEP = '\u0000';
/** Until the hello brings the server's own (the fleet view can open before it). */
const DEFAULT_THRESHOLDS = { warn: 70, hot: 85 };

export function App() {
  const stream = useGpuStream();
  const { reconnectNow, requireSignIn } = stream;
  // Refused by the stream (4401/4429) or by any /api request (401/429): one prompt for both.
  const fetchAccess = useSyncExternalStore(accessSignal.subscribe, accessSignal.get);
  const access = stream.access !== 'ok' ? stream.access : fetchAccess.state;
  // Bumped by each sign-in and sign-out: the views refetch, the footer asks who is signed in again.
  const [epoch, setEpoch] = useState(0);
  const session = useSession(stream.connection === 'live' && access === 'ok', epoch);
  const onSignedIn = useCallback(() => {
    accessSignal.clear();
    reconnectNow();
    setEpoch((e) => e + 1);
  }, [reconnectNow]);
  const onSignOut = useCallback(async () => {
    if (!(await endSession())) return false;
    requireSignIn();
    setEpoch((e) => e + 1);
    return true;
  }, [requireSignIn]);
  const [range, setRange] = useRange();
  const [asked, setView] = useView();
  usePrefetchOnIntent();
  const fleetOn = stream.config?.fleet === true;
  // ?view=fleet on a server without fleet mode is the GPUs (once the hello said so).
  const view = asked === 'fleet' && stream.config !== null && !fleetOn ? 'gpus' : asked;
  const views = useMemo(() => ({ view, onChange: setView, fleet: fleetOn }), [view, setView, fleetOn]);
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
  let past: ReactNode = null;
  if (view === 'usage') {
    past = (
      <LazyBoundary what="usage view">
        <Suspense fallback={<UsageSkeleton />}>
          <UsagePage range={range} />
        </Suspense>
      </LazyBoundary>
    );
  } else if (view === 'events') {
    past = (
      <LazyBoundary what="events view">
        <Suspense fallback={<UsageSkeleton />}>
          <EventsView range={range} liveEvents={stream.events} />
        </Suspense>
      </LazyBoundary>
    );
  } else if (view === 'fleet') {
    past = (
      <LazyBoundary what="fleet view">
        <Suspense fallback={<UsageSkeleton />}>
          <FleetPage fleet={stream.fleet} range={range} thresholds={thresholds ?? DEFAULT_THRESHOLDS} />
        </Suspense>
      </LazyBoundary>
    );
  } else if (range.kind !== 'live') {
    past = (
      <LazyBoundary what="history view">
        <Suspense fallback={<HistorySkeleton cards={Math.max(1, live?.length ?? 2)} />}>
          <HistoryPage range={range} live={live} thresholds={thresholds} onRange={setRange} />
        </Suspense>
      </LazyBoundary>
    );
  }
  return (
    <ViewSwitchContext.Provider value={views}>
      <Dashboard
        {...stream}
        range={range}
        onRangeChange={setRange}
        // A new key after a sign-in remounts the past view: it asks the server again, now with the cookie.
        past={past === null ? null : <Fragment key={epoch}>{past}</Fragment>}
        account={
          showsAccount(session) ? (
            <Suspense fallback={null}>
              <AccountStatus session={session} onSignOut={onSignOut} />
            </Suspense>
          ) : null
        }
      />
      {access !== 'ok' && (
        <LazyBoundary what="sign-in form">
          <Suspense fallback={null}>
            <SignIn reason={access} retryAfterS={fetchAccess.retryAfterS} onSignedIn={onSignedIn} />
          </Suspense>
        </LazyBoundary>
      )}
    </ViewSwitchContext.Provider>
  );
}
