/**
 * GET /api/events: the stored events that overlap a range, newest first, one
 * page at a time (`next` is the cursor of the older page). The URL, and a
 * fetch that hands back the page checked against the backend's schema
 * (events.validate.gen.js, through the shared fetchJson) or a message a person
 * can read. Never throws.
 */
import type { EventsResponse as WireEventsResponse } from './events.gen';
import { EventsResponse as validate } from './events.validate.gen';
import { fetchJson, type FetchFailure, type FetchJsonOptions, type FetchResult } from './fetchJson';
import type { Event, EventKind, Severity } from './types';

export type { HistoryState } from './events.gen';

/** One page, as the page gets it: the validator filled every optional field of each event (null). */
export type EventsResponse = Omit<WireEventsResponse, 'events'> & { events: Event[] };
export type EventsFailure = FetchFailure;
export type EventsResult = FetchResult<EventsResponse>;

/** Events per page. */
export const EVENTS_PAGE = 100;

export interface EventsQuery {
  /** Unix seconds. */
  from: number;
  to: number;
  limit?: number;
  /** The `next` of the page before (older pages). */
  cursor?: string | null;
  /** Only these (none = all); sent comma-separated. */
  kinds?: readonly EventKind[];
  severities?: readonly Severity[];
  /** A GPU key. */
  gpu?: string | null;
}

const seconds = (t: number) => String(Math.round(t * 1000) / 1000);

/** `/api/events?from=…&to=…&limit=…[&cursor=…][&kind=a,b][&severity=…][&gpu=…]` */
export function eventsUrl(query: EventsQuery): string {
  const params = new URLSearchParams();
  params.set('from', seconds(query.from));
  params.set('to', seconds(query.to));
  params.set('limit', String(query.limit ?? EVENTS_PAGE));
  if (query.cursor) params.set('cursor', query.cursor);
  if (query.kinds && query.kinds.length > 0) params.set('kind', query.kinds.join(','));
  if (query.severities && query.severities.length > 0) params.set('severity', query.severities.join(','));
  if (query.gpu) params.set('gpu', query.gpu);
  return `/api/events?${params.toString()}`;
}

/** What the schema cannot say: the range runs forwards. (The order is the page's own business: it sorts.) */
function consistency(data: WireEventsResponse): string | null {
  return data.to > data.from ? null : `/to: ${data.to} is not after from (${data.from})`;
}

/** Fetch and validate one page. Never throws. */
export async function fetchEvents(query: EventsQuery, options: FetchJsonOptions = {}): Promise<EventsResult> {
  const result = await fetchJson(eventsUrl(query), validate, { ...options, check: consistency });
  // The validator filled each event's optional fields (their default, null): the shape of ./types.
  return result as EventsResult;
}
