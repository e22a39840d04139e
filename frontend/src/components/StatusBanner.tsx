import { History, RefreshCw, TriangleAlert, WifiOff } from 'lucide-react';
import type { ReactNode } from 'react';
import type { Status } from '../api/types';
import { useNow } from '../hooks/useNow';
import { ago } from '../lib/format';
import type { ConnectionState } from '../api/view';

interface StatusBannerProps {
  connection: ConnectionState;
  lastSampleAt: number | null;
  nextRetryAt: number | null;
  failures: number;
  serverError: { code: string; message: string } | null;
  source: string | null;
  status: Status | null;
  onReconnect: () => void;
}

const TONE = {
  hot: 'border-hot/40 bg-hot/[0.09]',
  warn: 'border-warn/40 bg-warn/[0.08]',
  replay: 'border-replay-ink/35 bg-gradient-to-r from-warn/[0.10] via-neon-fuchsia/[0.06] to-transparent',
};

function Bar({ tone, icon, title, children, action, testId, compact = false }: {
  tone: keyof typeof TONE;
  /** Keep it to the title line on phones. */
  compact?: boolean;
  icon: ReactNode;
  title: string;
  children?: ReactNode;
  action?: ReactNode;
  testId: string;
}) {
  return (
    <div
      className={`flex flex-col gap-3 rounded-2xl border px-4 py-3 backdrop-blur-md sm:flex-row sm:items-center sm:gap-4 ${TONE[tone]}`}
      data-testid={testId}
    >
      <div className="flex min-w-0 flex-1 items-start gap-3 sm:items-center">
        <span className="mt-0.5 shrink-0 sm:mt-0">{icon}</span>
        <div className="min-w-0">
          <p className="font-display text-base font-semibold text-ink wrap-anywhere">{title}</p>
          {/* Reasons come from the server and can be long, unbroken text: wrap anywhere rather than overflow. */}
          {children && <p className={`text-sm text-ink-2 wrap-anywhere ${compact ? 'hidden sm:block' : ''}`}>{children}</p>}
        </div>
      </div>
      {action}
    </div>
  );
}

function ConnectionBar({ connection, lastSampleAt, nextRetryAt, failures, serverError, onReconnect }: StatusBannerProps) {
  const now = useNow(1000, true);
  const offline = connection === 'offline';
  const since = lastSampleAt === null ? 'no sample received yet' : `last sample ${ago(now - lastSampleAt)}`;
  const retry =
    nextRetryAt === null
      ? 'trying now'
      : `retrying in ${Math.max(0, Math.ceil((nextRetryAt - now) / 1000))} s`;
  return (
    <Bar
      tone={offline ? 'hot' : 'warn'}
      testId="connection-banner"
      icon={
        offline ? (
          <WifiOff size={22} className="text-hot-ink" aria-hidden="true" />
        ) : (
          <RefreshCw size={22} className="text-warn-ink" aria-hidden="true" />
        )
      }
      title={offline ? 'Backend unreachable' : 'Connection lost — reconnecting…'}
      action={
        <button
          type="button"
          onClick={onReconnect}
          className="inline-flex shrink-0 items-center justify-center gap-2 rounded-xl border border-white/15 bg-white/10 px-4 py-2 text-sm font-semibold text-ink transition-colors hover:bg-white/15"
        >
          <RefreshCw size={16} aria-hidden="true" /> Reconnect
        </button>
      }
    >
      {serverError ? `Server said: ${serverError.message} · ` : ''}
      <span className="num">
        {since} · {retry}
        {failures > 1 ? ` · attempt ${failures}` : ''}
      </span>
      {offline && lastSampleAt !== null ? ' · numbers below are stale' : ''}
    </Bar>
  );
}

/** One banner slot above the hero: link trouble first, then provider state, then replay. */
export function StatusBanner(props: StatusBannerProps) {
  const { connection, source, status } = props;
  const bars: ReactNode[] = [];
  if (connection === 'offline' || connection === 'reconnecting') {
    bars.push(<ConnectionBar key="conn" {...props} />);
  }
  if (connection === 'live' && status && status.state !== 'ok' && status.provider !== null) {
    bars.push(
      <Bar
        key="status"
        tone="warn"
        testId="provider-banner"
        icon={<TriangleAlert size={22} className="text-warn-ink" aria-hidden="true" />}
        title={`GPU source ${status.provider} is ${status.state}`}
      >
        {status.reason ?? 'Readings may be missing or late.'}
      </Bar>,
    );
  }
  if (source === 'replay') {
    bars.push(
      <Bar
        key="replay"
        tone="replay"
        testId="replay-banner"
        compact
        icon={<History size={22} className="text-replay-ink" aria-hidden="true" />}
        title="REPLAY · recorded demo data"
      >
        These GPUs are a recording played back in a loop, not this machine&rsquo;s hardware.
      </Bar>,
    );
  }
  if (bars.length === 0) return null;
  return <div className="flex flex-col gap-3">{bars}</div>;
}
