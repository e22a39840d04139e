import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../api/parse';
import type { FleetMsg } from '../../api/types';
import type { FleetView } from '../../api/view';
import { mergeFleet } from '../../stream/fleet';
import { fleetGpu, fleetHost, fleetMsg, FLEET_T0 } from '../../test/fleet';
import { FleetLive } from './FleetLive';

const THRESHOLDS = { warn: 70, hot: 85 };

function view(message: Record<string, unknown>): FleetView {
  const r = parseMessage(JSON.stringify(message));
  if (!r.ok) throw new Error(r.error);
  return mergeFleet(null, r.message as FleetMsg);
}

const lab = () => [
  fleetHost('node-b', [fleetGpu(0, { utilization: 90 }), fleetGpu(1, { utilization: 70 })], { url: 'http://node-b:8000/' }),
  fleetHost('node-a', [fleetGpu(0, { name: 'NVIDIA A100-SXM4-40GB', utilization: 10, state: 'idle' })], {
    url: 'javascript:alert(1)',
  }),
  fleetHost(
    'node-c',
    [fleetGpu(0, { utilization: 55, temperature: 91, state: 'stale' }), fleetGpu(1, { utilization: 33, state: 'down' })],
    { state: 'down', reason: 'up == 0: connection refused', lastSample: FLEET_T0 / 1000 - 120 },
  ),
];

const hostNames = () => screen.getAllByTestId('fleet-host-name').map((h) => h.textContent);
const section = (name: string) =>
  screen.getAllByTestId('fleet-host').find((s) => within(s).getByTestId('fleet-host-name').textContent === name)!;

