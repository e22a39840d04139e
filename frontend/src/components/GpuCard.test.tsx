import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Gpu, Process } from '../api/types';
import type { GpuEntry, HistoryPoint } from '../api/view';
import { gpuKey } from '../stream/model';
import { clientConfig, nvtopSample, replayGpu } from '../test/payloads';
import { GpuCard } from './GpuCard';

const history: HistoryPoint[] = Array.from({ length: 40 }, (_, i) => ({
  t: i * 250,
  util: (i * 7) % 100,
  mem: 30 + (i % 5),
}));

function renderCard(gpu: Gpu, points: HistoryPoint[] = history, config = clientConfig()) {
  const entry: GpuEntry = { key: gpuKey(gpu), gpu, history: points };
  render(
    <GpuCard
      entry={entry}
      thresholds={config.temperatureThresholds}
      busyUtilization={config.busyUtilization}
      index={0}
    />,
  );
  return screen.getByTestId('gpu-card');
}

const proc = (pid: number, mib: number | null, name = `job${pid}`): Process => ({
  pid,
  name,
  usedMemoryMiB: mib,
  user: 'alice',
  type: 'compute',
  smUtilization: null,
  startTime: null,
  container: null,
});

describe('GpuCard', () => {
  it('shows a full GPU: header, big badges, charts and its processes', () => {
    const card = renderCard(replayGpu());
    expect(within(card).getByRole('heading', { level: 3 })).toHaveTextContent('GPU 1: H100 80GB HBM3');
    expect(card).toHaveTextContent('GPU-8bdc187f');
    expect(within(card).getByRole('img', { name: 'Temperature 55 °C, ok' })).toHaveTextContent('OK');
    expect(within(card).getByRole('group', { name: 'Utilization 48 %' })).toHaveTextContent('48');
    expect(within(card).getByRole('group', { name: 'Memory 27.7 GiB used of 79.6 GiB' })).toBeInTheDocument();
    expect(within(card).getByRole('group', { name: 'Power 503 W of 700 W limit' })).toBeInTheDocument();
    expect(within(card).getByRole('group', { name: 'Fan: passive, no fan speed reported' })).toHaveTextContent(
      'passive',
    );
    // Sparklines are images with a summary, not silent SVG.
    expect(within(card).getByRole('img', { name: /^Utilization over the last 10 s: now 73 %, min 0 %, max 98 %$/ })).toBeInTheDocument();
    expect(within(card).getByRole('img', { name: /^Memory used over the last 10 s/ })).toBeInTheDocument();
    // Processes, biggest first.
    const rows = within(card).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual(['1656python3root20.5 GiB', '1524python3root6.7 GiB']);
    expect(card).toHaveTextContent('SM 1920 MHz');
    expect(card).toHaveTextContent('CUDA 13.0');
    // Encoder/decoder at 0: not shown.
    expect(card).not.toHaveTextContent('ENC');
  });

  it('shows a partial GPU (nvtop: no uuid, memory, power limit or processes) as "not reported", never 0', () => {
    const card = renderCard(nvtopSample().gpus[0]!, []);
    expect(card).toHaveAttribute('data-gpu-key', 'index:0'); // the key gpuRemoved carries
    expect(card).toHaveTextContent('no UUID reported');
    expect(within(card).getByRole('group', { name: 'Memory used not reported' })).toBeInTheDocument();
    expect(within(card).getAllByLabelText('memory used not reported')[0]).toHaveTextContent('—');
    expect(within(card).getByLabelText('power limit not reported')).toHaveTextContent('—');
    expect(within(card).getByRole('group', { name: 'Power 502 W of unknown limit' })).toBeInTheDocument();
    expect(within(card).getByRole('group', { name: 'Fan: passive, no fan speed reported' })).toBeInTheDocument();
    expect(card).toHaveTextContent('No processes on this GPU.');
    expect(within(card).getByRole('img', { name: 'Utilization: not reported' })).toBeInTheDocument();
    expect(card).not.toHaveTextContent('0.0 GiB');
  });

  it('shows a failed GPU with its error instead of numbers', () => {
    const card = renderCard(replayGpu({ status: 'failed', error: 'GPU is lost (Xid 79)', utilization: null }));
    expect(card).toHaveAttribute('data-status', 'failed');
    expect(card).toHaveTextContent('FAILED');
    expect(card).toHaveTextContent('GPU is lost (Xid 79)');
    expect(within(card).queryByRole('table')).toBeNull();
    expect(within(card).queryByRole('group', { name: /Utilization/ })).toBeNull();
  });

  it('shows a very long error whole, as text that wraps inside the card', () => {
    const error = `NVML: ${'E'.repeat(400)} <b>not markup</b>`;
    const card = renderCard(replayGpu({ status: 'failed', error, utilization: null }));
    const text = within(card).getByTestId('gpu-error');
    expect(text.textContent).toBe(error);
    expect(text).toHaveClass('wrap-anywhere'); // overflow-wrap:anywhere: no sideways overflow at 375 px
    expect(card.querySelector('b')).toBeNull();
  });

  it.each([
    [69, null, 'ok'],
    [70, null, 'warm'],
    [84, null, 'warm'],
    [85, null, 'hot'],
    [80, 80, 'hot'], // the GPU's own slowdown threshold wins
    [75, 90, 'warm'],
  ])('labels %i °C (slowdown %s) as %s, in words', (temperature, temperatureSlowdown, word) => {
    const card = renderCard(replayGpu({ temperature, temperatureSlowdown }));
    expect(within(card).getByRole('img', { name: `Temperature ${temperature} °C, ${word}` })).toHaveTextContent(
      word.toUpperCase(),
    );
  });

  it.each([
    [{ temperatureThresholds: { warn: 50, hot: 60 }, busyUtilization: 40 }, 'warm', true],
    [{ busyUtilization: 50 }, 'ok', false],
  ])('takes its temperature level and busy glow from the server config %j', (config, word, busy) => {
    const card = renderCard(replayGpu({ temperature: 55, utilization: 48 }), history, clientConfig(config));
    expect(within(card).getByRole('img', { name: `Temperature 55 °C, ${word}` })).toBeInTheDocument();
    expect(card.classList.contains('busy-glow')).toBe(busy);
  });

  it('shows fan speed when there is a fan, and encoder/decoder only when busy', () => {
    const card = renderCard(replayGpu({ fanSpeed: 42, encoderUtilization: 12, decoderUtilization: 0 }));
    expect(within(card).getByRole('group', { name: 'Fan 42 %' })).toHaveTextContent('42');
    expect(card).toHaveTextContent('ENC 12 %');
    expect(card).not.toHaveTextContent('DEC');
  });

  it('lists the top 5 processes by memory and counts the rest', () => {
    const processes = [proc(1, 100), proc(2, 5000), proc(3, null), proc(4, 300), proc(5, 9000), proc(6, 20), proc(7, 4000)];
    const card = renderCard(replayGpu({ processes }));
    const pids = within(card)
      .getAllByRole('row')
      .slice(1, 6)
      .map((r) => r.firstChild?.textContent);
    expect(pids).toEqual(['5', '2', '7', '4', '1']);
    expect(card).toHaveTextContent('+2 more');
  });
});
