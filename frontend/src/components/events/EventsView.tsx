import { ArrowRight, CalendarClock, CircleOff, Cpu, History as HistoryIcon, ListFilter, RotateCw, TriangleAlert, User } from 'lucide-react';
import { memo, useCallback, useId, useMemo, useState, type ReactNode } from 'react';
import type { EventsResponse } from '../../api/events';
import type { Event as LensEvent } from '../../api/types';
import { useEvents } from '../../hooks/useEvents';
import { useNow } from '../../hooks/useNow';
import {
  byNewest,
  clockTime,
  endMs,
  EVENT_KINDS,
  eventDuration,
  eventGpu,
  eventTitle,
  eventWho,
  groupByDay,
  isInstant,
  KIND_LABEL,
  matchesFilter,
  mergeEvents,
  overlaps,
  SEVERITIES,
  SEVERITY_LABEL,
  startMs,
  type EventFilter,
} from '../../lib/events';
import { describeRange, formatMoment, PRESETS, rangeSearch, resolveRange, type TimeRange } from '../../lib/range';
import { SeverityBadge } from './SeverityBadge';
import { SEVERITY_STYLE } from './severityStyle';

export interface EventsViewProps {
  /** The range in the top bar; live shows the last 24 hours. */
  range: TimeRange;
  /** The stream's recent events (`useGpuStream().events`): merged in while the range ends now. */
  liveEvents: readonly LensEvent[];
}

/** What live shows: the last 24 hours, with the stream's events as they come. */
const LIVE_SPAN_S = PRESETS['24h'];

const button =
  'inline-flex h-9 items-center justify-center gap-1.5 whitespace-nowrap rounded-lg border px-3 text-sm font-semibold transition-colors duration-150';
const quiet = `${button} border-line-strong bg-white/5 text-ink hover:bg-white/10 disabled:cursor-wait disabled:opacity-60`;

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
          <h3 className="font-display text-2xl font-semibold">{title}</h3>
          <div className="mt-2 flex flex-col items-start gap-3 text-ink-2 wrap-anywhere">{children}</div>
        </div>
      </div>
    </section>
  );
}

function Chip({ pressed, onClick, children }: { pressed: boolean; onClick: () => void; children: ReactNode }) {
  return (
    <button
      type="button"
      aria-pressed={pressed}
      onClick={onClick}
      className={`inline-flex h-8 items-center gap-1.5 whitespace-nowrap rounded-full border px-3 text-sm font-semibold transition-colors duration-150 ${
        pressed
          ? 'border-neon-fuchsia/60 bg-neon-fuchsia/15 text-ink'
          : 'border-line-strong bg-white/5 text-ink-2 hover:bg-white/10 hover:text-ink'
      }`}
    >
      {children}
    </button>
  );
}

const toggle = <T,>(list: readonly T[], value: T, order: readonly T[]): T[] =>
  list.includes(value) ? list.filter((v) => v !== value) : order.filter((v) => v === value || list.includes(v));

function Filters({ filter, onChange }: { filter: EventFilter; onChange: (next: EventFilter) => void }) {
  const id = useId();
  const active = filter.severities.length + filter.kinds.length > 0;
  return (
    <div className="flex flex-col gap-2.5" data-testid="events-filters">
      <div className="flex flex-wrap items-center gap-2" role="group" aria-labelledby={`${id}-sev`}>
        <span id={`${id}-sev`} className="label mr-1 inline-flex items-center gap-1.5">
          <ListFilter size={13} aria-hidden="true" />
          Severity
        </span>
        {SEVERITIES.map((s) => {
          const Icon = SEVERITY_STYLE[s].Icon;
          return (
            <Chip
              key={s}
              pressed={filter.severities.includes(s)}
              onClick={() => onChange({ ...filter, severities: toggle(filter.severities, s, SEVERITIES) })}
            >
              <Icon size={14} aria-hidden="true" className={SEVERITY_STYLE[s].ink} />
              {SEVERITY_LABEL[s]}
            </Chip>
          );
        })}
      </div>
      {/* On a phone the eleven kinds are one line that scrolls sideways, not six rows. */}
      <div
        className="flex flex-wrap items-center gap-2 max-sm:-mx-1 max-sm:flex-nowrap max-sm:overflow-x-auto max-sm:px-1 max-sm:pb-1 max-sm:[&>*]:shrink-0"
        role="group"
        aria-labelledby={`${id}-kind`}
      >
        <span id={`${id}-kind`} className="label mr-1">
          Kind
        </span>
        {EVENT_KINDS.map((k) => (
          <Chip
            key={k}
            pressed={filter.kinds.includes(k)}
            onClick={() => onChange({ ...filter, kinds: toggle(filter.kinds, k, EVENT_KINDS) })}
          >
            {KIND_LABEL[k]}
          </Chip>
        ))}
        {active && (
          <button
            type="button"
            className="ml-1 text-sm font-semibold text-cyan-ink underline-offset-4 hover:underline"
            onClick={() => onChange({ severities: [], kinds: [] })}
          >
            Clear filters
          </button>
        )}
      </div>
    </div>
  );
}

