import { describe, expect, it } from 'vitest';
import { nvtopSample, replayGpu, replaySample } from '../test/payloads';
import { aggregate, statusSentence } from './aggregate';
import { fixHint } from './fixHints';
import { ago, gib, memShort, pct, pollRate, shortBus, shortName, shortUuid, sourceLabel, uptime, watts } from './format';
import { gridColumns } from './layout';
import { processBaseName } from './processes';
import { memoryShare, percentOf } from './share';
import { summarise } from './sparkline';
import { isBusy, tempLevel } from './thresholds';

describe('format', () => {
  it('formats numbers, and null as a dash', () => {
    expect([pct(47.6), pct(null)]).toEqual(['48', '—']);
    expect([gib(28384), gib(81559 * 2), gib(null)]).toEqual(['27.7', '159', '—']);
    expect([memShort(900), memShort(21032), memShort(null)]).toEqual(['900 MiB', '20.5 GiB', '—']);
    expect([watts(503.19), watts(74.5), watts(null)]).toEqual(['503', '74.5', '—']);
  });
  it('formats times, ids and labels', () => {
    expect([uptime(59), uptime(458), uptime(3 * 3600 + 120), uptime(2 * 86400 + 5 * 3600)]).toEqual(['0m 59s', '7m 38s', '3h 2m', '2d 5h']);
    expect([ago(400), ago(12_000), ago(125_000)]).toEqual(['0 s ago', '12 s ago', '2 min ago']);
    expect(shortUuid('GPU-8bdc187f-8a0f-5d33-899a-e5e718bf488d')).toBe('GPU-8bdc187f');
    expect(shortUuid(null)).toBeNull();
    expect(shortName('NVIDIA H100 80GB HBM3')).toBe('H100 80GB HBM3');
    expect(shortBus('00000000:00:07.0')).toBe('00:07.0');
    expect([pollRate(250), pollRate(1000), pollRate(1500), pollRate(300)]).toEqual(['4 Hz', '1 s', '1.5 s', '3.3 Hz']);
    expect([sourceLabel('nvml'), sourceLabel('replay'), sourceLabel(null), sourceLabel('x')]).toEqual(['NVML', 'REPLAY', 'no GPU source', 'x']);
  });
});

describe('aggregate', () => {
  it('sums and averages the replay GPUs', () => {
    const a = aggregate(replaySample().gpus, 10);
    expect(a).toMatchObject({ count: 2, busy: 1, failed: 0, utilization: 24, hottest: 55 });
    expect(a.memory).toEqual({ used: 28864, total: 163118, missing: 0 });
    expect(a.power.used).toBeCloseTo(577.69);
    expect(a.power.total).toBe(1400);
    expect(statusSentence(a)).toBe('2\u00a0GPUs · 1\u00a0busy · hottest\u00a055\u00a0°C');
  });
  it('leaves failed GPUs out and says so; unknown sums stay unknown', () => {
    const a = aggregate([replayGpu(), replayGpu({ status: 'failed', uuid: 'x' })], 10);
    expect(statusSentence(a).replace(/\u00a0/g, ' ')).toBe('2 GPUs · 1 busy · 1 failed · hottest 55 °C');
    const n = aggregate(nvtopSample().gpus, 10);
    expect(n.memory).toEqual({ used: null, total: null, missing: 1 });
    expect(n.power).toEqual({ used: 502, total: null, missing: 0 });
    expect(percentOf(n.power.used, n.power.total)).toBeNull();
    expect(statusSentence(n).replace(/\u00a0/g, ' ')).toBe('1 GPU · all busy · hottest 58 °C');
    expect(statusSentence(aggregate([], 10)).replace(/\u00a0/g, ' ')).toBe('0 GPUs');
  });
  it('counts busy GPUs from the server\'s busyUtilization', () => {
    const gpus = replaySample().gpus; // 0 % and 48 %
    expect(aggregate(gpus, 48).busy).toBe(1);
    expect(aggregate(gpus, 49).busy).toBe(0);
    expect(aggregate(gpus, 0).busy).toBe(2);
    expect(isBusy(replayGpu({ utilization: null }), 0)).toBe(false); // unknown is not busy
    expect(isBusy(replayGpu({ status: 'failed' }), 10)).toBe(false);
  });
  it('never puts a use over a capacity it does not know (nvtop GPU next to an NVML one)', () => {
    const a = aggregate([replayGpu(), { ...nvtopSample().gpus[0]!, id: 5 }], 10);
    expect(a.power.used).toBeCloseTo(503.19 + 502);
    expect(a.power.total).toBeNull();
    expect(a.memory).toEqual({ used: 28384, total: 81559, missing: 1 });
  });
});

