import { useCallback, useEffect, useState } from 'react';
import { fetchHistory, type HistoryFailure, type HistoryQuery, type HistoryResponse } from '../api/history';

/** An answer of the API as a view sees it: loading (with the one before), there, or failed. */
export type AnswerState<T, E> =
  /** `previous`: the answer shown before, while the new one loads (null the first time). */
  | { readonly state: 'loading'; readonly previous: T | null }
  | { readonly state: 'ok'; readonly data: T }
  | { readonly state: 'error'; readonly error: E };

export type HistoryState = AnswerState<HistoryResponse, HistoryFailure>;

type Fetcher<Q, T, E> = (
  query: Q,
  options: { signal?: AbortSignal },
) => Promise<{ ok: true; data: T } | { ok: false; error: E & { kind: string } }>;

/**
 * Fetches `resolve()`'s question whenever `key` changes (or on `reload`); the
 * request before is aborted, so only the newest answer is shown. `resolve` is
 * called when the request starts: a preset ("the last 24 h") ends at that
 * moment. Null from `resolve`: nothing to ask. Shared by the history, usage
 * and events answers.
 */
export function useAnswer<Q, T, E>(
  key: string,
  resolve: () => Q | null,
  fetcher: Fetcher<Q, T, E>,
): AnswerState<T, E> & { reload: () => void } {
  const [attempt, setAttempt] = useState(0);
  const [result, setResult] = useState<{ key: string; value: AnswerState<T, E> }>({
    key: '',
    value: { state: 'loading', previous: null },
  });
  const token = `${key}#${attempt}`;

  useEffect(() => {
    const query = resolve();
    if (query === null) return;
    const controller = new AbortController();
    void fetcher(query, { signal: controller.signal }).then((r) => {
      if (controller.signal.aborted || (!r.ok && r.error.kind === 'aborted')) return;
      setResult({ key: token, value: r.ok ? { state: 'ok', data: r.data } : { state: 'error', error: r.error } });
    });
    return () => controller.abort();
    // `resolve` reads the question the key stands for: a new function with the same key asks for nothing new.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token, fetcher]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  // An answer for an older key or attempt is not the answer: while the new one loads, it is `previous`.
  const value: AnswerState<T, E> =
    result.key === token
      ? result.value
      : { state: 'loading', previous: result.value.state === 'ok' ? result.value.data : null };
  return { ...value, reload };
}

/** The history for `resolve()`'s range, asked again whenever `key` changes (see useAnswer). */
export function useHistory(
  key: string,
  resolve: () => HistoryQuery | null,
  fetcher: typeof fetchHistory = fetchHistory,
): HistoryState & { reload: () => void } {
  return useAnswer(key, resolve, fetcher);
}
