import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import HistoryPage from './HistoryPage';
import historyGap from './test/fixtures/history-gap.json';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** /api/events for the markers: none by default (an older server without the route). */
let eventsReply: () => Response | Promise<Response> = () => json({ detail: 'Not Found' }, 404);

/** Answers /api/history with `replies` in turn (the last one again and again); its mock sees those calls only. */
function stubFetch(...replies: (() => Response | Promise<Response>)[]) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL) => {
    void input;
    const reply = replies.length > 1 ? replies.shift()! : replies[0]!;
    return reply();
  });
  const eventsMock = vi.fn(async (input: RequestInfo | URL) => {
    void input;
    return eventsReply();
  });
  vi.stubGlobal('fetch', (input: RequestInfo | URL) =>
    String(input).startsWith('/api/events') ? eventsMock(input) : fetchMock(input),
  );
  return Object.assign(fetchMock, { events: eventsMock });
}

const page = (range = { kind: 'preset', preset: '24h' } as const, onRange = vi.fn()) =>
  render(<HistoryPage range={range} live={null} thresholds={{ warn: 70, hot: 85 }} onRange={onRange} />);

afterEach(() => {
  vi.unstubAllGlobals();
  eventsReply = () => json({ detail: 'Not Found' }, 404);
});

describe('HistoryPage (fetch, validation, view)', () => {
  it('asks for the last 24 h of the metrics it draws, then shows the cards and the CSV of that range', async () => {
    const now = Date.now() / 1000;
    const fetchMock = stubFetch(() => json(historyGap));
    page();
    expect(screen.getByTestId('history-skeleton')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('history-card')).toHaveLength(2));
    const url = new URL(String(fetchMock.mock.calls[0]![0]), 'http://x');
    expect(url.searchParams.get('metrics')).toBe('utilization,memoryUsed,memoryTotal,temperature,powerUsage,powerLimit');
    const [from, to] = [Number(url.searchParams.get('from')), Number(url.searchParams.get('to'))];
    expect(to - from).toBe(86_400);
    expect(Math.abs(to - now)).toBeLessThan(5);
    const csv = new URL(screen.getByRole('link', { name: 'Export CSV' }).getAttribute('href')!, 'http://x');
    expect(Object.fromEntries(csv.searchParams)).toMatchObject({
      from: String(historyGap.from),
      to: String(Math.round(historyGap.to * 1000) / 1000),
      format: 'csv',
    });
  });

  it('shows an error, not a crash, when the answer fails validation', async () => {
    const broken = structuredClone(historyGap) as Record<string, unknown>;
    broken.series = [{ key: 'GPU-x', kind: 'gpu', name: 'H100', index: 'zero', firstSeen: 1, lastSeen: 2, values: {} }];
    stubFetch(() => json(broken));
    page();
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load the history');
    expect(screen.getByTestId('history-error-message')).toHaveTextContent(
      "The server's answer is not in the expected format (/series/0/index: must be integer,null).",
    );
    expect(screen.queryByTestId('history-card')).toBeNull();
  });

  it('shows the API\'s 400 detail, and tries again on request', async () => {
    const fetchMock = stubFetch(
      () => json({ detail: 'from: must be before to' }, 400),
      () => json(historyGap),
    );
    page();
    expect(await screen.findByTestId('history-error-message')).toHaveTextContent('from: must be before to');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(screen.getAllByTestId('history-card')).toHaveLength(2));
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('says history is off when the server keeps none', async () => {
    stubFetch(() => json({ detail: 'history is off (HISTORY=off)' }, 404));
    page();
    expect(await screen.findByTestId('history-off')).toHaveTextContent('History is off');
  });

  it('asks again when the range changes, and shows only the newest answer', async () => {
    const fetchMock = stubFetch(() => json(historyGap));
    const onRange = vi.fn();
    const { rerender } = page({ kind: 'preset', preset: '24h' }, onRange);
    await waitFor(() => expect(screen.getAllByTestId('history-card')).toHaveLength(2));
    rerender(<HistoryPage range={{ kind: 'custom', from: 1796065223, to: 1796076023 }} live={null} thresholds={null} onRange={onRange} />);
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2));
    const url = new URL(String(fetchMock.mock.calls[1]![0]), 'http://x');
    expect([url.searchParams.get('from'), url.searchParams.get('to')]).toEqual(['1796065223', '1796076023']);
    await waitFor(() => expect(screen.getByTestId('history-view')).toHaveAttribute('data-state', 'ok'));
  });
});

