/**
 * Findings and events in words: titles by kind, who is involved, when and for
 * how long, severity order, the day groups of the timeline, and the merge of
 * the stored past with the live stream. Pure; used by the Findings strip, the
 * Events view and the notifications.
 */
import type { Event as LensEvent, EventKind, Severity } from '../api/types';
import { shortName } from './format';
import { formatSpan } from './range';

export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/** Lower is more severe. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, warning: 1, info: 2 };

export const SEVERITY_LABEL: Readonly<Record<Severity, string>> = {
  critical: 'Critical',
  warning: 'Warning',
  info: 'Info',
};

export const EVENT_KINDS: readonly EventKind[] = [
  'idleHolding',
  'unownedMemory',
  'deadHolder',
  'throttling',
  'hot',
  'eccErrors',
  'xid',
  'gpuLost',
  'gpuAdded',
  'gpuRemoved',
  'provider',
];

/** Short names, for filter chips. */
export const KIND_LABEL: Readonly<Record<EventKind, string>> = {
  idleHolding: 'Idle holding',
  unownedMemory: 'Unowned memory',
  deadHolder: 'Dead holder',
  throttling: 'Throttling',
  hot: 'Hot',
  eccErrors: 'ECC errors',
  xid: 'XID',
  gpuLost: 'GPU lost',
  gpuAdded: 'GPU added',
  gpuRemoved: 'GPU removed',
  provider: 'GPU source',
};

/** "40", "2.5": GiB as the titles say them. */
function gibText(value: number): string {
  return value >= 10 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, '');
}

/** The big title: "Idle but holding 40 GiB", "Memory nobody owns", "XID 79", "GPU lost". */
export function eventTitle(event: Pick<LensEvent, 'kind' | 'value'>): string {
  const v = event.value;
  switch (event.kind) {
    case 'idleHolding':
      return v === null ? 'Idle but holding memory' : `Idle but holding ${gibText(v)} GiB`;
    case 'unownedMemory':
      return 'Memory nobody owns';
    case 'deadHolder':
      return 'Dead holder';
    case 'throttling':
      return 'Throttling';
    case 'hot':
      return 'Hot';
    case 'eccErrors':
      return 'ECC errors';
    case 'xid':
      return v === null ? 'XID error' : `XID ${Math.round(v)}`;
    case 'gpuLost':
      return 'GPU lost';
    case 'gpuAdded':
      return 'GPU added';
    case 'gpuRemoved':
      return 'GPU removed';
    case 'provider':
      return 'GPU source changed';
  }
}

/** "GPU 1 · H100 80GB HBM3"; null when the event is about no GPU (a provider change). */
export function eventGpu(event: Pick<LensEvent, 'gpu' | 'gpuIndex' | 'gpuName'>): string | null {
  const index = event.gpuIndex === null ? null : `GPU ${event.gpuIndex}`;
  const name = event.gpuName === null ? null : shortName(event.gpuName);
  if (index === null && name === null) return event.gpu;
  return [index, name].filter((x) => x !== null).join(' · ');
}

/** Who is involved, most telling first: user, process, pid, container. Empty when nobody is. */
export function eventWho(event: Pick<LensEvent, 'user' | 'process' | 'pid' | 'container'>): string[] {
  const parts: string[] = [];
  if (event.user !== null && event.user !== '') parts.push(event.user);
  if (event.process !== null && event.process !== '') parts.push(event.process);
  if (event.pid !== null) parts.push(`pid ${event.pid}`);
  if (event.container !== null && event.container !== '') parts.push(`container ${event.container}`);
  return parts;
}

export const startMs = (event: Pick<LensEvent, 'start'>): number => Date.parse(event.start);
export const endMs = (event: Pick<LensEvent, 'end'>): number | null =>
  event.end === null ? null : Date.parse(event.end);

/** A change (GPU added or removed, provider): it has no duration. */
export function isInstant(event: Pick<LensEvent, 'start' | 'end'>): boolean {
  return event.end !== null && endMs(event) === startMs(event);
}

/** A finding's start or an instant change: the moment something new happened (not a finding's end). */
export function isNews(event: Pick<LensEvent, 'start' | 'end'>): boolean {
  return event.end === null || isInstant(event);
}

