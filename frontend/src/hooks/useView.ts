import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { parseView, viewSearch, type View } from '../lib/range';

/**
 * The view (GPUs · Usage · Events), kept in the URL's query string beside the
 * range (`?view=usage&range=7d`; nothing for the GPUs). Choosing a view pushes
 * a history entry, so back and forward walk through the views seen, like the
 * ranges (useRange); a shared link opens on its view.
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

export function useView(): [View, (next: View) => void] {
  const search = useSyncExternalStore(subscribe, getSearch, () => '');
  const view = useMemo(() => parseView(search), [search]);
  const setView = useCallback((next: View) => {
    const { pathname, search: current, hash } = window.location;
    const wanted = viewSearch(next, current);
    if (wanted === current) return;
    window.history.pushState(window.history.state, '', `${pathname}${wanted}${hash}`);
    notify();
  }, []);
  return [view, setView];
}
