import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeWebSocket } from '../test/fakeSocket';
import { helloMsg, telemetryMsg } from '../test/payloads';
import { defaultStreamUrl, useGpuStream, type UseGpuStreamOptions } from './useGpuStream';

const URL_ = 'ws://gpu-box:5000/ws/gpu';

function setup(options: UseGpuStreamOptions = {}) {
  let renders = 0;
  const hook = renderHook(() => {
    renders += 1;
    return useGpuStream({
      url: URL_,
      WebSocketImpl: FakeWebSocket,
      random: () => 0.5, // no jitter unless a test asks for it
      ...options,
    });
  });
  return { hook, renders: () => renders, state: () => hook.result.current };
}

const advance = (ms: number) => act(() => vi.advanceTimersByTime(ms));
const serverSends = (message: unknown, socket = FakeWebSocket.last) => act(() => socket.send(message));

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-11-28T04:00:00Z') });
  FakeWebSocket.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('useGpuStream', () => {
  it('builds a same-origin ws:// or wss:// URL', () => {
    expect(defaultStreamUrl({ protocol: 'http:', host: '127.0.0.1:5000' })).toBe('ws://127.0.0.1:5000/ws/gpu');
    expect(defaultStreamUrl({ protocol: 'https:', host: 'gpu.example.com' })).toBe('wss://gpu.example.com/ws/gpu');
  });

  it('connects, goes live on hello and seeds each GPU history from the backfill', async () => {
    const { state } = setup();
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(FakeWebSocket.last.url).toBe(URL_);
    expect(state().connection).toBe('connecting');
    expect(state().hasSample).toBe(false);

    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg(Array.from({ length: 30 }, (_, i) => telemetryMsg(i + 1))));
    await advance(0);

    expect(state().connection).toBe('live');
    expect(state().config?.hostname).toBe('gpu-box');
    expect(state().gpus).toHaveLength(2);
    expect(state().gpus[1]!.history).toHaveLength(30);
    expect(state().source).toBe('replay');
    expect(state().lastMessageAt).toBe(Date.now());
  });

  it('shows the first data at once, without waiting out the render throttle', async () => {
    const { state } = setup();
    await advance(50); // the "connecting" state was just rendered: the throttle window is open
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([telemetryMsg(1)]));
    // No timer advanced: the hello is on screen in the same tick it arrived.
    expect(state().connection).toBe('live');
    expect(state().gpus).toHaveLength(2);
  });

  it('renders at most 5 times a second however fast messages come', async () => {
    const { renders, state } = setup();
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([]));
    await advance(0);
    const before = renders();
    const histories = new Set<unknown>();
    // 50 messages a second for 2 s.
    for (let seq = 1; seq <= 100; seq++) {
      await serverSends(
        telemetryMsg(seq, (t) => ((t.gpus[1] as Record<string, unknown>).utilization = seq % 100)),
      );
      await advance(20);
      histories.add(state().gpus[1]?.history);
    }
    await advance(200);
    const rendersPerSecond = (renders() - before) / 2.2;
    expect(rendersPerSecond).toBeLessThanOrEqual(5.5);
    expect(renders() - before).toBeGreaterThanOrEqual(8);
    expect(state().seq).toBe(100);
    // The sparklines (the costly part) get a new array at most once a second…
    expect(histories.size).toBeLessThanOrEqual(3);
    // …and nothing is lost: once the stream pauses, the history holds every sample.
    await advance(1000);
    expect(state().gpus[1]!.history).toHaveLength(100);
    expect(state().gpus[1]!.history.at(-1)!.util).toBe(0);
  });

  it('reconnects with exponential backoff, then reports offline', async () => {
    const { state } = setup({ random: () => 0.5 });
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([telemetryMsg(1)]));
    await advance(0);
    expect(state().connection).toBe('live');

    act(() => FakeWebSocket.last.drop());
    // Renders are throttled to one per 200 ms, state changes included.
    await advance(200);
    expect(state().connection).toBe('reconnecting');
    expect(state().failures).toBe(1);
    expect(state().gpus).toHaveLength(2); // the last data stays on screen

    // Retries after 0.5 s, then 1 s, 2 s… each failing straight away; offline from the 3rd failure.
    const expected = [500, 1000, 2000, 4000, 8000, 15000, 15000];
    let elapsed = 200;
    for (const [i, delay] of expected.entries()) {
      const count = FakeWebSocket.instances.length;
      await advance(delay - 1 - elapsed);
      expect(FakeWebSocket.instances).toHaveLength(count);
      expect(state().connection).toBe(i + 1 >= 3 ? 'offline' : 'reconnecting');
      await advance(1);
      expect(FakeWebSocket.instances).toHaveLength(count + 1);
      act(() => FakeWebSocket.last.drop());
      elapsed = 0;
    }
    await advance(200);
    expect(state().connection).toBe('offline');
    expect(state().nextRetryAt).toBe(Date.now() - 200 + 15000);
  });

  it('jitters each delay by up to ±30 %', async () => {
    setup({ random: () => 0 }); // the earliest: 0.7 × delay
    act(() => FakeWebSocket.last.drop());
    await advance(349);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await advance(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('starts the backoff again from 0.5 s once a connection succeeded', async () => {
    setup();
    for (const delay of [500, 1000, 2000]) {
      act(() => FakeWebSocket.last.drop());
      await advance(delay);
    }
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([]));
    act(() => FakeWebSocket.last.drop());
    const count = FakeWebSocket.instances.length;
    await advance(500);
    expect(FakeWebSocket.instances).toHaveLength(count + 1);
  });

  it('reconnectNow skips the wait', async () => {
    const { state } = setup();
    for (const delay of [500, 1000]) {
      act(() => FakeWebSocket.last.drop());
      await advance(delay);
    }
    act(() => FakeWebSocket.last.drop());
    await advance(200);
    expect(state().connection).toBe('offline');
    const count = FakeWebSocket.instances.length;
    act(() => state().reconnectNow());
    expect(FakeWebSocket.instances).toHaveLength(count + 1);
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([telemetryMsg(1)]));
    await advance(200);
    expect(state().connection).toBe('live');
    expect(state().failures).toBe(0);
  });

  it('treats 2.5 heartbeat periods of silence as a dead link', async () => {
    const { state } = setup();
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([telemetryMsg(1)], { heartbeatIntervalMs: 1000 }));
    const socket = FakeWebSocket.last;

    // Heartbeats alone keep the link alive.
    for (let i = 0; i < 5; i++) {
      await advance(1000);
      await serverSends({ type: 'heartbeat', timestamp: new Date().toISOString(), seq: 1 }, socket);
    }
    expect(state().connection).toBe('live');
    expect(socket.closedByClient).toBeNull();

    // Then silence: after 2.5 s the client gives up on this socket and retries.
    await advance(2499);
    expect(socket.closedByClient).toBeNull();
    await advance(1);
    expect(socket.closedByClient).not.toBeNull();
    await advance(200);
    expect(state().connection).toBe('reconnecting');
    await advance(300);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('also gives up on a socket that never opens', async () => {
    setup({ defaultHeartbeatMs: 2000 });
    const socket = FakeWebSocket.last;
    await advance(5000);
    expect(socket.closedByClient).not.toBeNull();
  });

  it('applies gpuAdded / gpuRemoved and keeps the event for the live region', async () => {
    const { state } = setup();
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([telemetryMsg(1)]));
    const ts = new Date().toISOString();
    await serverSends({ type: 'gpuRemoved', seq: 2, timestamp: ts, uuid: 'GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46', id: 0, name: 'NVIDIA H100 80GB HBM3' });
    await advance(200);
    expect(state().gpus.map((g) => g.gpu.id)).toEqual([1]);
    expect(state().lastEvent).toMatchObject({ kind: 'gpuRemoved', id: 0 });

    await serverSends({ type: 'gpuAdded', seq: 3, timestamp: ts, uuid: 'GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46', id: 0, name: 'NVIDIA H100 80GB HBM3' });
    await serverSends(telemetryMsg(3));
    await advance(200);
    expect(state().gpus.map((g) => g.gpu.id)).toEqual([0, 1]);
    expect(state().lastEvent).toMatchObject({ kind: 'gpuAdded', id: 0 });
  });

  it('keeps status and error messages, and counts malformed frames', async () => {
    const { state } = setup();
    act(() => FakeWebSocket.last.open());
    await serverSends(helloMsg([telemetryMsg(1)]));
    await serverSends({ type: 'status', timestamp: new Date().toISOString(), status: { state: 'degraded', provider: 'replay', reason: 'slow disk', unavailable: {} } });
    await serverSends('not json');
    await serverSends(telemetryMsg(2, (t) => (t.gpus = 'two' as never)));
    await serverSends({ type: 'error', code: 'too_many_clients', message: 'Too many dashboards open' });
    await advance(200);
    expect(state().status?.state).toBe('degraded');
    expect(state().invalidMessages).toBe(2);
    expect(state().seq).toBe(1);
    expect(state().serverError?.message).toBe('Too many dashboards open');
  });

  it('closes the socket and stops retrying on unmount', async () => {
    const { hook } = setup();
    const socket = FakeWebSocket.last;
    hook.unmount();
    expect(socket.closedByClient).toMatchObject({ code: 1000 });
    await advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});
