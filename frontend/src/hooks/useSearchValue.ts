import { useCallback, useMemo, useSyncExternalStore } from 'react';

/**
 * A value kept in the URL's query string (the range, the view): read from
 * `location.search`, re-read on back and forward (popstate), and set by
 * pushing a history entry, so back and forward walk through the values seen
 * and a shared link opens on its own. One store for all of them: a push by
 * one is seen by every hook reading the query.
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

/**
 * The value `parse` reads from the query string, and a setter that pushes the
 * query `write` makes of it (given the current one, to keep the other
 * parameters); nothing is pushed when the query would not change. `parse` and
 * `write` must be stable (module-level functions).
 */
export function useSearchValue<T>(parse: (search: string) => T, write: (next: T, search: string) => string): [T, (next: T) => void] {
  const search = useSyncExternalStore(subscribe, getSearch, () => '');
  const value = useMemo(() => parse(search), [parse, search]);
  const setValue = useCallback(
    (next: T) => {
      const { pathname, search: current, hash } = window.location;
      const wanted = write(next, current);
      if (wanted === current) return;
      window.history.pushState(window.history.state, '', `${pathname}${wanted}${hash}`);
      notify();
    },
    [write],
  );
  return [value, setValue];
}
