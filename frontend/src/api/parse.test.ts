import { describe, expect, it } from 'vitest';
import replayFrames from '../test/fixtures/replay-frames.json';
import { helloMsg, rawNoSource, rawNvtop, rawReplay, telemetryMsg } from '../test/payloads';
import { parseMessage } from './parse';

type Json = Record<string, unknown>;

const parse = (value: unknown) => parseMessage(typeof value === 'string' ? value : JSON.stringify(value));
const firstGpu = (t: Json) => (t.gpus as Json[])[0]!;
const rejected = (value: unknown): string => {
  const result = parse(value);
  if (result.ok) throw new Error('accepted');
  return result.error;
};

describe('parseMessage', () => {
  it('accepts a real replay payload unchanged', () => {
    const raw = rawReplay();
    const result = parse(raw);
    expect(result.ok).toBe(true);
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    expect(result.message.gpus).toHaveLength(2);
    expect(result.message).toEqual(raw);
  });

  it('accepts every frame of the recorded H100 trace', () => {
    const frames = (replayFrames as { frames: Json[][] }).frames;
    expect(frames.length).toBeGreaterThan(40);
    frames.forEach((gpus, i) => {
      const result = parse(telemetryMsg(i + 1, (t) => (t.gpus = gpus)));
      expect(result, `frame ${i}`).toMatchObject({ ok: true });
    });
  });

  it('accepts the nvtop payload and keeps its nulls as nulls, never 0', () => {
    const result = parse(rawNvtop());
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    const gpu = result.message.gpus[0]!;
    expect(gpu.uuid).toBeNull();
    expect(gpu.memoryUsed).toBeNull();
    expect(gpu.powerLimit).toBeNull();
    expect(gpu.fanSpeed).toBeNull();
    expect(gpu.utilization).toBe(57);
  });

  it('fills fields the schema marks optional when they are missing', () => {
    const raw = rawReplay() as { gpus: Json[]; unavailable?: unknown; type?: unknown };
    delete raw.gpus[0]!.fanSpeed;
    delete raw.gpus[0]!.processes;
    delete raw.gpus[0]!.status;
    delete raw.unavailable;
    const result = parse(raw);
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    expect(result.message.gpus[0]!.fanSpeed).toBeNull();
    expect(result.message.gpus[0]!.processes).toEqual([]);
    expect(result.message.gpus[0]!.status).toBe('ok');
    expect(result.message.unavailable).toEqual({});
  });

  it('drops fields it does not know (a newer backend) and keeps the message', () => {
    const result = parse(telemetryMsg(1, (t) => (firstGpu(t).nvlinkBandwidth = 12)));
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    expect(result.message.gpus[0]).not.toHaveProperty('nvlinkBandwidth');
  });

  it('accepts the no-source payload with its reasons', () => {
    const result = parse(rawNoSource());
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    expect(result.message.source).toBeNull();
    expect(Object.keys(result.message.unavailable)).toEqual(['nvml', 'nvidia-smi', 'nvtop']);
  });

  it.each([
    ['a string where a number belongs', (t: Json) => (firstGpu(t).utilization = '57%')],
    ['a missing gpu name', (t: Json) => delete firstGpu(t).name],
    ['an unknown gpu status', (t: Json) => (firstGpu(t).status = 'on fire')],
    ['a short load average', (t: Json) => ((t.system as Json).loadAverage = [1, 2])],
    ['gpus that is not a list', (t: Json) => (t.gpus = {})],
    ['a missing required field (seq)', (t: Json) => delete t.seq],
    ['a fractional integer', (t: Json) => (firstGpu(t).memoryUsed = 1.5)],
    ['an unknown process type', (t: Json) => (((firstGpu(t).processes as Json[])[0] = { pid: 1, type: 'quantum' }))],
  ])('rejects telemetry with %s', (_, mutate) => {
    expect(parse(telemetryMsg(1, mutate)).ok).toBe(false);
  });

  it.each([
    ['utilization', 101, 'telemetry/gpus/0/utilization: must be <= 100'],
    ['utilization', -1, 'telemetry/gpus/0/utilization: must be >= 0'],
    ['fanSpeed', 140, 'telemetry/gpus/0/fanSpeed: must be <= 100'],
    ['memoryUsed', -5, 'telemetry/gpus/0/memoryUsed: must be >= 0'],
    ['pstate', 33, 'telemetry/gpus/0/pstate: must be <= 32'],
  ])('enforces the schema range of %s (%d), and says where', (field, value, error) => {
    expect(rejected(telemetryMsg(1, (t) => (firstGpu(t)[field] = value)))).toBe(error);
  });

  it('enforces the host ranges too', () => {
    expect(rejected(telemetryMsg(1, (t) => ((t.system as Json).cpuUsage = 100.5)))).toBe(
      'telemetry/system/cpuUsage: must be <= 100',
    );
  });

  it('rejects an unknown provider state, naming the allowed ones', () => {
    const ts = '2026-11-28T04:00:00.000Z';
    expect(rejected({ type: 'status', timestamp: ts, status: { state: 'melting', provider: 'nvml' } })).toBe(
      'status/status/state: must be equal to one of the allowed values ("ok" | "degraded" | "unavailable")',
    );
    expect(rejected({ ...helloMsg(), status: { state: 'on', provider: null } })).toMatch(/^hello\/status\/state: /);
  });

  it('rejects a message without a required field', () => {
    const hello = helloMsg();
    delete (hello.config as Json).busyUtilization;
    expect(rejected(hello)).toBe("hello/config: must have required property 'busyUtilization'");
    expect(rejected({ type: 'heartbeat', seq: 4 })).toBe("heartbeat: must have required property 'timestamp'");
  });

  it('rejects a bad sample inside the hello backfill', () => {
    const hello = helloMsg([telemetryMsg(1), telemetryMsg(2, (t) => (firstGpu(t).utilization = 250))]);
    expect(rejected(hello)).toBe('hello/backfill/1/gpus/0/utilization: must be <= 100');
  });

  it('rejects frames that are not JSON, not objects or of unknown type', () => {
    expect(rejected('{')).toBe('frame: not JSON');
    expect(rejected('[1,2]')).toBe('message: expected an object');
    expect(rejected('null')).toBe('message: expected an object');
    expect(rejected({ type: 'party' })).toBe('message.type: unknown "party"');
    expect(rejected({ seq: 1 })).toBe('message.type: unknown undefined');
    expect(rejected({ type: 'toString' })).toBe('message.type: unknown "toString"');
    expect(parseMessage(new ArrayBuffer(2))).toEqual({ ok: false, error: 'frame: expected text' });
  });

  it('parses hello with its backfill, and every small message type', () => {
    const hello = parse(helloMsg([telemetryMsg(1), telemetryMsg(2)]));
    if (!hello.ok || hello.message.type !== 'hello') throw new Error('not hello');
    expect(hello.message.backfill.map((t) => t.seq)).toEqual([1, 2]);
    expect(hello.message.config.heartbeatIntervalMs).toBe(1000);
    expect(hello.message.config.busyUtilization).toBe(10);
    expect(hello.message.config.temperatureThresholds).toEqual({ warn: 70, hot: 85 });

    const ts = '2026-11-28T04:00:00.000Z';
    expect(parse({ type: 'heartbeat', timestamp: ts, seq: 4 })).toMatchObject({ ok: true });
    expect(parse({ type: 'gpuAdded', seq: 5, timestamp: ts, uuid: 'GPU-1', id: 2, name: 'H100' })).toMatchObject({
      ok: true,
      message: { type: 'gpuAdded', uuid: 'GPU-1' },
    });
    expect(parse({ type: 'gpuRemoved', seq: 5, timestamp: ts, uuid: 'GPU-1', id: 2, name: 'H100' }).ok).toBe(true);
    expect(
      parse({ type: 'status', timestamp: ts, status: { state: 'degraded', provider: 'nvml', reason: 'slow' } }),
    ).toMatchObject({ ok: true, message: { status: { state: 'degraded', unavailable: {} } } });
    expect(parse({ type: 'error', code: 'too_many_clients', message: 'full' }).ok).toBe(true);
    expect(parse({ type: 'gpuAdded', seq: 5, timestamp: ts, uuid: null, id: 2, name: 'x' }).ok).toBe(false);
  });
});