/** "14:02 – 14:30", "14:02" (a change), "14:02 –" (ongoing); the end's date when it is another day. */
function When({ event, now }: { event: LensEvent; now: number }) {
  const start = startMs(event);
  const end = endMs(event);
  const duration = eventDuration(event);
  const sameDay = end !== null && new Date(end).toDateString() === new Date(start).toDateString();
  return (
    <span className="num inline-flex flex-wrap items-center gap-x-1.5 text-sm text-ink-2">
      <time dateTime={event.start} title={new Date(start).toLocaleString()}>
        {clockTime(start)}
      </time>
      {end !== null && !isInstant(event) && (
        <>
          <span aria-hidden="true">–</span>
          <span className="sr-only">to</span>
          <time dateTime={event.end!} title={new Date(end).toLocaleString()}>
            {sameDay ? clockTime(end) : formatMoment(end / 1000, now)}
          </time>
        </>
      )}
      {duration === 'ongoing' ? (
        <span className="rounded-full border border-warn/50 bg-warn/10 px-2 py-px text-xs font-semibold uppercase tracking-wide text-warn-ink">
          ongoing
        </span>
      ) : duration !== null ? (
        <span className="text-ink-3">· {duration}</span>
      ) : null}
    </span>
  );
}

function EventItem({ event, now }: { event: LensEvent; now: number }) {
  const gpu = eventGpu(event);
  const who = eventWho(event);
  const style = SEVERITY_STYLE[event.severity];
  return (
    <li className="relative pl-9 sm:pl-11" data-testid="event-item" data-severity={event.severity} data-kind={event.kind} data-id={event.id}>
      <span
        aria-hidden="true"
        className={`absolute left-1 top-4 flex size-6 items-center justify-center rounded-full border border-white/15 bg-canvas-2 sm:left-2 ${style.ink}`}
      >
        <style.Icon size={14} />
      </span>
      <article className={`glass flex min-w-0 flex-col gap-1.5 rounded-2xl px-4 py-3 sm:px-5 ${event.severity === 'critical' ? style.card : ''}`}>
        <div className="flex flex-wrap items-center gap-x-3 gap-y-1.5">
          <h4 className="min-w-0 font-display text-lg font-semibold leading-snug text-ink wrap-anywhere">{eventTitle(event)}</h4>
          <SeverityBadge severity={event.severity} size="sm" />
          <span className="sm:ml-auto">
            <When event={event} now={now} />
          </span>
        </div>
        {(gpu !== null || who.length > 0) && (
          <p className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm text-ink-2">
            {gpu !== null && (
              <span className="inline-flex min-w-0 items-center gap-1.5">
                <Cpu size={14} aria-hidden="true" />
                <span className="sr-only">GPU: </span>
                <span className="font-medium text-ink wrap-anywhere">{gpu}</span>
              </span>
            )}
            {who.length > 0 && (
              <span className="num inline-flex min-w-0 items-center gap-1.5">
                <User size={14} aria-hidden="true" />
                <span className="sr-only">Who: </span>
                <span className="wrap-anywhere">{who.join(' · ')}</span>
              </span>
            )}
          </p>
        )}
        <p className="text-sm text-ink-2 wrap-anywhere">{event.summary}</p>
        {event.action !== '' && (
          <p className="flex items-start gap-1.5 text-sm font-medium text-ink wrap-anywhere">
            <ArrowRight size={15} aria-hidden="true" className={`mt-0.5 shrink-0 ${style.ink}`} />
            <span>
              <span className="sr-only">What to do: </span>
              {event.action}
            </span>
          </p>
        )}
      </article>
    </li>
  );
}

