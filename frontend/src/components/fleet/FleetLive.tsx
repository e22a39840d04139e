import { ArrowDownWideNarrow, Search } from 'lucide-react';
import { memo, useCallback, useDeferredValue, useEffect, useMemo, useState, useTransition } from 'react';
import type { TemperatureThresholds } from '../../api/types';
import type { FleetView } from '../../api/view';
import { filterHosts, sortHosts, type FleetSort } from '../../lib/fleet';
import { Segmented, type SegmentOption } from '../ViewSwitch';
import { FleetHero } from './FleetHero';
import { FleetHostSection } from './FleetHostSection';
import { WINDOW_FROM, WindowedHosts } from './FleetHostList';
import { FleetStatusLine } from './FleetStatusLine';

const SORTS: readonly SegmentOption<FleetSort>[] = [
  { value: 'host', label: 'Host', title: 'By host name, A to Z' },
  { value: 'utilization', label: 'Utilization', title: 'Busiest hosts first' },
  { value: 'state', label: 'State', title: 'Down and stale hosts first, then those with hot GPUs' },
  { value: 'gpus', label: 'GPUs', title: 'Hosts with the most GPUs first' },
];

/** Hosts drawn with the first frame (about a screen); the rest as they come near it. */
const EAGER_HOSTS = 2;
/** Host sections put in the page by the first commit; the others follow in transitions of STEP_HOSTS
 * (each its own render, commit, layout and paint: no long task even for 100 hosts). */
const FIRST_HOSTS = 6;
const STEP_HOSTS = 22;

/** After the browser has drawn the next frame and is idle (or soon): ``run``; a cancel function. */
function whenIdle(run: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let idle: number | undefined;
  const frame = requestAnimationFrame(() => {
    if (typeof requestIdleCallback === 'function') idle = requestIdleCallback(run, { timeout: 1000 });
    else timer = setTimeout(run, 0);
  });
  return () => {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
    if (idle !== undefined) cancelIdleCallback(idle);
  };
}

export function FleetSkeleton() {
  return (
    <div className="flex flex-col gap-4" data-testid="fleet-skeleton" aria-busy="true">
      <p className="sr-only" role="status">
        Waiting for the fleet: the server asks Prometheus every few seconds.
      </p>
      <div className="glass h-44 animate-pulse rounded-3xl motion-reduce:animate-none" />
      {[0, 1, 2].map((i) => (
        <div key={i} className="glass h-40 animate-pulse rounded-2xl motion-reduce:animate-none" />
      ))}
    </div>
  );
}

interface FleetLiveProps {
  fleet: FleetView | null;
  thresholds: TemperatureThresholds;
}

/**
 * Every host and GPU Prometheus knows, live: the hero with the counts, the
 * status of the last refresh, a filter box (host or GPU name), a sort, and
 * one glass section per host with its GPUs as compact rows.
 */
function FleetLiveImpl({ fleet: latest, thresholds }: FleetLiveProps) {
  // Each fleet message (100 hosts × 8 GPUs) is rendered at transition priority, in slices
  // between which the browser scrolls, types and paints; the first one too (null until then).
  const fleet = useDeferredValue(latest, null);
  // The first commit puts a screen of hosts in the page; the rest follow a few at a time, so
  // neither the render nor the commit and layout of 100 sections is one long task.
  const [limit, setLimit] = useState(FIRST_HOSTS);
  const [query, setQuery] = useState('');
  const [sort, setSortNow] = useState<FleetSort>('host');
  // A new order for 100 hosts is rendered in slices (a transition): the page keeps answering meanwhile.
  const [, startTransition] = useTransition();
  const setSort = useCallback((next: FleetSort) => startTransition(() => setSortNow(next)), []);
  // Typing stays quick with 100 hosts: the list follows a moment later.
  const deferred = useDeferredValue(query);
  const hosts = fleet?.hosts;
  const sorted = useMemo(() => (hosts ? sortHosts(hosts, sort) : []), [hosts, sort]);
  const shown = useMemo(() => filterHosts(sorted, deferred), [sorted, deferred]);
  // A large fleet is windowed (decided on its size, not on what the filter leaves, so typing
  // does not swap one list for the other); a small one is put in the page a few hosts at a time.
  const windowed = (hosts?.length ?? 0) >= WINDOW_FROM;
  const more = !windowed && shown.length > limit;
  useEffect(() => {
    if (more) return whenIdle(() => startTransition(() => setLimit(limit + STEP_HOSTS)));
    return undefined;
  }, [more, limit]);
  if (fleet === null) return <FleetSkeleton />;
  const nowS = Date.parse(fleet.timestamp) / 1000;
  const total = fleet.hosts.length;
  return (
    <div className="flex flex-col gap-4 lg:gap-5" data-testid="fleet-view">
      <FleetHero totals={fleet.totals} hosts={fleet.hosts} />
      <FleetStatusLine status={fleet.status} nowS={nowS} />
      <section aria-label="Hosts" className="flex flex-col gap-3">
        <div className="flex flex-col gap-2 sm:flex-row sm:flex-wrap sm:items-center sm:justify-between">
          <label className="relative block w-full sm:max-w-sm">
            <span className="sr-only">Filter hosts and GPUs by name</span>
            <Search
              size={16}
              aria-hidden="true"
              className="pointer-events-none absolute top-1/2 left-3 -translate-y-1/2 text-ink-3"
            />
            <input
              type="search"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              placeholder="Filter by host or GPU name"
              className="h-10 w-full rounded-xl border border-line bg-white/[0.04] pr-3 pl-9 text-base text-ink placeholder:text-ink-3"
              data-testid="fleet-filter"
              spellCheck={false}
              autoComplete="off"
            />
          </label>
          <div className="flex min-w-0 items-center gap-2">
            <ArrowDownWideNarrow size={16} aria-hidden="true" className="hidden shrink-0 text-ink-3 sm:block" />
            <Segmented
              options={SORTS}
              value={sort}
              onChange={setSort}
              label="Sort hosts by"
              testId="fleet-sort"
              buttonClass="!px-2 sm:!px-3"
            />
          </div>
        </div>
        <p className="text-sm text-ink-3" role="status" aria-live="polite" data-testid="fleet-count">
          {deferred.trim() === ''
            ? `${total} host${total === 1 ? '' : 's'}`
            : `${shown.length} of ${total} hosts match “${deferred.trim()}”`}
        </p>
        {shown.length === 0 && total > 0 && (
          <p className="glass rounded-2xl p-6 text-center text-ink-2" data-testid="fleet-no-match">
            No host or GPU matches “{deferred.trim()}”.
          </p>
        )}
        {total === 0 && (
          <p className="glass rounded-2xl p-6 text-center text-ink-2" data-testid="fleet-empty">
            Prometheus knows no GPU host yet. Add gpulens or dcgm-exporter targets to its scrape configuration (docs/fleet.md).
          </p>
        )}
        {windowed ? (
          <WindowedHosts hosts={shown} thresholds={thresholds} nowS={nowS} />
        ) : (
          (more ? shown.slice(0, limit) : shown).map((host, i) => (
            <FleetHostSection
              key={host.key}
              host={host}
              thresholds={thresholds}
              nowS={host.state === 'up' ? 0 : nowS}
              eager={i < EAGER_HOSTS}
            />
          ))
        )}
      </section>
    </div>
  );
}

export const FleetLive = memo(FleetLiveImpl);
