import { PlugZap } from 'lucide-react';
import { LazyMotion, MotionConfig, domAnimation } from 'motion/react';
import { useMemo, type ReactNode } from 'react';
import { sourceLabel } from '../lib/format';
import type { TimeRange } from '../lib/range';
import type { GpuStream } from '../api/view';
import { useDensity } from '../hooks/useDensity';
import { GpuGrid } from './GpuGrid';
import { FindingsStrip } from './FindingsStrip';
import { Hero } from './Hero';
import { LiveRegion } from './LiveRegion';
import { NoGpuPanel } from './NoGpuPanel';
import { EventNotifications } from './NotificationsMenu';
import { DashboardSkeleton } from './Skeletons';
import { StatusBanner } from './StatusBanner';
import { SystemStrip } from './SystemStrip';
import { TopNav } from './TopNav';

function Unreachable() {
  return (
    <section className="glass rounded-3xl p-8 text-center" data-testid="unreachable-panel">
      <PlugZap size={36} aria-hidden="true" className="mx-auto text-hot-ink" />
      <h2 className="mt-3 font-display text-2xl font-semibold">Waiting for the gpulens backend</h2>
      <p className="mx-auto mt-2 max-w-xl text-ink-2">
        This page streams from <code className="text-ink">/ws/gpu</code> on the server that served it. Check that{' '}
        <code className="text-ink">gpulens serve</code> is running; the page keeps retrying on its own.
      </p>
    </section>
  );
}

interface PastProps {
  /** The time range in the top bar (live or past) and how to change it. */
  range?: TimeRange;
  onRangeChange?: (range: TimeRange) => void;
  /** The past view, shown instead of the live one when a past range is chosen. */
  past?: ReactNode;
  /** Who is signed in, and Sign out (issue 17), for the footer; nothing when access is open. */
  account?: ReactNode;
}

/** The whole page, from plain data: the stream state and a reconnect callback (and the past view, when asked for). */
export function Dashboard({ range, onRangeChange, past, account, ...stream }: GpuStream & PastProps) {
  const { config, connection, gpus, system, source, hasSample, unavailable } = stream;
  const gpuList = useMemo(() => gpus.map((e) => e.gpu), [gpus]);
  const [density, setDensity] = useDensity();
  const stale = (connection === 'offline' || connection === 'reconnecting') && !past;

  let body;
  if (past) {
    // The past comes over HTTP: it does not wait for the stream.
    body = past;
  } else if (!hasSample || config === null) {
    // Thresholds come from hello.config only: until the first hello, no GPU is shown.
    body = connection === 'offline' ? <Unreachable /> : <DashboardSkeleton />;
  } else if (gpus.length === 0) {
    body = (
      <>
        {source === null ? (
          <NoGpuPanel unavailable={unavailable} />
        ) : (
          <section className="glass rounded-3xl p-8" data-testid="no-gpu-listed">
            <h2 className="font-display text-2xl font-semibold">No GPUs listed</h2>
            <p className="mt-2 text-ink-2">{sourceLabel(source)} answered but reported no GPU.</p>
          </section>
        )}
        {system && <SystemStrip system={system} />}
      </>
    );
  } else {
    body = (
      <>
        <Hero
          gpus={gpuList}
          thresholds={config.temperatureThresholds}
          busyUtilization={config.busyUtilization}
          compact={density === 'compact'}
        />
        {system && <SystemStrip system={system} compact={density === 'compact'} />}
        <GpuGrid
          gpus={gpus}
          thresholds={config.temperatureThresholds}
          busyUtilization={config.busyUtilization}
          density={density}
          onDensityChange={setDensity}
        />
      </>
    );
  }

  return (
    <LazyMotion features={domAnimation} strict>
      <MotionConfig reducedMotion="user">
        <div className="backdrop" aria-hidden="true" />
        <TopNav
          hostname={config?.hostname ?? null}
          connection={connection}
          source={source}
          hasSample={hasSample}
          pollIntervalMs={config?.pollIntervalMs ?? null}
          version={config?.version ?? null}
          range={range}
          onRangeChange={onRangeChange}
        />
        <main
          className={`mx-auto flex max-w-[1920px] flex-col gap-4 px-4 py-5 transition-[opacity,filter] duration-300 sm:px-6 lg:px-8 ${density === 'compact' ? 'lg:gap-4 lg:py-5' : 'lg:gap-5 lg:py-7'} ${
            stale && hasSample ? 'data-stale' : ''
          }`}
          data-connection={connection}
        >
          <h1 className="sr-only">gpulens: GPU dashboard{config ? ` for ${config.hostname}` : ''}</h1>
          <StatusBanner
            connection={connection}
            lastSampleAt={stream.lastSampleAt}
            nextRetryAt={stream.nextRetryAt}
            failures={stream.failures}
            serverError={stream.serverError}
            source={source}
            status={stream.status}
            onReconnect={stream.reconnectNow}
          />
          {!past && <FindingsStrip findings={stream.findings} />}
          <div className={`flex flex-col gap-4 ${density === 'compact' ? '' : 'lg:gap-5'} ${stale && hasSample ? 'opacity-70 saturate-50' : ''}`}>{body}</div>
        </main>
        <footer className="mx-auto max-w-[1920px] px-4 pb-8 text-xs text-ink-3 sm:px-6 lg:px-8">
          gpulens{config ? ` ${config.version}` : ''} · telemetry streams from this host only
          {account && <> · {account}</>}
          {stream.invalidMessages > 0 && (
            <span className="text-warn-ink" title={stream.lastInvalid ?? undefined}>
              {' '}
              · {stream.invalidMessages} malformed message{stream.invalidMessages === 1 ? '' : 's'} ignored
            </span>
          )}
        </footer>
        <LiveRegion connection={connection} lastEvent={stream.lastEvent} findings={stream.findings} />
        <EventNotifications events={stream.events} helloEventIds={stream.helloEventIds} />
      </MotionConfig>
    </LazyMotion>
  );
}