describe('HistoryPage: event markers', () => {
  const KEY0 = 'GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46';
  const KEY1 = 'GPU-8bdc187f-8a0f-5d33-899a-e5e718bf488d';
  const iso = (unixS: number) => new Date(unixS * 1000).toISOString();
  const event = (id: string, patch: Record<string, unknown>) => ({
    id,
    kind: 'hot',
    severity: 'warning',
    start: iso(historyGap.from + 600),
    end: iso(historyGap.from + 1800),
    gpu: KEY0,
    gpuIndex: 0,
    gpuName: 'NVIDIA H100 80GB HBM3',
    pid: null,
    process: null,
    user: null,
    container: null,
    summary: 'GPU 0 at 83 °C, 2 °C from its slowdown threshold',
    action: 'Check the airflow.',
    value: 83,
    ...patch,
  });
  const eventsAnswer = (events: unknown[], total = events.length) => ({
    from: historyGap.from,
    to: historyGap.to,
    events,
    next: null,
    total,
    status: { state: 'ok', reason: null },
  });
  const markers = () => screen.getAllByTestId('history-card').map((c) => Number(c.dataset.markers));

  it('asks for the range\'s events once (limit 500) and marks each GPU\'s charts, the host\'s on every card', async () => {
    eventsReply = () =>
      json(
        eventsAnswer([
          event('hot-0', {}),
          event('lost-1', { kind: 'gpuLost', severity: 'critical', gpu: KEY1, gpuIndex: 1, start: iso(historyGap.from + 3000), end: iso(historyGap.from + 3000) }),
          event('src', { kind: 'provider', severity: 'info', gpu: null, gpuIndex: null, gpuName: null, start: iso(historyGap.from + 5000), end: iso(historyGap.from + 5000), summary: 'GPU source: NVML' }),
          // Outside the range: not drawn.
          event('old', { start: iso(historyGap.from - 7200), end: iso(historyGap.from - 3600) }),
        ], 1200),
      );
    const fetchMock = stubFetch(() => json(historyGap));
    page();
    await waitFor(() => expect(markers()).toEqual([2, 2]));
    expect(fetchMock.events).toHaveBeenCalledTimes(1);
    const url = new URL(String(fetchMock.events.mock.calls[0]![0]), 'http://x');
    expect(url.searchParams.get('limit')).toBe('500');
    expect(Number(url.searchParams.get('to')) - Number(url.searchParams.get('from'))).toBe(86_400);
    const [card0, card1] = screen.getAllByTestId('history-card');
    // Every chart of a card carries its markers, said in its accessible summary.
    const charts0 = card0!.querySelectorAll('[data-testid="history-chart"]');
    expect([...charts0].map((c) => (c as HTMLElement).dataset.markers)).toEqual(['2', '2', '2', '2']);
    const summary0 = card0!.querySelector('[role="img"]')!.getAttribute('aria-label')!;
    expect(summary0).toMatch(/2 events: GPU source changed \(info\), at \d\d:\d\d: GPU source: NVML; Hot \(warning\), \d\d:\d\d–\d\d:\d\d: GPU 0 at 83 °C/);
    const summary1 = card1!.querySelector('[role="img"]')!.getAttribute('aria-label')!;
    expect(summary1).toContain('GPU lost (critical)');
    expect(summary1).not.toContain('Hot (warning)');
    expect(screen.getByTestId('history-events-capped')).toHaveTextContent('newest 4 of the 1200 events');
  });

  it.each([
    ['fails', () => json({ detail: 'boom' }, 500)],
    ['is not the schema\'s', () => json({ events: 'none' })],
    ['never comes back', () => Promise.reject(new TypeError('network'))],
  ])('draws the charts without markers when the events answer %s', async (_, reply) => {
    eventsReply = reply;
    const fetchMock = stubFetch(() => json(historyGap));
    page();
    await waitFor(() => expect(screen.getAllByTestId('history-card')).toHaveLength(2));
    await waitFor(() => expect(fetchMock.events).toHaveBeenCalledTimes(1));
    expect(markers()).toEqual([0, 0]);
    expect(screen.getAllByTestId('history-chart')).toHaveLength(8);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('history-view')).toHaveAttribute('data-state', 'ok');
  });
});
