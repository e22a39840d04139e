import { fetchFleetHistory, type FleetHistoryFailure, type FleetHistoryQuery, type FleetHistoryResponse } from '../api/fleetHistory';
import { useAnswer, type AnswerState } from './useHistory';

export type FleetHistoryState = AnswerState<FleetHistoryResponse, FleetHistoryFailure>;

/** The fleet's history for `resolve()`'s range, asked again whenever `key` changes (see useAnswer). */
export function useFleetHistory(
  key: string,
  resolve: () => FleetHistoryQuery | null,
  fetcher: typeof fetchFleetHistory = fetchFleetHistory,
): FleetHistoryState & { reload: () => void } {
  return useAnswer(key, resolve, fetcher);
}