describe('thresholds', () => {
  it('uses the server thresholds, then the GPU slowdown temperature', () => {
    const t = { warn: 60, hot: 80 };
    expect(tempLevel({ temperature: 59, temperatureSlowdown: null }, t)).toBe('ok');
    expect(tempLevel({ temperature: 60, temperatureSlowdown: null }, t)).toBe('warn');
    expect(tempLevel({ temperature: 80, temperatureSlowdown: null }, t)).toBe('hot');
    expect(tempLevel({ temperature: 80, temperatureSlowdown: 90 }, t)).toBe('warn');
    expect(tempLevel({ temperature: null, temperatureSlowdown: 90 }, t)).toBe('unknown');
  });
});

describe('shares', () => {
  it('is a percentage only when both numbers are known and the total is positive', () => {
    expect(percentOf(25, 200)).toBe(12.5);
    expect([percentOf(null, 200), percentOf(25, null), percentOf(25, 0)]).toEqual([null, null, null]);
    expect(memoryShare(replayGpu())).toBeCloseTo((28384 / 81559) * 100);
    expect(memoryShare(nvtopSample().gpus[0]!)).toBeNull();
  });
});

describe('fix hints', () => {
  it.each([
    ['nvml', 'NVML Shared Library Not Found', '--gpus all'],
    ['nvml', 'NVML: Driver Not Loaded', 'modprobe nvidia'],
    ['nvml', 'Driver/library version mismatch', 'reboot'],
    ['nvidia-smi', 'nvidia-smi: not found on PATH', 'NVIDIA_SMI_PATH'],
    ['nvtop', 'nvtop: not found on PATH', 'nvtop 3.2 or newer'],
    ['nvtop', 'nvtop: this version has no -s (snapshot) option; 3.2.0 or newer', 'too old'],
  ])('%s: %s → mentions %s', (name, reason, hint) => {
    expect(fixHint(name, reason)).toContain(hint);
  });
});

describe('layout and chart text', () => {
  it('never makes more columns than GPUs', () => {
    expect(gridColumns(1)).toContain('grid-cols-1');
    expect(gridColumns(2)).not.toContain('xl:grid-cols-3');
    expect(gridColumns(8)).toContain('xl:grid-cols-3');
  });
  it('summarises a series for screen readers', () => {
    expect(summarise([{ t: 0, util: 10, mem: null }, { t: 30_000, util: 50, mem: null }], 'util', 'Utilization')).toBe(
      'Utilization over the last 30 s: now 50 %, min 10 %, max 50 %',
    );
    expect(summarise([], 'mem', 'Memory used')).toBe('Memory used: not reported');
  });
});

describe('process names', () => {
  it.each([
    ['/usr/bin/python3.11', 'python3.11'],
    ['/opt/conda/envs/x/bin/python', 'python'],
    ['/python', 'python'],
    ['python3', 'python3'],
    ['<script>alert(1)</script>', '<script>alert(1)</script>'], // not a path: never "script>"
    ['<img src=x onerror=alert(1)>', '<img src=x onerror=alert(1)>'],
    ['my job, "v2"', 'my job, "v2"'],
    ['bin/python', 'bin/python'], // relative: shown as sent
    ['/srv/a b/run <x>', 'run <x>'],
    ['/usr/bin/', '/usr/bin/'], // nothing after the last slash: the whole text
    ['/', '/'],
    ['', ''],
    ['/tmp/\ufffdbad\ufffd', '\ufffdbad\ufffd'],
  ])('%j → %j', (name, shown) => {
    expect(processBaseName(name)).toBe(shown);
  });
});
