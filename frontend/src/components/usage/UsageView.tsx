import {
  BarChart3,
  Box,
  CircleOff,
  Cpu,
  Download,
  Info,
  ListTree,
  PauseCircle,
  RotateCw,
  Terminal,
  TriangleAlert,
  User,
} from 'lucide-react';
import { memo, useMemo, useState, type ReactNode } from 'react';
import type { UsageResponse } from '../../api/usage.gen';
import type { FetchFailure } from '../../api/fetchJson';
import { describeRange, formatMoment, type TimeRange } from '../../lib/range';
import {
  BY_NOUN,
  busiestUser,
  chartRows,
  DEFAULT_SORT,
  formatHours,
  rowName,
  usageTotals,
  type UsageBy,
  type UsageSort,
} from '../../lib/usage';
import { Segmented, type SegmentOption } from '../ViewSwitch';
import { UsageChart } from './UsageChart';
import { UsageSkeleton } from './UsageSkeleton';
import { UsageTable } from './UsageTable';

export type UsageViewState =
  | { readonly state: 'loading'; readonly previous: UsageResponse | null }
  | { readonly state: 'ok'; readonly data: UsageResponse }
  | { readonly state: 'error'; readonly error: FetchFailure };

export interface UsageViewProps {
  /** The range in the top bar (live included). */
  range: TimeRange;
  /** The range counted: the same, or the last 24 hours for live. */
  counted: TimeRange;
  by: UsageBy;
  onBy: (by: UsageBy) => void;
  usage: UsageViewState;
  /** The CSV download of the answer on screen. */
  csvHref: string | null;
  onRetry: () => void;
  /** A fixed chart width (tests). */
  chartWidth?: number;
}

const BY_OPTIONS: readonly SegmentOption<UsageBy>[] = [
  { value: 'user', label: 'User', Icon: User, title: 'Group by user' },
  { value: 'process', label: 'Process', Icon: Terminal, title: 'Group by process name' },
  { value: 'container', label: 'Container', Icon: Box, title: 'Group by container' },
  { value: 'gpu', label: 'GPU', Icon: Cpu, title: 'Group by GPU' },
  { value: 'session', label: 'Session', Icon: ListTree, title: 'One row per process session (pid and start time)' },
];

const quiet =
  'inline-flex h-9 items-center gap-1.5 whitespace-nowrap rounded-lg border border-line-strong bg-white/5 px-3 text-sm font-semibold text-ink transition-colors duration-150 hover:bg-white/10';

