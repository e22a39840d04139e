import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { FleetHistoryResponse } from '../../api/fleet.gen';
import { FleetHistory } from './FleetHistory';

const T = 1_764_676_800;
const series = (host: string, gpu: string, util: (number | null)[]) => ({
  key: `${host}:9400`,
  host,
  instance: `${host}:9400`,
  gpu,
  uuid: null,
  name: 'NVIDIA H100 80GB HBM3',
  times: util.map((_, i) => T + i * 60),
  utilization: util,
  memoryUsed: util.map(() => null),
  temperature: util.map(() => null),
  powerUsage: util.map(() => null),
});

const answer = (status: FleetHistoryResponse['status'] = { state: 'ok' }): FleetHistoryResponse => ({
  from: T,
  to: T + 180,
  step: 60,
  series: [
    series('node-b', '1', [50, 60, 70, 80]),
    series('node-a', '0', [0, 10, null, 30]),
    series('node-b', '0', [90, 90, 90, 90]),
  ],
  status,
});

describe('FleetHistory', () => {
  it('draws one utilization chart per host, its GPUs in the legend with mean and max', () => {
    render(<FleetHistory history={{ state: 'ok', data: answer() }} onRetry={() => {}} rangeText="the last hour" />);
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('The fleet over the last hour');
    const charts = screen.getAllByTestId('fleet-history-host');
    expect(charts.map((c) => within(c).getByRole('heading').textContent)).toEqual(['node-a', 'node-b']);
    const b = charts[1]!;
    expect(within(b).getByRole('img')).toHaveAccessibleName(
      'Utilization per GPU on node-b: GPU 0: mean 90 %, max 90 %; GPU 1: mean 65 %, max 80 %',
    );
    expect(b.querySelectorAll('path')).toHaveLength(2);
    expect(within(b).getByRole('list', { name: 'GPUs of node-b' })).toHaveTextContent('GPU 0');
    expect(screen.queryByTestId('fleet-status')).toBeNull();
  });

  it('says when Prometheus answered only in part', () => {
    render(
      <FleetHistory
        history={{ state: 'ok', data: answer({ state: 'degraded', reason: 'query timed out' }) }}
        onRetry={() => {}}
        rangeText="the last hour"
      />,
    );
    expect(screen.getByTestId('fleet-status')).toHaveTextContent('Prometheus answered in part: query timed out.');
  });

  it('shows a failure with a Retry, and a skeleton while the first answer loads', async () => {
    const onRetry = vi.fn();
    const { rerender } = render(
      <FleetHistory history={{ state: 'loading', previous: null }} onRetry={onRetry} rangeText="the last hour" />,
    );
    expect(screen.getByTestId('fleet-history-skeleton')).toBeInTheDocument();
    rerender(
      <FleetHistory
        history={{
          state: 'error',
          error: { kind: 'http', status: 502, message: 'The server could not answer: Prometheus did not answer' },
        }}
        onRetry={onRetry}
        rangeText="the last hour"
      />,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('Prometheus did not answer');
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(onRetry).toHaveBeenCalledOnce();
  });
});