/** "for 12 min", "ongoing"; null for an instant change. */
export function eventDuration(event: Pick<LensEvent, 'start' | 'end'>): string | null {
  if (event.end === null) return 'ongoing';
  if (isInstant(event)) return null;
  return formatSpan(((endMs(event) ?? 0) - startMs(event)) / 1000);
}

/** "just now", "12 min ago", "3 h 20 min ago", "2 d 5 h ago". */
export function relativeTime(ms: number, nowMs: number): string {
  const s = (nowMs - ms) / 1000;
  if (s < 45) return 'just now';
  return `${formatSpan(s)} ago`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const clockSeconds = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** "14:02" (with seconds when asked: two events in one minute). */
export function clockTime(ms: number, seconds = false): string {
  return (seconds ? clockSeconds : clock).format(new Date(ms));
}

/** Most severe first; within a severity, the newest first. */
export function bySeverity(a: LensEvent, b: LensEvent): number {
  return SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || startMs(b) - startMs(a) || (a.id < b.id ? -1 : 1);
}

/** Newest first (by start; a later end first when two start together). */
export function byNewest(a: LensEvent, b: LensEvent): number {
  return startMs(b) - startMs(a) || (endMs(b) ?? Infinity) - (endMs(a) ?? Infinity) || (a.id < b.id ? -1 : 1);
}

export interface EventFilter {
  /** Empty = every severity. */
  severities: readonly Severity[];
  /** Empty = every kind. */
  kinds: readonly EventKind[];
}

export function matchesFilter(event: LensEvent, filter: EventFilter): boolean {
  return (
    (filter.severities.length === 0 || filter.severities.includes(event.severity)) &&
    (filter.kinds.length === 0 || filter.kinds.includes(event.kind))
  );
}

/** True when the event overlaps [fromMs, toMs]: started before its end and did not end before its start. */
export function overlaps(event: LensEvent, fromMs: number, toMs: number): boolean {
  const end = endMs(event);
  return startMs(event) <= toMs && (end === null || end >= fromMs);
}

/**
 * The stored events (newest first, as the API pages them) merged with the
 * stream's: one row per id, the stream's record winning (it may carry the end
 * the store has not). A live event older than the oldest stored one shown is
 * left out while older pages remain (it will come with them).
 */
export function mergeEvents(
  stored: readonly LensEvent[],
  live: readonly LensEvent[],
  options: { complete: boolean },
): LensEvent[] {
  const byId = new Map<string, LensEvent>();
  for (const e of stored) byId.set(e.id, e);
  const oldest = stored.length === 0 ? -Infinity : Math.min(...stored.map(startMs));
  for (const e of live) {
    if (!byId.has(e.id) && !options.complete && startMs(e) < oldest) continue;
    byId.set(e.id, e);
  }
  return [...byId.values()].sort(byNewest);
}

export interface DayGroup {
  /** Local date, "2026-12-02". */
  key: string;
  /** "Today", "Yesterday", "Mon, Nov 30". */
  label: string;
  events: LensEvent[];
}

const dayKeyOf = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

const dayName = (withYear: boolean) =>
  new Intl.DateTimeFormat(undefined, {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    ...(withYear ? { year: 'numeric' } : {}),
  });

/** Events (newest first) in groups by the local day they started on. */
export function groupByDay(events: readonly LensEvent[], nowMs: number): DayGroup[] {
  const today = dayKeyOf(nowMs);
  const yesterdayDate = new Date(nowMs);
  yesterdayDate.setDate(yesterdayDate.getDate() - 1);
  const yesterday = dayKeyOf(yesterdayDate.getTime());
  const year = new Date(nowMs).getFullYear();
  const groups: DayGroup[] = [];
  for (const e of events) {
    const ms = startMs(e);
    const key = dayKeyOf(ms);
    let group = groups[groups.length - 1];
    if (group === undefined || group.key !== key) {
      const label =
        key === today
          ? 'Today'
          : key === yesterday
            ? 'Yesterday'
            : dayName(new Date(ms).getFullYear() !== year).format(new Date(ms));
      group = { key, label, events: [] };
      groups.push(group);
    }
    group.events.push(e);
  }
  return groups;
}