function Timeline({ events, now }: { events: readonly LensEvent[]; now: number }) {
  const groups = useMemo(() => groupByDay(events, now), [events, now]);
  return (
    <div className="flex flex-col gap-5" data-testid="events-timeline">
      {groups.map((g) => (
        <section key={g.key} aria-labelledby={`events-day-${g.key}`} className="flex flex-col gap-2.5">
          <h3 id={`events-day-${g.key}`} className="label flex items-center gap-2 px-1">
            <CalendarClock size={13} aria-hidden="true" />
            {g.label}
            <span className="num font-normal normal-case tracking-normal text-ink-3">
              · {g.events.length} event{g.events.length === 1 ? '' : 's'}
            </span>
          </h3>
          <ol className="relative flex flex-col gap-2.5 before:absolute before:bottom-2 before:left-4 before:top-2 before:w-px before:bg-white/10 sm:before:left-5">
            {g.events.map((e) => (
              <EventItem key={e.id} event={e} now={now} />
            ))}
          </ol>
        </section>
      ))}
    </div>
  );
}

function Skeleton() {
  return (
    <div className="flex flex-col gap-2.5" data-testid="events-loading" aria-busy="true">
      <span className="sr-only">Loading events…</span>
      {[0, 1, 2].map((i) => (
        <div key={i} className="glass flex flex-col gap-2 rounded-2xl px-5 py-4" aria-hidden="true">
          <div className="skeleton h-5 w-1/3" />
          <div className="skeleton h-4 w-2/3" />
        </div>
      ))}
    </div>
  );
}

function Empty({ range, filtered }: { range: TimeRange; filtered: boolean }) {
  return (
    <Panel icon={<CircleOff size={28} aria-hidden="true" />} title={filtered ? 'No matching events' : 'All quiet'} testId="events-empty">
      <p>
        {filtered
          ? 'No event in this range matches the filters.'
          : `No findings and no GPU changes ${range.kind === 'live' ? 'in the last 24 hours' : `in ${describeRange(range)}`}.`}
      </p>
    </Panel>
  );
}

function rangeTitle(range: TimeRange): string {
  return range.kind === 'live' ? 'the last 24 hours, live' : describeRange(range);
}

