import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { at, eventRecord, findingsMsg, helloWithEvents } from '../test/events';
import { helloMsg, rawNoSource, rawNvtop, telemetryMsg } from '../test/payloads';
import { streamFrom } from '../test/stream';
import { Dashboard } from './Dashboard';

const replayStream = (extra = {}) =>
  streamFrom([helloMsg([telemetryMsg(1), telemetryMsg(2)])], extra);

describe('Dashboard', () => {
  it('lays out nav, hero, system strip and one card per GPU', () => {
    render(<Dashboard {...replayStream()} />);
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('gpulens: GPU dashboard for gpu-box');

    const nav = screen.getByRole('navigation', { name: 'gpulens' });
    expect(nav).toHaveTextContent('gpulens');
    expect(nav).toHaveTextContent('gpu-box');
    expect(within(nav).getByTestId('connection-pill')).toHaveTextContent('Connection: Live');
    expect(within(nav).getByTestId('source-pill')).toHaveTextContent('GPU source: REPLAY');
    expect(nav).toHaveTextContent('Poll rate: 4 Hz');

    const hero = screen.getByRole('region', { name: 'Aggregate GPU utilization' });
    expect(hero).toHaveTextContent('24%'); // (0 + 48) / 2
    expect(screen.getByTestId('status-sentence')).toHaveTextContent('2 GPUs · 1 busy · hottest 55 °C', { normalizeWhitespace: true });
    expect(within(hero).getByRole('group', { name: 'Memory' })).toHaveTextContent('28.2/ 159 GiB');
    expect(within(hero).getByRole('group', { name: 'Power' })).toHaveTextContent('578/ 1400 W');
    expect(within(hero).getByRole('group', { name: 'GPUs' })).toHaveTextContent('2');

    const system = screen.getByRole('region', { name: 'Host system' });
    expect(system).toHaveTextContent('Load 1 / 5 / 150.980.50 · 0.26');
    expect(system).toHaveTextContent('Disk23% used');

    expect(screen.getAllByTestId('gpu-card')).toHaveLength(2);
    expect(screen.getByTestId('replay-banner')).toHaveTextContent('recorded demo data');
    expect(screen.queryByTestId('connection-banner')).toBeNull();
  });

  it('keys a GPU without a uuid as the backend does, so its gpuRemoved removes the card', () => {
    const nvtop = { ...rawNvtop(), seq: 1 };
    const { rerender } = render(<Dashboard {...streamFrom([helloMsg([nvtop], {}, 'nvtop')])} />);
    expect(screen.getByTestId('gpu-card')).toHaveAttribute('data-gpu-key', 'index:0');
    const removed = { type: 'gpuRemoved', seq: 2, timestamp: '2026-11-28T04:00:01.000Z', uuid: 'index:0', id: 0, name: 'NVIDIA H100 80GB HBM3' };
    rerender(<Dashboard {...streamFrom([helloMsg([nvtop], {}, 'nvtop'), removed])} />);
    expect(screen.queryAllByTestId('gpu-card')).toHaveLength(0);
    expect(screen.getByTestId('live-region')).toHaveTextContent(/removed/i);
  });

  it('flags the hottest GPU in words when it is warm or hot', () => {
    const hot = streamFrom([helloMsg([telemetryMsg(1, (t) => ((t.gpus[1] as Record<string, unknown>).temperature = 91))])]);
    render(<Dashboard {...hot} />);
    expect(screen.getByTestId('status-sentence')).toHaveTextContent('2 GPUs · 1 busy · hottest 91 °C (HOT)');
  });

  it('counts busy GPUs and flags heat by the server\'s config, not by defaults of its own', () => {
    const config = { busyUtilization: 60, temperatureThresholds: { warn: 50, hot: 80 } };
    render(<Dashboard {...streamFrom([helloMsg([telemetryMsg(1)], config)])} />);
    expect(screen.getByTestId('status-sentence')).toHaveTextContent('2 GPUs · all idle · hottest 55 °C (WARM)', {
      normalizeWhitespace: true,
    });
  });

  it('shows no GPU before the hello that carries the thresholds', () => {
    render(<Dashboard {...streamFrom([telemetryMsg(1)])} />);
    expect(screen.getByTestId('skeleton')).toBeInTheDocument();
    expect(screen.queryAllByTestId('gpu-card')).toHaveLength(0);
  });

  it('labels a real source plainly, without the replay banner', () => {
    render(<Dashboard {...streamFrom([helloMsg([telemetryMsg(1, (t) => (t.source = 'nvml'))], {}, 'nvml')])} />);
    expect(screen.getByTestId('source-pill')).toHaveTextContent('NVML');
    expect(screen.queryByTestId('replay-banner')).toBeNull();
  });

  it('shows skeletons, not a spinner, while connecting', () => {
    render(<Dashboard {...streamFrom([], { connection: 'connecting', lastSampleAt: null, lastMessageAt: null })} />);
    expect(screen.getByTestId('skeleton')).toBeInTheDocument();
    expect(screen.queryAllByTestId('gpu-card')).toHaveLength(0);
    expect(screen.getByTestId('connection-pill')).toHaveTextContent('Connecting');
    expect(screen.queryByRole('progressbar')).toBeNull();
  });

  it('explains a machine with no GPU source, reason by reason, with a fix for each', () => {
    render(<Dashboard {...streamFrom([helloMsg([rawNoSource()], {}, 'none')])} />);
    const panel = screen.getByTestId('no-gpu-panel');
    expect(panel).toHaveTextContent('No GPU source found');
    const items = within(panel).getAllByRole('listitem');
    expect(items).toHaveLength(3);
    expect(items[0]).toHaveTextContent('nvml');
    expect(items[0]).toHaveTextContent('NVML Shared Library Not Found');
    expect(items[0]).toHaveTextContent('Install the NVIDIA driver');
    expect(items[0]).toHaveTextContent('--gpus all');
    expect(items[1]).toHaveTextContent('nvidia-smi: not found on PATH');
    expect(items[1]).toHaveTextContent('comes with the NVIDIA driver');
    expect(items[2]).toHaveTextContent('nvtop 3.2 or newer');
    expect(panel).toHaveTextContent('tried every GPU source');
    expect(panel).toHaveTextContent('make demo');
    // Host metrics keep flowing; no hero or cards.
    expect(screen.getByRole('region', { name: 'Host system' })).toBeInTheDocument();
    expect(screen.queryAllByTestId('gpu-card')).toHaveLength(0);
    expect(screen.getByTestId('source-pill')).toHaveTextContent('no GPU source');
  });

  it('shows the backend as unreachable, with the time since the last sample and a Reconnect button', async () => {
    const stream = replayStream({
      connection: 'offline',
      failures: 3,
      lastSampleAt: Date.now() - 12_000,
      nextRetryAt: Date.now() + 4_000,
    });
    render(<Dashboard {...stream} />);
    const banner = screen.getByTestId('connection-banner');
    expect(banner).toHaveTextContent('Backend unreachable');
    expect(banner).toHaveTextContent('last sample 12 s ago');
    expect(banner).toHaveTextContent('retrying in 4 s');
    expect(screen.getByTestId('connection-pill')).toHaveTextContent('Offline');
    // The last numbers stay, marked stale.
    expect(screen.getAllByTestId('gpu-card')).toHaveLength(2);
    expect(banner).toHaveTextContent('numbers below are stale');

    await userEvent.click(within(banner).getByRole('button', { name: 'Reconnect' }));
    expect(stream.reconnectNow).toHaveBeenCalledTimes(1);
  });

  it('never shows a blank page when the backend was never reached', () => {
    render(<Dashboard {...streamFrom([], { connection: 'offline', failures: 3, lastSampleAt: null, lastMessageAt: null })} />);
    expect(screen.getByTestId('connection-banner')).toHaveTextContent('no sample received yet');
    expect(screen.getByTestId('unreachable-panel')).toHaveTextContent('gpulens serve');
    expect(screen.getByRole('button', { name: 'Reconnect' })).toBeInTheDocument();
    expect(screen.queryByTestId('skeleton')).toBeNull();
  });

  it('says why the server closed the link, and when the provider is degraded', () => {
    const { rerender } = render(
      <Dashboard
        {...replayStream({ connection: 'reconnecting', failures: 1, serverError: { code: 'too_many_clients', message: 'Too many dashboards open' } })}
      />,
    );
    expect(screen.getByTestId('connection-banner')).toHaveTextContent('reconnecting');
    expect(screen.getByTestId('connection-banner')).toHaveTextContent('Server said: Too many dashboards open');

    rerender(
      <Dashboard {...replayStream({ status: { state: 'degraded', provider: 'nvml', reason: 'NVML calls time out', unavailable: {} } })} />,
    );
    expect(screen.getByTestId('provider-banner')).toHaveTextContent('GPU source nvml is degraded');
    expect(screen.getByTestId('provider-banner')).toHaveTextContent('NVML calls time out');
  });

  it('shows a very long provider reason whole, wrapping inside the banner', () => {
    const reason = 'R'.repeat(400);
    render(<Dashboard {...replayStream({ status: { state: 'degraded', provider: 'nvml', reason, unavailable: {} } })} />);
    const banner = screen.getByTestId('provider-banner');
    const text = within(banner).getByText(reason);
    expect(text).toHaveClass('wrap-anywhere');
  });

  it('shows a very long server message whole in the reconnect banner, wrapping', () => {
    const message = 'M'.repeat(400);
    render(<Dashboard {...replayStream({ connection: 'reconnecting', failures: 1, serverError: { code: 'closed', message } })} />);
    const banner = screen.getByTestId('connection-banner');
    expect(banner).toHaveTextContent(`Server said: ${message}`);
    expect(within(banner).getByText(new RegExp(message))).toHaveClass('wrap-anywhere');
  });

  it('announces connection changes once in a single polite live region, not data updates', () => {
    const first = replayStream();
    const { rerender } = render(<Dashboard {...first} />);
    const regions = document.querySelectorAll('[aria-live]');
    expect(regions).toHaveLength(1);
    const live = screen.getByTestId('live-region');
    expect(live).toHaveAttribute('aria-live', 'polite');
    expect(live).toHaveTextContent('');

    rerender(<Dashboard {...streamFrom([helloMsg([telemetryMsg(1), telemetryMsg(2), telemetryMsg(3)])])} />);
    expect(live).toHaveTextContent('');

    rerender(<Dashboard {...replayStream({ connection: 'offline' })} />);
    expect(live).toHaveTextContent('Backend unreachable');
    rerender(<Dashboard {...replayStream({ connection: 'live' })} />);
    expect(live).toHaveTextContent('Live: GPU telemetry connected.');
  });

  it('makes every control keyboard reachable', async () => {
    render(<Dashboard {...replayStream({ connection: 'offline', failures: 3 })} />);
    const user = userEvent.setup();
    await user.tab();
    expect(screen.getByRole('link', { name: /gpulens/ })).toHaveFocus();
    await user.tab();
    expect(screen.getByRole('button', { name: /^Notifications:/ })).toHaveFocus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Reconnect' })).toHaveFocus();
  });

  it('shows the Findings strip under the banners only while something is found, and says a new critical one', () => {
    const hello = helloWithEvents([], [], [telemetryMsg(1)]);
    const { rerender } = render(<Dashboard {...streamFrom([hello])} />);
    expect(screen.queryByTestId('findings-strip')).toBeNull();
    const live = screen.getByTestId('live-region');

    const idle = eventRecord({ id: 'idle', ...at(0) });
    rerender(<Dashboard {...streamFrom([hello, findingsMsg([idle])])} />);
    expect(screen.getByTestId('findings-strip')).toHaveTextContent('Idle but holding 40 GiB');
    expect(live).toHaveTextContent(''); // a warning is shown, not said

    const lost = eventRecord({ id: 'lost', kind: 'gpuLost', severity: 'critical', gpuIndex: 0, ...at(1000) });
    rerender(<Dashboard {...streamFrom([hello, findingsMsg([idle, lost])])} />);
    expect(screen.getAllByTestId('finding-card').map((c) => c.dataset.kind)).toEqual(['gpuLost', 'idleHolding']);
    expect(live).toHaveTextContent('Critical finding: GPU lost on GPU 0 · H100 80GB HBM3.');
    expect(document.querySelectorAll('[aria-live]')).toHaveLength(1);
  });

  it('shows no Findings strip over a past view', () => {
    const stream = streamFrom([helloWithEvents([eventRecord()], [], [telemetryMsg(1)])]);
    render(<Dashboard {...stream} past={<p>the past</p>} />);
    expect(screen.queryByTestId('findings-strip')).toBeNull();
  });
});