function Panel({ icon, title, children, tone = 'neutral', testId, role }: {
  icon: ReactNode;
  title: string;
  children: ReactNode;
  tone?: 'neutral' | 'error';
  testId: string;
  role?: 'alert';
}) {
  return (
    <section className={`glass rounded-3xl p-6 sm:p-8 ${tone === 'error' ? 'border-hot/40' : ''}`} data-testid={testId} role={role}>
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

function Stat({ label, value, unit, sub, testId }: { label: string; value: string; unit?: string; sub?: string; testId: string }) {
  return (
    <div className="glass flex min-w-0 flex-col gap-1 rounded-2xl p-4 sm:p-5" data-testid={testId}>
      <span className="label">{label}</span>
      {/* On a phone the unit goes under the number rather than cutting it short. */}
      <span className="flex min-w-0 flex-wrap items-baseline gap-x-1.5">
        <span className="num truncate font-display text-3xl font-bold leading-tight text-gradient sm:text-5xl xl:text-6xl" title={value}>
          {value}
        </span>
        {unit && <span className="text-sm font-semibold text-ink-2 sm:text-base">{unit}</span>}
      </span>
      {sub && <span className="num truncate text-sm text-ink-2" title={sub}>{sub}</span>}
    </div>
  );
}

function Hero({ data }: { data: UsageResponse }) {
  const totals = usageTotals(data);
  const user = busiestUser(data.rows, data.by);
  const top = data.rows.length === 0 ? null : [...data.rows].sort((a, b) => b.gpuHours - a.gpuHours)[0]!;
  const noun = BY_NOUN[data.by];
  // By user or session the hero names a user; by process, container or GPU the answer does not say who: it names the top row.
  const busiest =
    user !== null
      ? { label: 'Busiest user', name: user.name, hours: user.gpuHours }
      : top !== null && data.by !== 'user' && data.by !== 'session'
        ? { label: `Busiest ${noun.one}`, name: rowName(top, data.by), hours: top.gpuHours }
        : null;
  return (
    <section aria-label="Usage totals" className="grid grid-cols-2 gap-3 lg:grid-cols-4 lg:gap-4" data-testid="usage-hero">
      <Stat label="GPU-hours" value={formatHours(totals.gpuHours)} unit="GPU-h" testId="usage-total-gpu" />
      <Stat label="GiB-hours" value={formatHours(totals.gibHours)} unit="GiB-h" testId="usage-total-gib" />
      <Stat label="Sessions" value={totals.sessions.toLocaleString('en-US')} testId="usage-total-sessions" />
      <Stat
        label={busiest?.label ?? 'Busiest user'}
        value={busiest?.name ?? '—'}
        sub={busiest ? `${formatHours(busiest.hours)} GPU-h` : undefined}
        testId="usage-busiest"
      />
    </section>
  );
}

function Notices({ data }: { data: UsageResponse }) {
  const notes: ReactNode[] = [];
  if (data.truncated) {
    notes.push(
      <p key="truncated" className="flex items-start gap-2 rounded-xl border border-warn/40 bg-warn/10 px-4 py-3 text-sm text-warn-ink" data-testid="usage-truncated">
        <Info size={16} aria-hidden="true" className="mt-0.5 shrink-0" />
        <span>
          Only the {data.rows.length.toLocaleString('en-US')} most used {BY_NOUN[data.by].many} are listed: the least used were left
          out. Choose a shorter range or another grouping to see them.
        </span>
      </p>,
    );
  }
  if (data.status.state === 'paused') {
    notes.push(
      <p key="paused" className="flex items-start gap-2 rounded-xl border border-warn/40 bg-warn/10 px-4 py-3 text-sm text-warn-ink" data-testid="usage-paused">
        <PauseCircle size={16} aria-hidden="true" className="mt-0.5 shrink-0" />
        <span className="wrap-anywhere">
          Recording is paused: {data.status.reason ?? 'the store cannot be written'}. What was stored before is counted.
        </span>
      </p>,
    );
  }
  return notes.length === 0 ? null : <div className="flex flex-col gap-2">{notes}</div>;
}

/**
 * Who used the GPUs over the range: totals, a bar chart of the top rows and a
 * sortable table of all, grouped by user, process, container, GPU or session;
 * or the state the answer is in (loading, empty, off, error). A chunk of its
 * own (UsagePage), loaded when the view is first opened.
 */
function UsageViewImpl({ range, counted, by, onBy, usage, csvHref, onRetry, chartWidth }: UsageViewProps) {
  const [sort, setSort] = useState<UsageSort>(DEFAULT_SORT);
  const data = usage.state === 'ok' ? usage.data : usage.state === 'loading' ? usage.previous : null;
  const busy = usage.state === 'loading';
  const bars = useMemo(() => (data === null ? [] : chartRows(data.rows, data.by)), [data]);
  // The User column is there for sessions only: sorted by it, another grouping falls back to GPU-hours.
  const shownBy = data?.by ?? by;
  const effectiveSort = sort.column === 'user' && shownBy !== 'session' ? DEFAULT_SORT : sort;
  const live = range.kind === 'live';
  const rangeText = describeRange(counted);

  let body: ReactNode;
  let said: string;
  if (usage.state === 'error') {
    const { error } = usage;
    said = error.kind === 'off' ? 'History is off: no usage is kept.' : `Could not load the usage: ${error.message}`;
    body =
      error.kind === 'off' ? (
        <Panel icon={<CircleOff size={28} aria-hidden="true" />} title="History is off" testId="usage-off">
          <p>
            This gpulens server keeps no history (<code className="text-ink">{error.message}</code>), so it cannot say who
            used the GPUs. To count usage, start it without <code className="text-ink">HISTORY=off</code>.
          </p>
        </Panel>
      ) : (
        <Panel icon={<TriangleAlert size={28} aria-hidden="true" />} title="Could not load the usage" tone="error" testId="usage-error" role="alert">
          <p className="text-ink wrap-anywhere" data-testid="usage-error-message">
            {error.message}
          </p>
          <div>
            <button type="button" className={quiet} onClick={onRetry}>
              <RotateCw size={15} aria-hidden="true" /> Try again
            </button>
          </div>
        </Panel>
      );
  } else if (data === null) {
    said = 'Loading the usage.';
    body = <UsageSkeleton toolbar={false} />;
  } else if (data.rows.length === 0) {
    said = busy ? 'Loading the usage.' : 'No GPU process was seen in this range.';
    body = (
      <>
        <Notices data={data} />
        <Panel icon={<CircleOff size={28} aria-hidden="true" />} title="No usage in this range" testId="usage-empty">
          <p>
            No GPU process was seen in this range ({formatMoment(data.from)} to {formatMoment(data.to)}). Processes are counted
            while gpulens runs and the GPU source lists them.
          </p>
        </Panel>
      </>
    );
  } else {
    const noun = BY_NOUN[data.by];
    said = busy
      ? 'Loading the usage.'
      : `Usage loaded: ${data.rows.length} ${data.rows.length === 1 ? noun.one : noun.many}, ${rangeText}.`;
    body = (
      <div className={`flex flex-col gap-4 transition-opacity duration-200 motion-reduce:transition-none lg:gap-5 ${busy ? 'pointer-events-none opacity-50' : ''}`}>
        <Notices data={data} />
        <Hero data={data} />
        <UsageChart rows={bars} width={chartWidth} />
        <UsageTable rows={data.rows} by={data.by} sort={effectiveSort} onSort={setSort} />
      </div>
    );
  }

  return (
    <section aria-label="Usage" aria-busy={busy} className="flex flex-col gap-4 lg:gap-5" data-testid="usage-view" data-state={usage.state}>
      <div className="glass flex flex-wrap items-center justify-between gap-x-4 gap-y-3 rounded-2xl px-4 py-3 sm:px-5">
        <div className="min-w-0">
          <h2 className="flex items-center gap-2 font-display text-lg font-semibold sm:text-xl">
            <BarChart3 size={18} aria-hidden="true" className="shrink-0 text-violet-ink" />
            <span className="min-w-0">Usage: {rangeText}</span>
          </h2>
          <p className="num mt-0.5 text-sm text-ink-2" data-testid="usage-span">
            {live && <span data-testid="usage-live-note">Live counts the last 24 hours. </span>}
            {data && (
              <>
                <span className="whitespace-nowrap">{formatMoment(data.from)} →</span>{' '}
                <span className="whitespace-nowrap">{formatMoment(data.to)}</span>
              </>
            )}
          </p>
        </div>
        <div className="flex w-full flex-wrap items-center gap-2 sm:w-auto">
          {busy && (
            <span className="inline-flex items-center gap-1.5 text-sm text-ink-3">
              <RotateCw size={14} aria-hidden="true" className="animate-spin motion-reduce:animate-none" /> Loading
            </span>
          )}
          <Segmented
            options={BY_OPTIONS}
            value={by}
            onChange={onBy}
            label="Group by"
            testId="usage-by"
            className="max-sm:grid max-sm:grid-cols-3"
            buttonClass="max-sm:justify-center max-sm:px-1.5 max-sm:[&>svg]:hidden"
          />
          {csvHref && !busy && (
            <a href={csvHref} download className={quiet} data-testid="usage-csv">
              <Download size={15} aria-hidden="true" />
              Export CSV
            </a>
          )}
        </div>
      </div>
      {body}
      {data && (data.rows.length > 0 || data.method) && (
        <p className="px-1 text-sm text-ink-2" data-testid="usage-method">
          <span className="font-semibold text-ink">How this is counted: </span>
          {data.method}
        </p>
      )}
      <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="usage-status">
        {said}
      </div>
    </section>
  );
}

export const UsageView = memo(UsageViewImpl);