function EventsViewImpl({ range, liveEvents }: EventsViewProps) {
  const [filter, setFilter] = useState<EventFilter>({ severities: [], kinds: [] });
  const live = range.kind !== 'custom'; // ends now: the stream's events belong in it
  const key = `${rangeSearch(range) || 'live'}|${filter.severities.join(',')}|${filter.kinds.join(',')}`;
  const resolve = useCallback(() => {
    const now = Date.now();
    const span = range.kind === 'live' ? { from: Math.floor(now / 1000) - LIVE_SPAN_S, to: Math.floor(now / 1000) } : resolveRange(range, now);
    return span === null ? null : { ...span, severities: filter.severities, kinds: filter.kinds };
  }, [range, filter]);
  const answer = useEvents(key, resolve);
  const now = useNow(30_000);

  const page: EventsResponse | null =
    answer.state === 'ok' ? answer.data : answer.state === 'loading' ? answer.previous : null;
  const fromMs = page !== null ? page.from * 1000 : now - LIVE_SPAN_S * 1000;
  const liveInRange = useMemo(
    () => (live ? liveEvents.filter((e) => matchesFilter(e, filter) && overlaps(e, fromMs, Infinity)) : []),
    [live, liveEvents, filter, fromMs],
  );
  const older = answer.older;
  const events = useMemo(() => {
    if (page === null) return [];
    const stored = [...page.events, ...older.events].filter((e) => matchesFilter(e, filter));
    return mergeEvents(stored, liveInRange, { complete: older.next === null });
  }, [page, older, filter, liveInRange]);

  const filtered = filter.severities.length + filter.kinds.length > 0;
  let body: ReactNode;
  if (answer.state === 'error' && answer.error.kind === 'off') {
    const recent = [...liveInRange].sort(byNewest);
    body = (
      <>
        <Panel icon={<HistoryIcon size={28} aria-hidden="true" />} title="Event history is off" testId="events-history-off">
          <p>
            This gpulens keeps no history (<code className="text-ink">HISTORY=off</code>), so past events are not stored.
            {live ? ' The events the live stream has sent since the server started are listed below.' : ''}
          </p>
          <p className="text-sm text-ink-3">Turn history on in the server&rsquo;s settings to keep events and list any range.</p>
        </Panel>
        {recent.length > 0 && <Timeline events={recent} now={now} />}
      </>
    );
  } else if (answer.state === 'error') {
    body = (
      <Panel
        icon={<TriangleAlert size={28} aria-hidden="true" />}
        title="Could not load the events"
        tone="error"
        role="alert"
        testId="events-error"
      >
        <p>{answer.error.message}</p>
        <button type="button" className={quiet} onClick={answer.reload}>
          <RotateCw size={15} aria-hidden="true" /> Try again
        </button>
      </Panel>
    );
  } else if (page === null) {
    body = <Skeleton />;
  } else if (events.length === 0) {
    body = <Empty range={range} filtered={filtered} />;
  } else {
    const extra = events.length - page.events.length - older.events.length;
    body = (
      <div className={`flex flex-col gap-4 ${answer.state === 'loading' ? 'opacity-60 transition-opacity' : ''}`} aria-busy={answer.state === 'loading'}>
        {page.status.state === 'paused' && (
          <p className="rounded-xl border border-warn/40 bg-warn/10 px-4 py-3 text-sm text-warn-ink wrap-anywhere" data-testid="events-paused">
            Recording is paused: {page.status.reason ?? 'the store cannot be written'}. New events reach this page live
            and are stored when it can.
          </p>
        )}
        <Timeline events={events} now={now} />
        <div className="flex flex-wrap items-center gap-3 px-1 text-sm text-ink-3">
          <span className="num" data-testid="events-count">
            {page.events.length + older.events.length} of {page.total} stored event{page.total === 1 ? '' : 's'}
            {extra > 0 ? ` · ${extra} new since loaded` : ''}
          </span>
          {older.next !== null && (
            <button type="button" className={quiet} onClick={answer.loadOlder} disabled={older.state === 'loading'} data-testid="events-older">
              {older.state === 'loading' ? (
                <>
                  <RotateCw size={14} aria-hidden="true" className="animate-spin motion-reduce:animate-none" /> Loading…
                </>
              ) : (
                'Load older'
              )}
            </button>
          )}
        </div>
        {older.state === 'error' && older.error !== null && (
          <p role="alert" className="flex flex-wrap items-center gap-3 rounded-xl border border-hot/40 bg-hot/10 px-4 py-3 text-sm text-hot-ink" data-testid="events-older-error">
            <span className="wrap-anywhere">Could not load older events: {older.error.message}</span>
          </p>
        )}
      </div>
    );
  }

  return (
    <section aria-labelledby="events-title" className="flex min-w-0 flex-col gap-4" data-testid="events-view">
      <div className="glass flex flex-col gap-3 rounded-2xl px-4 py-3 sm:px-5 sm:py-4">
        <div className="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1">
          <h2 id="events-title" className="flex min-w-0 items-center gap-2 font-display text-lg font-semibold sm:text-xl">
            <CalendarClock size={18} aria-hidden="true" className="shrink-0 text-violet-ink" />
            <span className="min-w-0">Events: {rangeTitle(range)}</span>
          </h2>
          {answer.state === 'loading' && page !== null && (
            <span className="inline-flex items-center gap-1.5 text-sm text-ink-3">
              <RotateCw size={14} aria-hidden="true" className="animate-spin motion-reduce:animate-none" /> Loading
            </span>
          )}
        </div>
        <Filters filter={filter} onChange={setFilter} />
      </div>
      {body}
    </section>
  );
}

/**
 * The timeline of findings and changes for the range in the top bar: stored
 * events a page at a time ("Load older"), with the stream's new ones merged in
 * while the range ends now, grouped by day, filterable by severity and kind.
 */
export const EventsView = memo(EventsViewImpl);
export default EventsView;
