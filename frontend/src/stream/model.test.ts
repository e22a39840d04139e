import { describe, expect, it } from 'vitest';
import { parseMessage } from '../api/parse';
import type { Message } from '../api/types';
import { helloMsg, rawNvtop, telemetryMsg } from '../test/payloads';
import { gpuKey, StreamModel } from './model';

const msg = (value: unknown): Message => {
  const r = parseMessage(JSON.stringify(value));
  if (!r.ok) throw new Error(r.error);
  return r.message;
};

describe('StreamModel', () => {
  it('seeds one history per GPU from the hello backfill', () => {
    const model = new StreamModel();
    model.apply(msg(helloMsg([1, 2, 3].map((s) => telemetryMsg(s)))), 0);
    const snap = model.snapshot();
    expect(snap.hasSample).toBe(true);
    expect(snap.seq).toBe(3);
    expect(snap.gpus.map((g) => g.key)).toEqual([
      'GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46',
      'GPU-8bdc187f-8a0f-5d33-899a-e5e718bf488d',
    ]);
    expect(snap.gpus[1]!.history).toHaveLength(3);
    expect(snap.gpus[1]!.history[0]).toMatchObject({ util: 48 });
    expect(snap.gpus[1]!.history[0]!.mem).toBeCloseTo((28384 / 81559) * 100);
  });

  it('caps the history', () => {
    const model = new StreamModel(10);
    for (let s = 1; s <= 25; s++) {
      model.apply(msg(telemetryMsg(s, (t) => ((t.gpus[1] as Record<string, unknown>).utilization = s))), 0);
    }
    const history = model.snapshot().gpus[1]!.history;
    expect(history).toHaveLength(10);
    expect(history.map((p) => p.util)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  });

  it('keeps the identity of GPUs and histories that did not change', () => {
    const model = new StreamModel(2); // a full window, as after the first 30 s
    model.apply(msg(telemetryMsg(1)), 0);
    model.apply(msg(telemetryMsg(2)), 0);
    const a = model.snapshot();
    // GPU 0 identical; GPU 1 gets busier.
    model.apply(msg(telemetryMsg(3, (t) => ((t.gpus[1] as Record<string, unknown>).utilization = 90))), 0);
    const b = model.snapshot();
    expect(b.gpus[0]!.gpu).toBe(a.gpus[0]!.gpu);
    // GPU 0's full window is flat: same values, so the same array (no chart redraw).
    expect(b.gpus[0]!.history).toBe(a.gpus[0]!.history);
    expect(b.gpus[0]).toBe(a.gpus[0]);
    expect(b.gpus[1]!.gpu).not.toBe(a.gpus[1]!.gpu);
    expect(b.gpus[1]!.history).not.toBe(a.gpus[1]!.history);
    // Nothing new: the very same snapshot.
    expect(model.snapshot()).toBe(b);
  });

  it('ignores telemetry it already has (backfill overlap)', () => {
    const model = new StreamModel();
    model.apply(msg(helloMsg([telemetryMsg(5)])), 0);
    expect(model.apply(msg(telemetryMsg(5)), 0)).toBe(false);
    expect(model.snapshot().gpus[0]!.history).toHaveLength(1);
  });

  it('keys GPUs without a uuid by index, as the backend does (nvtop)', () => {
    const model = new StreamModel();
    model.apply(msg({ ...rawNvtop(), seq: 1 }), 0);
    expect(model.snapshot().gpus.map((g) => g.key)).toEqual(['index:0']);
    expect(gpuKey({ uuid: null, id: 3 })).toBe('index:3');
    expect(gpuKey({ uuid: 'GPU-1', id: 3 })).toBe('GPU-1');
  });

  it('removes a GPU without a uuid on the gpuRemoved the backend sends for it ("index:N")', () => {
    const model = new StreamModel();
    const twoNvtop = (seq: number) => {
      const t = rawNvtop();
      const gpus = t.gpus as Record<string, unknown>[];
      return msg({ ...t, seq, gpus: [gpus[0]!, { ...gpus[0]!, id: 1 }] });
    };
    model.apply(twoNvtop(1), 0);
    expect(model.snapshot().gpus.map((g) => g.key)).toEqual(['index:0', 'index:1']);
    const removed = { type: 'gpuRemoved', seq: 2, timestamp: '2026-11-28T04:00:00.500Z', uuid: 'index:0', id: 0, name: 'NVIDIA H100 80GB HBM3' };
    model.apply(msg(removed), 99);
    const snap = model.snapshot();
    expect(snap.gpus.map((g) => g.key)).toEqual(['index:1']);
    expect(snap.lastEvent).toMatchObject({ kind: 'gpuRemoved', key: 'index:0', id: 0 });
  });

  it('drops a GPU on gpuRemoved and on its absence from telemetry', () => {
    const model = new StreamModel();
    model.apply(msg(telemetryMsg(1)), 0);
    const removed = {
      type: 'gpuRemoved',
      seq: 2,
      timestamp: '2026-11-28T04:00:00.500Z',
      uuid: 'GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46',
      id: 0,
      name: 'NVIDIA H100 80GB HBM3',
    };
    model.apply(msg(removed), 1234);
    let snap = model.snapshot();
    expect(snap.gpus.map((g) => g.gpu.id)).toEqual([1]);
    expect(snap.lastEvent).toMatchObject({ kind: 'gpuRemoved', id: 0, at: 1234 });

    model.apply(msg(telemetryMsg(3, (t) => (t.gpus = [t.gpus[0]!]))), 0);
    snap = model.snapshot();
    expect(snap.gpus.map((g) => g.gpu.id)).toEqual([0]);
    expect(snap.gpus[0]!.history).toHaveLength(1); // a GPU that comes back starts a fresh line
  });

  it('records status changes and server errors', () => {
    const model = new StreamModel();
    model.apply(msg({ type: 'status', timestamp: '2026-11-28T04:00:00.000Z', status: { state: 'degraded', provider: 'nvml', reason: 'NVML timed out' } }), 0);
    model.apply(msg({ type: 'error', code: 'too_many_clients', message: 'Server full' }), 0);
    const snap = model.snapshot();
    expect(snap.status).toMatchObject({ state: 'degraded', reason: 'NVML timed out' });
    expect(snap.serverError).toEqual({ code: 'too_many_clients', message: 'Server full' });
  });

  it('paces new history arrays to chartIntervalMs while numbers stay current', () => {
    const model = new StreamModel(120, 1000);
    const busy = (seq: number, util: number) =>
      msg(telemetryMsg(seq, (t) => ((t.gpus[1] as Record<string, unknown>).utilization = util)));
    model.apply(busy(1, 10), 0);
    const first = model.snapshot(0).gpus[1]!.history; // a new GPU's line shows at once
    model.apply(busy(2, 20), 250);
    const s250 = model.snapshot(250);
    expect(s250.gpus[1]!.gpu.utilization).toBe(20);
    expect(s250.gpus[1]!.history).toBe(first);
    expect(model.historyPending).toBe(true);
    model.apply(busy(3, 30), 500);
    expect(model.snapshot(999).gpus[1]!.history).toBe(first);
    const s1000 = model.snapshot(1000);
    expect(s1000.gpus[1]!.history.map((p) => p.util)).toEqual([10, 20, 30]);
    expect(model.historyPending).toBe(false);
    expect(model.snapshot(5000)).toBe(s1000);
  });
});
