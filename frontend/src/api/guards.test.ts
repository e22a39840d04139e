import { describe, expect, it } from 'vitest';
import { helloMsg, rawNoSource, rawNvtop, rawReplay, telemetryMsg } from '../test/payloads';
import { parseMessage } from './guards';

const parse = (value: unknown) => parseMessage(typeof value === 'string' ? value : JSON.stringify(value));

describe('parseMessage', () => {
  it('accepts a real replay payload unchanged', () => {
    const raw = rawReplay();
    const result = parse(raw);
    expect(result.ok).toBe(true);
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    expect(result.message.gpus).toHaveLength(2);
    expect(result.message).toEqual(raw);
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
    const raw = rawReplay() as { gpus: Record<string, unknown>[]; unavailable?: unknown };
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

  it('accepts the no-source payload with its reasons', () => {
    const result = parse(rawNoSource());
    if (!result.ok || result.message.type !== 'telemetry') throw new Error('not telemetry');
    expect(result.message.source).toBeNull();
    expect(Object.keys(result.message.unavailable)).toEqual(['nvml', 'nvidia-smi', 'nvtop']);
  });

  it.each([
    ['a string where a number belongs', (t: Record<string, unknown>) => ((t.gpus as Record<string, unknown>[])[0]!.utilization = '57%')],
    ['a missing gpu name', (t: Record<string, unknown>) => delete (t.gpus as Record<string, unknown>[])[0]!.name],
    ['an unknown gpu status', (t: Record<string, unknown>) => ((t.gpus as Record<string, unknown>[])[0]!.status = 'on fire')],
    ['a short load average', (t: Record<string, unknown>) => ((t.system as Record<string, unknown>).loadAverage = [1, 2])],
    ['gpus that is not a list', (t: Record<string, unknown>) => (t.gpus = {})],
  ])('rejects telemetry with %s', (_, mutate) => {
    const result = parse(telemetryMsg(1, mutate));
    expect(result.ok).toBe(false);
  });

  it('rejects frames that are not JSON, not objects or of unknown type', () => {
    expect(parse('{').ok).toBe(false);
    expect(parse('[1,2]').ok).toBe(false);
    expect(parse({ type: 'party' })).toEqual({ ok: false, error: 'message.type: unknown "party"' });
    expect(parseMessage(new ArrayBuffer(2)).ok).toBe(false);
  });

  it('parses hello with its backfill, and every small message type', () => {
    const hello = parse(helloMsg([telemetryMsg(1), telemetryMsg(2)]));
    if (!hello.ok || hello.message.type !== 'hello') throw new Error('not hello');
    expect(hello.message.backfill.map((t) => t.seq)).toEqual([1, 2]);
    expect(hello.message.config.heartbeatIntervalMs).toBe(1000);

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
