/**
 * The stored events of a range → markers on the past view's charts: a finding
 * as a shaded span from its start to its end (the range's end while it
 * holds), an instant change (a GPU lost, added or removed, a GPU source
 * change) as a line. Each GPU's charts get the events of that GPU; the events
 * about no GPU go on every card.
 */
import type { Event as LensEvent, EventKind, Severity } from '../../api/types';
import { clockTime, endMs, eventTitle, SEVERITY_LABEL, SEVERITY_RANK, startMs } from '../../lib/events';

export interface ChartMarker {
  readonly id: string;
  readonly kind: EventKind;
  readonly severity: Severity;
  /** ms; the span clipped to the range. */
  readonly fromMs: number;
  /** ms; null for an instant (a line at fromMs). */
  readonly toMs: number | null;
  /** Still holding at the end of the range. */
  readonly ongoing: boolean;
  /** "Hot (warning), 21:05–21:40: GPU 0 at 83 °C, 2 °C from its slowdown" — what a person reads and hears. */
  readonly label: string;
}

export const SEVERITY_COLOR: Readonly<Record<Severity, string>> = {
  info: '#22d3ee',
  warning: '#f59e0b',
  critical: '#f43f5e',
};

export const NO_MARKERS: readonly ChartMarker[] = [];

function marker(event: LensEvent, fromMs: number, toMs: number): ChartMarker | null {
  const start = startMs(event);
  const end = endMs(event);
  if (!Number.isFinite(start) || (end !== null && !Number.isFinite(end))) return null;
  if (start > toMs || (end !== null && end < fromMs)) return null;
  const instant = end !== null && end <= start;
  const title = `${eventTitle(event)} (${SEVERITY_LABEL[event.severity].toLowerCase()})`;
  const when = instant
    ? `at ${clockTime(start)}`
    : `${clockTime(start)}–${end === null ? 'ongoing' : clockTime(end)}`;
  const summary = event.summary.trim();
  const label = `${title}, ${when}${summary ? `: ${summary}` : ''}`;
  if (instant) return { id: event.id, kind: event.kind, severity: event.severity, fromMs: start, toMs: null, ongoing: false, label };
  const a = Math.max(start, fromMs);
  const b = Math.min(end ?? toMs, toMs);
  // A span too short to draw (or cut to nothing by the range) is drawn as a line.
  if (b <= a) return { id: event.id, kind: event.kind, severity: event.severity, fromMs: a, toMs: null, ongoing: end === null, label };
  return { id: event.id, kind: event.kind, severity: event.severity, fromMs: a, toMs: b, ongoing: end === null, label };
}

/** Where an event goes: a GPU key, `index:<n>` for a GPU known by its index only, or null for the host. */
function target(event: LensEvent): string | null {
  if (event.gpu !== null && event.gpu !== '' && !event.gpu.startsWith('index:')) return event.gpu;
  if (event.gpuIndex !== null) return `index:${event.gpuIndex}`;
  if (event.gpu?.startsWith('index:')) return event.gpu;
  return null;
}

/**
 * The markers of each card (by its GPU key; a GPU's events by its index when
 * the event knows it by index only), with the host-wide ones on every card.
 * One marker per event id (the record that says more wins: the one with an
 * end). Drawn least severe first, so a critical one is on top.
 */
export function cardMarkers(
  events: readonly LensEvent[] | null,
  cards: readonly { readonly key: string; readonly index: number | null }[],
  fromMs: number,
  toMs: number,
): Map<string, readonly ChartMarker[]> {
  const out = new Map<string, readonly ChartMarker[]>();
  if (events === null || events.length === 0) return out;
  const byId = new Map<string, LensEvent>();
  for (const e of events) {
    const seen = byId.get(e.id);
    if (seen === undefined || (seen.end === null && e.end !== null)) byId.set(e.id, e);
  }
  const host: ChartMarker[] = [];
  const perTarget = new Map<string, ChartMarker[]>();
  for (const e of byId.values()) {
    const m = marker(e, fromMs, toMs);
    if (m === null) continue;
    const t = target(e);
    if (t === null) host.push(m);
    else perTarget.set(t, [...(perTarget.get(t) ?? []), m]);
  }
  const order = (a: ChartMarker, b: ChartMarker) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.fromMs - b.fromMs;
  for (const card of cards) {
    const mine = [
      ...host,
      ...(perTarget.get(card.key) ?? []),
      ...(card.index === null ? [] : (perTarget.get(`index:${card.index}`) ?? [])),
    ].sort(order);
    if (mine.length > 0) out.set(card.key, mine);
  }
  return out;
}

/** The markers in words, for a chart's accessible summary: the first few, and how many more. */
export function describeMarkers(markers: readonly ChartMarker[], most = 5): string {
  if (markers.length === 0) return '';
  const newest = [...markers].sort((a, b) => b.fromMs - a.fromMs);
  const listed = newest.slice(0, most).map((m) => m.label);
  const more = markers.length - listed.length;
  return `. ${markers.length === 1 ? 'One event' : `${markers.length} events`}: ${listed.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/** The marker under the pointer at `t` (ms): a span that holds it, else a line within `slackMs`; the most severe. */
export function markerAt(markers: readonly ChartMarker[], t: number, slackMs: number): ChartMarker | null {
  let best: ChartMarker | null = null;
  for (const m of markers) {
    const hit = m.toMs === null ? Math.abs(t - m.fromMs) <= slackMs : t >= m.fromMs && t <= m.toMs;
    if (hit && (best === null || SEVERITY_RANK[m.severity] < SEVERITY_RANK[best.severity])) best = m;
  }
  return best;
}
