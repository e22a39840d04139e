import { fetchUsage, type UsageFailure, type UsageQuery, type UsageResponse } from '../api/usage';
import { useAnswer, type AnswerState } from './useHistory';

export type UsageState = AnswerState<UsageResponse, UsageFailure>;

/**
 * The usage for `resolve()`'s range and grouping, asked again whenever `key`
 * changes (a new range or grouping) or on `reload`; only the newest answer is
 * shown, the one before stays as `previous` while it loads.
 */
export function useUsage(
  key: string,
  resolve: () => UsageQuery | null,
  fetcher: typeof fetchUsage = fetchUsage,
): UsageState & { reload: () => void } {
  return useAnswer(key, resolve, fetcher);
}
