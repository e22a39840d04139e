import { describe, expect, it, vi } from 'vitest';
import historyGap from '../test/fixtures/history-gap.json';
import { fetchHistory, historyUrl, type HistoryResult } from './history';

const answer = () => structuredClone(historyGap) as Record<string, unknown> & { series: Record<string, unknown>[] };
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const query = { from: 1796065223, to: 1796076023 };

async function run(reply: Response | (() => Promise<Response>), options = {}): Promise<HistoryResult> {
  const fetchImpl = vi.fn(typeof reply === 'function' ? reply : async () => reply);
  return fetchHistory(query, { fetchImpl: fetchImpl as unknown as typeof fetch, ...options });
}

describe('historyUrl', () => {
  it('asks for every GPU (not the host), the range and only the metrics the page draws', () => {
    const url = new URL(historyUrl({ from: 1796065223.25, to: 1796076023 }), 'http://x');
    expect(url.pathname).toBe('/api/history');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      gpu: 'gpus',
      from: '1796065223.25',
      to: '1796076023',
      metrics: 'utilization,memoryUsed,memoryTotal,temperature,powerUsage,powerLimit',
    });
    expect(historyUrl(query, 'csv')).toMatch(/&format=csv$/);
  });
});

describe('fetchHistory', () => {
  it('hands back a real answer, checked', async () => {
    const result = await run(json(answer()));
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.data.series.map((s) => s.kind)).toEqual(['gpu', 'gpu', 'host']);
      expect(result.data.series[0]!.values.utilization!.mean).toContain(null);
    }
  });

  it('sends the query to /api/history, asking for JSON', async () => {
    const fetchImpl = vi.fn(async () => json(answer()));
    await fetchHistory(query, { fetchImpl: fetchImpl as unknown as typeof fetch });
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe(historyUrl(query));
    expect(init.headers).toEqual({ accept: 'application/json' });
  });

  it('refuses an answer the schema does not allow, and says where', async () => {
    const bad = answer();
    (bad.series[0]!.values as Record<string, { mean: unknown[] }>).utilization!.mean[2] = 'high';
    expect(await run(json(bad))).toEqual({
      ok: false,
      error: {
        kind: 'invalid',
        status: 200,
        message: "The server's answer is not in the expected format (/series/0/values/utilization/mean/2: must be number,null).",
      },
    });
    const noTimes = answer();
    delete noTimes.times;
    expect(await run(json(noTimes))).toMatchObject({ ok: false, error: { kind: 'invalid', message: /must have required property 'times'/ } });
    const badTier = { ...answer(), tier: '5m' };
    expect(await run(json(badTier))).toMatchObject({ ok: false, error: { message: /\/tier: must be equal to one of the allowed values \("raw" \| "10s"/ } });
  });

  it('refuses lists that do not match the times, and times that do not run forwards', async () => {
    const short = answer();
    (short.series[1]!.values as Record<string, { max: unknown[] }>).temperature!.max.pop();
    expect(await run(json(short))).toMatchObject({
      ok: false,
      error: { kind: 'invalid', message: /\/series\/1\/values\/temperature\/max: 18 values for 19 times/ },
    });
    const backwards = answer();
    (backwards.times as number[]).reverse();
    expect(await run(json(backwards))).toMatchObject({ ok: false, error: { message: /\/times\/1: not after/ } });
  });

  it('refuses what is not JSON at all', async () => {
    const result = await run(new Response('<html>oops</html>', { status: 200 }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'invalid', message: /not JSON/ } });
  });

  it.each([
    [400, 'from: must be before to', 'http', 'from: must be before to'],
    [404, "gpu: no history for 'GPU-x'", 'http', "gpu: no history for 'GPU-x'"],
    [404, 'history is off (HISTORY=off)', 'off', 'history is off (HISTORY=off)'],
    [503, 'the history store cannot be read: disk I/O error', 'http', 'The server could not answer: the history store cannot be read: disk I/O error'],
  ])('shows the API\'s detail of a %i', async (status, detail, kind, message) => {
    expect(await run(json({ detail }, status))).toEqual({ ok: false, error: { kind, status, message } });
  });

  it('names the status of an error page without a detail (a proxy\'s)', async () => {
    const result = await run(new Response('<h1>Bad Gateway</h1>', { status: 502, statusText: 'Bad Gateway' }));
    expect(result).toEqual({ ok: false, error: { kind: 'http', status: 502, message: 'The server could not answer: 502 Bad Gateway' } });
  });

  it('turns a network failure into a sentence', async () => {
    const result = await run(async () => {
      throw new TypeError('Failed to fetch');
    });
    expect(result).toMatchObject({ ok: false, error: { kind: 'network', status: null, message: /Could not reach the gpulens server/ } });
  });

  it('gives up after the timeout, and says so', async () => {
    const hanging = (_url: string, init?: RequestInit) =>
      new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const result = await fetchHistory(query, { fetchImpl: hanging as unknown as typeof fetch, timeoutMs: 20 });
    expect(result).toMatchObject({ ok: false, error: { kind: 'timeout', message: /did not answer within/ } });
  });

  it('is quietly cancelled when the caller aborts (a newer range was asked for)', async () => {
    const controller = new AbortController();
    const hanging = (_url: string, init?: RequestInit) =>
      new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const pending = fetchHistory(query, { fetchImpl: hanging as unknown as typeof fetch, signal: controller.signal });
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, error: { kind: 'aborted' } });
    const already = await fetchHistory(query, { fetchImpl: hanging as unknown as typeof fetch, signal: controller.signal });
    expect(already).toMatchObject({ ok: false, error: { kind: 'aborted' } });
  });
});
