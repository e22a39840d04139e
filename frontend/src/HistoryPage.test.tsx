import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import HistoryPage from './HistoryPage';
import historyGap from './test/fixtures/history-gap.json';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function stubFetch(...replies: (() => Response | Promise<Response>)[]) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL) => {
    void input;
    const reply = replies.length > 1 ? replies.shift()! : replies[0]!;
    return reply();
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

const page = (range = { kind: 'preset', preset: '24h' } as const, onRange = vi.fn()) =>
  render(<HistoryPage range={range} live={null} thresholds={{ warn: 70, hot: 85 }} onRange={onRange} />);

afterEach(() => vi.unstubAllGlobals());

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