describe('FleetLive', () => {
  it('waits for the first fleet message with a skeleton', () => {
    render(<FleetLive fleet={null} thresholds={THRESHOLDS} />);
    expect(screen.getByTestId('fleet-skeleton')).toBeInTheDocument();
  });

  it('shows the counts in the hero and groups the GPUs by host, sorted by name', () => {
    render(<FleetLive fleet={view(fleetMsg(lab()))} thresholds={THRESHOLDS} />);
    const hero = screen.getByTestId('fleet-hero');
    expect(within(hero).getByRole('group', { name: 'Hosts' })).toHaveTextContent('3');
    expect(within(hero).getByRole('group', { name: 'Hosts down' })).toHaveTextContent('1');
    expect(within(hero).getByRole('group', { name: 'GPUs' })).toHaveTextContent('5');
    expect(within(hero).getByRole('group', { name: 'Busy' })).toHaveTextContent('2');
    expect(within(hero).getByRole('group', { name: 'Idle' })).toHaveTextContent('1');
    expect(within(hero).getByRole('group', { name: 'Hot' })).toHaveTextContent('0');
    // The fleet's utilization counts the hosts that are up: (90 + 70 + 10) / 3.
    expect(screen.getByTestId('fleet-util')).toHaveTextContent('57%');
    expect(hostNames()).toEqual(['node-a', 'node-b', 'node-c']);
    expect(within(section('node-b')).getAllByTestId('gpu-row')).toHaveLength(2);
    expect(within(section('node-a')).getAllByTestId('gpu-row')).toHaveLength(1);
    expect(within(section('node-a')).getByRole('heading', { level: 3, name: /A100/ })).toBeInTheDocument();
    expect(within(section('node-b')).getAllByRole('img', { name: /Utilization/ })).toHaveLength(2); // sparklines
  });

  it('shows a down host as down, its last-known GPUs greyed, never as zeros', () => {
    render(<FleetLive fleet={view(fleetMsg(lab()))} thresholds={THRESHOLDS} />);
    const c = section('node-c');
    expect(c).toHaveAttribute('data-state', 'down');
    expect(within(c).getByTestId('fleet-host-state')).toHaveTextContent('Host state: Down');
    expect(within(c).getByTestId('fleet-host-reason')).toHaveTextContent('up == 0: connection refused');
    expect(within(c).getByTestId('fleet-host-reason')).toHaveTextContent('Last sample 2 min ago');
    const rows = within(c).getAllByTestId('gpu-row');
    expect(rows.map((r) => r.getAttribute('data-state'))).toEqual(['stale', 'down']);
    for (const r of rows) expect(r).toHaveAttribute('data-dimmed');
    expect(within(rows[0]!).getByTestId('row-util')).toHaveTextContent('55 %');
    expect(within(rows[0]!).getByTestId('row-temp')).toHaveTextContent('91°HOT');
    expect(within(rows[1]!).getByTestId('row-util')).toHaveTextContent('33 %');
    // A live host is not greyed.
    for (const r of within(section('node-b')).getAllByTestId('gpu-row')) expect(r).not.toHaveAttribute('data-dimmed');
  });

  it('shows a stale host and one without GPUs', () => {
    const hosts = [
      fleetHost('quiet', [fleetGpu(0, { state: 'stale' })], { state: 'stale', reason: 'no sample for 90 s' }),
      fleetHost('web', [], { exporter: 'unknown' }),
    ];
    render(<FleetLive fleet={view(fleetMsg(hosts))} thresholds={THRESHOLDS} />);
    expect(section('quiet')).toHaveAttribute('data-state', 'stale');
    expect(within(section('quiet')).getByTestId('fleet-host-state')).toHaveTextContent('Stale');
    expect(within(section('web')).getByTestId('fleet-host-empty')).toHaveTextContent('exposes no GPU series');
  });

  it('links a host to its gpulens page only for http(s), opening safely', () => {
    render(<FleetLive fleet={view(fleetMsg(lab()))} thresholds={THRESHOLDS} />);
    const link = within(section('node-b')).getByRole('link', { name: /Open gpulens for node-b/ });
    expect(link).toHaveAttribute('href', 'http://node-b:8000/');
    expect(link).toHaveAttribute('rel', 'noopener noreferrer');
    expect(link).toHaveAttribute('target', '_blank');
    expect(within(section('node-a')).queryByRole('link')).toBeNull(); // javascript: is no link
    expect(within(section('node-c')).queryByRole('link')).toBeNull(); // none set
  });

  it('filters by host or GPU name, and shows label values as text', async () => {
    const user = userEvent.setup();
    const evil = '<script>alert(1)</script>';
    const hosts = [
      ...lab(),
      fleetHost(evil, [fleetGpu(0, { name: '<img src=x onerror=alert(2)>' })], { key: 'evil:1', instance: 'evil:1' }),
    ];
    const { container } = render(<FleetLive fleet={view(fleetMsg(hosts))} thresholds={THRESHOLDS} />);
    expect(hostNames()).toContain(evil);
    expect(container.querySelector('script, img')).toBeNull();

    const filter = screen.getByRole('searchbox', { name: 'Filter hosts and GPUs by name' });
    await user.type(filter, 'NODE-B');
    expect(hostNames()).toEqual(['node-b']);
    expect(screen.getByTestId('fleet-count')).toHaveTextContent('1 of 4 hosts match “NODE-B”');

    await user.clear(filter);
    await user.type(filter, 'a100');
    expect(hostNames()).toEqual(['node-a']);

    await user.clear(filter);
    await user.type(filter, '<script>');
    expect(hostNames()).toEqual([evil]);
    expect(within(section(evil)).getByRole('heading', { level: 3, name: /<img src=x onerror=alert\(2\)>/ })).toBeInTheDocument();
    expect(container.querySelector('script, img')).toBeNull();

    await user.clear(filter);
    await user.type(filter, 'nothing-like-this');
    expect(screen.queryAllByTestId('fleet-host')).toHaveLength(0);
    expect(screen.getByTestId('fleet-no-match')).toHaveTextContent('No host or GPU matches “nothing-like-this”');
  });

  it('sorts by keyboard: arrows move, Enter chooses', async () => {
    const user = userEvent.setup();
    render(<FleetLive fleet={view(fleetMsg(lab()))} thresholds={THRESHOLDS} />);
    const sort = screen.getByRole('group', { name: 'Sort hosts by' });
    const button = (name: string) => within(sort).getByRole('button', { name });
    expect(button('Host')).toHaveAttribute('aria-pressed', 'true');
    act(() => button('Host').focus());
    await user.keyboard('{ArrowRight}{Enter}');
    expect(button('Utilization')).toHaveAttribute('aria-pressed', 'true');
    expect(hostNames()).toEqual(['node-b', 'node-c', 'node-a']); // 80, 44, 10 % mean
    await user.keyboard('{ArrowRight}{Enter}');
    expect(hostNames()).toEqual(['node-c', 'node-a', 'node-b']); // down first, then by name
    await user.keyboard('{End}{Enter}');
    expect(button('GPUs')).toHaveAttribute('aria-pressed', 'true');
    expect(hostNames()).toEqual(['node-b', 'node-c', 'node-a']);
  });

  it('says what is wrong with Prometheus, and the rest of the page keeps working', () => {
    const { rerender } = render(<FleetLive fleet={view(fleetMsg(lab()))} thresholds={THRESHOLDS} />);
    const status = () => screen.getByTestId('fleet-status');
    expect(status()).toHaveAttribute('data-state', 'ok');
    expect(status()).toHaveTextContent('Prometheus answered in 12 ms (3 queries).');
    rerender(
      <FleetLive
        fleet={view(
          fleetMsg(lab(), {
            state: 'unavailable',
            reason: 'connection refused (http://prom:9090)',
            lastSuccess: FLEET_T0 / 1000 - 30,
          }),
        )}
        thresholds={THRESHOLDS}
      />,
    );
    expect(status()).toHaveAttribute('data-state', 'unavailable');
    expect(status()).toHaveTextContent(
      'Prometheus did not answer: connection refused (http://prom:9090). Showing the hosts as last known (last answer 30 s ago)',
    );
    expect(screen.getAllByTestId('fleet-host')).toHaveLength(3); // still shown
    rerender(
      <FleetLive
        fleet={view(fleetMsg(lab(), { state: 'degraded', reason: '1 of 3 queries failed: timeout' }))}
        thresholds={THRESHOLDS}
      />,
    );
    expect(status()).toHaveTextContent('Prometheus answered in part: 1 of 3 queries failed: timeout.');
  });

  it('re-renders only the hosts that changed', () => {
    const first = view(fleetMsg(lab()));
    const next = lab();
    (next[1]!.gpus as Record<string, unknown>[])[0]!.utilization = 12;
    const r = parseMessage(JSON.stringify(fleetMsg(next)));
    if (!r.ok) throw new Error(r.error);
    const second = mergeFleet(first, r.message as FleetMsg);
    const { rerender } = render(<FleetLive fleet={first} thresholds={THRESHOLDS} />);
    const before = within(section('node-b')).getAllByTestId('gpu-row');
    rerender(<FleetLive fleet={second} thresholds={THRESHOLDS} />);
    expect(within(section('node-b')).getAllByTestId('gpu-row')[0]).toBe(before[0]);
    expect(within(section('node-a')).getByTestId('row-util')).toHaveTextContent('12 %');
  });
});
