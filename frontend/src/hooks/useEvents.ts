import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { fetchEvents, type EventsFailure, type EventsQuery, type EventsResponse } from '../api/events';
import type { Event as LensEvent } from '../api/types';
import { useAnswer, type AnswerState } from './useHistory';

export type EventsState = AnswerState<EventsResponse, EventsFailure>;

export interface OlderPages {
  /** The events of the pages loaded with "Load older", newest first, after the first page's. */
  readonly events: readonly LensEvent[];
  /** The cursor of the next older page; null at the end. */
  readonly next: string | null;
  readonly state: 'idle' | 'loading' | 'error';
  readonly error: EventsFailure | null;
}

export type UseEvents = EventsState & {
  reload: () => void;
  /** Beyond the first page; reset whenever the first page changes. */
  older: OlderPages;
  /** Fetch the next older page (nothing while one loads or at the end). */
  loadOlder: () => void;
};

const NONE: readonly LensEvent[] = [];

/**
 * The events of `resolve()`'s range: the first page through useAnswer (asked
 * again when `key` changes or on `reload`, the request before aborted), then
 * older pages on demand with the page's `next` cursor, over the range the
 * first page answered for.
 */
export function useEvents(
  key: string,
  resolve: () => EventsQuery | null,
  fetcher: typeof fetchEvents = fetchEvents,
): UseEvents {
  const first = useAnswer(key, resolve, fetcher);
  const data = first.state === 'ok' ? first.data : null;
  const [pages, setPages] = useState<{ data: EventsResponse | null; older: OlderPages }>({
    data: null,
    older: { events: NONE, next: null, state: 'idle', error: null },
  });
  const pending = useRef<AbortController | null>(null);

  // A new first page: older pages of the one before mean nothing now.
  useEffect(() => () => pending.current?.abort(), [data]);

  const older = useMemo<OlderPages>(
    () =>
      pages.data === data && data !== null
        ? pages.older
        : { events: NONE, next: data?.next ?? null, state: 'idle', error: null },
    [pages, data],
  );

  const loadOlder = useCallback(() => {
    const query = resolve();
    if (data === null || query === null || older.next === null || older.state === 'loading') return;
    const controller = new AbortController();
    pending.current?.abort();
    pending.current = controller;
    const base = older;
    setPages({ data, older: { ...base, state: 'loading', error: null } });
    // The same question (filters) over the range the first page answered for, from the cursor on.
    void fetcher({ ...query, from: data.from, to: data.to, cursor: base.next }, { signal: controller.signal }).then((r) => {
      if (controller.signal.aborted) return;
      setPages({
        data,
        older: r.ok
          ? { events: [...base.events, ...r.data.events], next: r.data.next, state: 'idle', error: null }
          : { ...base, state: 'error', error: r.error },
      });
    });
  }, [data, older, resolve, fetcher]);

  return { ...first, older, loadOlder };
}
