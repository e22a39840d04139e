/**
 * GET a JSON answer of the API and check it against the backend's schema (a
 * validator generated ahead of time, `npm run gen:protocol`): either the
 * answer, or a message a person can read. Never throws. Shared by the usage
 * and events answers (src/api/history.ts has the same rules, written before
 * this helper).
 *
 * A 401 (the server wants the access token) or a 429 "too many wrong
 * attempts" also raises the page-wide access signal (access.ts): the page
 * then shows the token prompt once, instead of each view its own error.
 */
import { accessSignal, retryAfterSeconds, TOO_MANY_ATTEMPTS } from './access';

export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export interface SchemaValidator<T> {
  (data: unknown): data is T;
  errors?: readonly SchemaError[] | null;
}

export type FetchFailureKind =
  /** 404 "history is off (HISTORY=off)": the server keeps nothing. */
  | 'off'
  /** Any other answer than 200. */
  | 'http'
  | 'network'
  | 'timeout'
  /** Not JSON, or not the shape of the schema. */
  | 'invalid'
  /** The caller gave up (a newer question was asked): nothing to show. */
  | 'aborted';

export interface FetchFailure {
  kind: FetchFailureKind;
  /** The HTTP status, when there was an answer. */
  status: number | null;
  /** For a person: the API's own `detail` where it gave one. */
  message: string;
}

export type FetchResult<T> = { ok: true; data: T } | { ok: false; error: FetchFailure };

export interface FetchJsonOptions {
  /** Aborting it gives `{kind: 'aborted'}`. */
  signal?: AbortSignal;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export const FETCH_TIMEOUT_MS = 20_000;

/** "/rows/0/gpuHours: must be number" (the first problem found). */
export function describeSchemaErrors(errors: readonly SchemaError[] | null | undefined): string {
  const e = errors?.[0];
  if (e === undefined) return 'does not match the schema';
  const allowed = e.params.allowedValues;
  const list = Array.isArray(allowed) ? ` (${allowed.map((v) => JSON.stringify(v)).join(' | ')})` : '';
  return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${list}`;
}

/** The API's `{"detail": "…"}`, if the body is one. */
async function detail(response: Response): Promise<string | null> {
  try {
    const body: unknown = await response.json();
    if (typeof body === 'object' && body !== null && 'detail' in body) {
      const d = (body as { detail: unknown }).detail;
      if (typeof d === 'string' && d.trim() !== '') return d.trim().slice(0, 500);
    }
  } catch {
    /* not JSON: a proxy's error page */
  }
  return null;
}

/**
 * Fetch `url`, parse it, validate it (`check` adds what the schema cannot
 * say; it returns the problem or null). Never throws.
 */
export async function fetchJson<T>(
  url: string,
  validate: SchemaValidator<T>,
  options: FetchJsonOptions & { check?: (data: T) => string | null; slowHint?: string } = {},
): Promise<FetchResult<T>> {
  const { signal, timeoutMs = FETCH_TIMEOUT_MS, fetchImpl = fetch, check, slowHint = 'Try a shorter range.' } = options;
  const fail = (kind: FetchFailureKind, message: string, status: number | null = null): FetchResult<T> => ({
    ok: false,
    error: { kind, status, message },
  });
  if (signal?.aborted) return fail('aborted', 'cancelled');
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const stopped = (): FetchResult<T> | null =>
    timedOut
      ? fail('timeout', `The server did not answer within ${Math.round(timeoutMs / 1000)} s. ${slowHint}`.trim())
      : signal?.aborted
        ? fail('aborted', 'cancelled')
        : null;
  try {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        signal: controller.signal,
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
    } catch {
      return stopped() ?? fail('network', 'Could not reach the gpulens server. Check that it is running.');
    }
    if (!response.ok) {
      const text = await detail(response);
      const status = response.status;
      if (status === 401) accessSignal.needSignIn();
      else if (status === 429 && text !== null && TOO_MANY_ATTEMPTS.test(text)) {
        accessSignal.throttled(retryAfterSeconds(response.headers.get('retry-after')));
      }
      if (status === 404 && text !== null && /^history is off/i.test(text)) return fail('off', text, status);
      const what = text ?? `${status}${response.statusText ? ` ${response.statusText}` : ''}`;
      return fail('http', status >= 500 ? `The server could not answer: ${what}` : what, status);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return stopped() ?? fail('invalid', 'The server answered with something that is not JSON.', response.status);
    }
    if (!validate(body)) {
      return fail('invalid', `The server's answer is not in the expected format (${describeSchemaErrors(validate.errors)}).`, 200);
    }
    const problem = check?.(body) ?? null;
    if (problem !== null) return fail('invalid', `The server's answer is not in the expected format (${problem}).`, 200);
    return { ok: true, data: body };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
