import { Activity, History, Server, Timer, Wifi, WifiOff } from 'lucide-react';
import { memo, useContext } from 'react';
import { pollRate, sourceLabel } from '../lib/format';
import type { TimeRange } from '../lib/range';
import type { ConnectionState } from '../api/view';
import { NotificationsMenu } from './NotificationsMenu';
import { RangeControl } from './RangeControl';
import { ViewSwitch } from './ViewSwitch';
import { ViewSwitchContext } from './ViewSwitchContext';

interface TopNavProps {
  hostname: string | null;
  connection: ConnectionState;
  source: string | null;
  hasSample: boolean;
  pollIntervalMs: number | null;
  version: string | null;
  /** The time range (live or past) and how to change it; no control without them. */
  range?: TimeRange;
  onRangeChange?: (range: TimeRange) => void;
}

const CONNECTION = {
  live: { text: 'Live', Icon: Activity, cls: 'border-ok/40 bg-ok/10 text-ok-ink', dot: 'bg-ok' },
  connecting: { text: 'Connecting', Icon: Wifi, cls: 'border-line-strong bg-white/5 text-ink-2', dot: 'bg-unknown' },
  reconnecting: { text: 'Reconnecting', Icon: Wifi, cls: 'border-warn/50 bg-warn/10 text-warn-ink', dot: 'bg-warn' },
  offline: { text: 'Offline', Icon: WifiOff, cls: 'border-hot/50 bg-hot/10 text-hot-ink', dot: 'bg-hot' },
} as const;

const pill = 'items-center gap-1.5 whitespace-nowrap rounded-full border px-2.5 py-1 text-xs font-semibold sm:text-sm';

function BrandMark() {
  return (
    <svg viewBox="0 0 32 32" className="size-8 shrink-0" aria-hidden="true">
      <defs>
        <linearGradient id="brand-mark" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0%" stopColor="#7c3aed" />
          <stop offset="55%" stopColor="#d946ef" />
          <stop offset="100%" stopColor="#22d3ee" />
        </linearGradient>
      </defs>
      <rect x="1" y="1" width="30" height="30" rx="9" fill="url(#brand-mark)" />
      <rect x="1.5" y="1.5" width="29" height="29" rx="8.5" fill="none" stroke="rgb(255 255 255 / 0.35)" />
      <path
        d="M6 18.5h4.2l2.6-7 4.4 12 3-8.5 1.6 3.5H26"
        fill="none"
        stroke="#fff"
        strokeWidth="2.4"
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}

function TopNavImpl({ hostname, connection, source, hasSample, pollIntervalMs, version, range, onRangeChange }: TopNavProps) {
  const c = CONNECTION[connection];
  // The view switch (GPUs · Usage · Events) comes from App through a context: there is none without one.
  const views = useContext(ViewSwitchContext);
  const replay = source === 'replay';
  return (
    <header className="sticky top-0 z-20 border-b border-white/[0.07] bg-canvas/70 backdrop-blur-xl">
      <nav aria-label="gpulens" className="mx-auto flex max-w-[1920px] flex-wrap items-center gap-3 px-4 py-3 sm:px-6 lg:px-8">
        <a href="/" className="flex items-center gap-2.5 rounded-lg">
          <BrandMark />
          <span className="font-display text-xl font-bold tracking-tight">gpulens</span>
        </a>
        {hostname && (
          <span className="hidden min-w-0 items-center gap-1.5 truncate rounded-full border border-line bg-white/5 px-2.5 py-1 text-sm text-ink-2 md:inline-flex" title={`Host ${hostname}`}>
            <Server size={14} aria-hidden="true" />
            <span className="truncate">{hostname}</span>
          </span>
        )}
        {((range && onRangeChange) || views) && (
          // Their own row under the brand below 1280 px (each full width below 640 px); in the bar beside the host name above.
          <div className="order-last flex basis-full flex-col gap-2 sm:flex-row sm:flex-wrap sm:items-center xl:order-none xl:ml-2 xl:basis-auto">
            {views && <ViewSwitch view={views.view} onChange={views.onChange} fleet={views.fleet} />}
            {range && onRangeChange && <RangeControl range={range} onChange={onRangeChange} />}
          </div>
        )}
        <div className="ml-auto flex items-center gap-2">
          {hasSample && (
            <span
              className={`${pill} inline-flex ${replay ? 'border-replay-ink/60 bg-warn/15 text-replay-ink' : 'border-line-strong bg-white/5 text-ink-2'}`}
              title={replay ? 'Recorded demo data, not this machine' : `GPU source: ${sourceLabel(source)}`}
              data-testid="source-pill"
            >
              {replay ? <History size={14} aria-hidden="true" /> : null}
              <span className="sr-only">GPU source: </span>
              {sourceLabel(source)}
            </span>
          )}
          {pollIntervalMs !== null && (
            <span className={`${pill} hidden border-line-strong bg-white/5 text-ink-2 sm:inline-flex`} title={`Sampling every ${pollIntervalMs} ms`}>
              <Timer size={14} aria-hidden="true" />
              <span className="sr-only">Poll rate: </span>
              {pollRate(pollIntervalMs)}
            </span>
          )}
          <NotificationsMenu />
          <span className={`${pill} inline-flex ${c.cls}`} data-testid="connection-pill" data-state={connection}>
            <span className="relative flex size-2" aria-hidden="true">
              <span className={`size-2 rounded-full ${c.dot}`} />
            </span>
            <c.Icon size={14} aria-hidden="true" className="hidden sm:block" />
            <span className="sr-only">Connection: </span>
            {c.text}
          </span>
          {version && <span className="hidden text-xs text-ink-3 xl:inline">v{version}</span>}
        </div>
      </nav>
    </header>
  );
}

export const TopNav = memo(TopNavImpl);
