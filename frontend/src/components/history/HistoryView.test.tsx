import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { HistoryResponse } from '../../api/history.gen';
import type { HistoryState } from '../../hooks/useHistory';
import historyGap from '../../test/fixtures/history-gap.json';
import { HistoryView, type HistoryViewProps } from './HistoryView';

const real = () => structuredClone(historyGap) as HistoryResponse;
const [KEY0, KEY1] = ['GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46', 'GPU-8bdc187f-8a0f-5d33-899a-e5e718bf488d'];
const LIVE = [
  { key: KEY0, id: 0, name: 'NVIDIA H100 80GB HBM3' },
  { key: KEY1, id: 1, name: 'NVIDIA H100 80GB HBM3' },
];

function view(history: HistoryState, props: Partial<HistoryViewProps> = {}) {
  const onRange = vi.fn();
  const onRetry = vi.fn();
  render(
    <HistoryView
      range={{ kind: 'preset', preset: '24h' }}
      history={history}
      live={LIVE}
      thresholds={{ warn: 70, hot: 85 }}
      csvHref="/api/history?gpu=all&from=1&to=2&format=csv"
      onRange={onRange}
      onRetry={onRetry}
      {...props}
    />,
  );
  return { onRange, onRetry };
}

/** An answer where no GPU has a value: the same grid, every bucket null. */
function blank(data: HistoryResponse, patch: Partial<HistoryResponse>): HistoryResponse {
  for (const s of data.series) {
    for (const stats of Object.values(s.values)) {
      for (const part of [stats.min, stats.mean, stats.max]) part.fill(null);
    }
  }
  return { ...data, ...patch };
}

describe('HistoryView', () => {
  it('shows skeletons while the first answer loads, and says so', () => {
    view({ state: 'loading', previous: null });
    expect(screen.getByTestId('history-skeleton')).toBeInTheDocument();
    expect(screen.getByTestId('history-view')).toHaveAttribute('aria-busy', 'true');
    expect(screen.getByTestId('history-status')).toHaveTextContent('Loading the history.');
    expect(screen.queryByTestId('history-card')).toBeNull();
  });

  it('draws one card per GPU in the live order, four charts each with a summary, never the host', () => {
    view({ state: 'ok', data: real() });
    const cards = screen.getAllByTestId('history-card');
    expect(cards.map((c) => c.dataset.gpuKey)).toEqual([KEY0, KEY1]);
    expect(cards.map((c) => c.dataset.present)).toEqual(['true', 'true']);
    const first = within(cards[0]!);
    expect(first.getByRole('heading', { level: 3 })).toHaveTextContent('GPU 0: H100 80GB HBM3');
    const charts = first.getAllByTestId('history-chart');
    expect(charts.map((c) => c.dataset.metric)).toEqual(['utilization', 'memory', 'temperature', 'power']);
    expect(first.getByRole('img', { name: /^GPU 0 utilization, the last 24 hours: mean \d+ %, max \d+ %$/ })).toBeInTheDocument();
    expect(first.getByRole('img', { name: /^GPU 0 memory used, the last 24 hours: mean [\d.]+ GiB, max [\d.]+ GiB of 79.6 GiB$/ })).toBeInTheDocument();
    expect(first.getByRole('img', { name: /^GPU 0 power, .* of 700 W limit$/ })).toBeInTheDocument();
    expect(screen.getByTestId('history-status')).toHaveTextContent('History loaded: 2 GPUs, the last 24 hours.');
    expect(screen.getByTestId('history-view')).toHaveAttribute('aria-busy', 'false');
    expect(screen.getByRole('link', { name: 'Export CSV' })).toHaveAttribute('href', '/api/history?gpu=all&from=1&to=2&format=csv');
  });

  it('marks a GPU that is in the history but not present now', () => {
    view({ state: 'ok', data: real() }, { live: [LIVE[0]!] });
    const cards = screen.getAllByTestId('history-card');
    expect(cards.map((c) => c.dataset.present)).toEqual(['true', 'false']);
    expect(within(cards[1]!).getByTestId('gpu-gone')).toHaveTextContent(/^Not present now · last seen /);
    expect(within(cards[0]!).queryByTestId('gpu-gone')).toBeNull();
  });

  it('keeps the last answer on screen, dimmed, while the next range loads', () => {
    view({ state: 'loading', previous: real() });
    expect(screen.getAllByTestId('history-card')).toHaveLength(2);
    expect(screen.getByTestId('history-grid')).toHaveClass('opacity-50');
    expect(screen.getByTestId('history-view')).toHaveAttribute('aria-busy', 'true');
    expect(screen.queryByRole('link', { name: 'Export CSV' })).toBeNull();
  });

  it('says when the range starts before the history does', () => {
    const data = real();
    view({ state: 'ok', data: { ...data, earliest: data.from + 3600 } });
    expect(screen.getByTestId('history-earliest')).toHaveTextContent(/^No history before .+: gpulens was not running\.$/);
  });

  it('is empty, with the reason, when gpulens was not running over the whole range', async () => {
    const data = real();
    const { onRange } = view({ state: 'ok', data: blank(data, { earliest: data.to + 60 }) });
    const empty = screen.getByTestId('history-empty');
    expect(empty).toHaveTextContent('Nothing recorded in this range');
    expect(empty).toHaveTextContent(/No history before .+: gpulens was not running\./);
    expect(screen.queryByTestId('history-card')).toBeNull();
    await userEvent.click(within(empty).getByRole('button', { name: 'Back to live' }));
    expect(onRange).toHaveBeenCalledWith({ kind: 'live' });
  });

  it('is empty when nothing was ever stored, and shows the paused store\'s reason', () => {
    const data = blank(real(), { earliest: null, status: { state: 'paused', reason: 'disk full' } });
    view({ state: 'ok', data });
    expect(screen.getByTestId('history-empty')).toHaveTextContent('No history yet');
    expect(screen.getByTestId('history-empty')).toHaveTextContent('Recording is paused: disk full.');
    expect(screen.getByTestId('history-paused')).toHaveTextContent('Recording is paused: disk full.');
  });

  it('says history is off (404 with that detail), with the way back to live', () => {
    view({ state: 'error', error: { kind: 'off', status: 404, message: 'history is off (HISTORY=off)' } });
    const off = screen.getByTestId('history-off');
    expect(off).toHaveTextContent('History is off');
    expect(off).toHaveTextContent('history is off (HISTORY=off)');
    expect(within(off).getByRole('button', { name: 'Back to live' })).toBeInTheDocument();
  });

  it('shows the API\'s message on an error, as an alert, with Try again', async () => {
    const message = 'The server could not answer: the history store cannot be read: disk I/O error';
    const { onRetry } = view({ state: 'error', error: { kind: 'http', status: 503, message } });
    expect(screen.getByRole('alert')).toHaveTextContent('Could not load the history');
    expect(screen.getByTestId('history-error-message')).toHaveTextContent(message);
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(onRetry).toHaveBeenCalledOnce();
  });
});
