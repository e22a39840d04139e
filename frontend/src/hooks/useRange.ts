import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { parseRange, rangeSearch, type TimeRange } from '../lib/range';

/**
 * The time range, kept in the URL's query string (`?range=24h`, `?from=…&to=…`,
 * nothing for live). Choosing a range pushes a history entry, so back and
 * forward walk through the ranges seen; a shared link opens on its range.
 */
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (listeners.size === 1) window.addEventListener('popstate', notify);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) window.removeEventListener('popstate', notify);
  };
}

function notify(): void {
  for (const listener of [...listeners]) listener();
}

const getSearch = () => window.location.search;

export function useRange(): [TimeRange, (next: TimeRange) => void] {
  const search = useSyncExternalStore(subscribe, getSearch, () => '');
  const range = useMemo(() => parseRange(search), [search]);
  const setRange = useCallback((next: TimeRange) => {
    const { pathname, search: current, hash } = window.location;
    const wanted = rangeSearch(next, current);
    if (wanted === current) return;
    window.history.pushState(window.history.state, '', `${pathname}${wanted}${hash}`);
    notify();
  }, []);
  return [range, setRange];
}
