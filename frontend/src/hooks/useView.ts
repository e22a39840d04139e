import { parseView, viewSearch, type View } from '../lib/range';
import { useSearchValue } from './useSearchValue';

/**
 * The view (GPUs · Usage · Events), kept in the URL's query string beside the
 * range (`?view=usage&range=7d`; nothing for the GPUs). Choosing a view pushes
 * a history entry, so back and forward walk through the views seen, like the
 * ranges (useRange); a shared link opens on its view.
 */
export function useView(): [View, (next: View) => void] {
  return useSearchValue(parseView, viewSearch);
}
