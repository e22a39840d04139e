import { parseRange, rangeSearch, type TimeRange } from '../lib/range';
import { useSearchValue } from './useSearchValue';

/**
 * The time range, kept in the URL's query string (`?range=24h`, `?from=…&to=…`,
 * nothing for live). Choosing a range pushes a history entry, so back and
 * forward walk through the ranges seen; a shared link opens on its range.
 */
export function useRange(): [TimeRange, (next: TimeRange) => void] {
  return useSearchValue(parseRange, rangeSearch);
}
