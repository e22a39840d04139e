import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { at, eventMsg, eventRecord, findingsMsg, helloWithEvents } from '../test/events';
import { FakeWebSocket } from '../test/fakeSocket';
import { telemetryMsg } from '../test/payloads';
import { useGpuStream } from './useGpuStream';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-11-28T04:00:00Z') });
  FakeWebSocket.reset();
});
afterEach(() => vi.useRealTimers());

describe('useGpuStream: findings and events', () => {
  it('exposes the active findings and the recent events, as the messages change them', async () => {
    const hook = renderHook(() => useGpuStream({ url: 'ws://x/ws/gpu', WebSocketImpl: FakeWebSocket, random: () => 0.5 }));
    const state = () => hook.result.current;
    const send = (m: unknown) => act(() => FakeWebSocket.last.send(m));
    act(() => FakeWebSocket.last.open());
    const idle = eventRecord({ id: 'idle', ...at(0) });
    await send(helloWithEvents([idle], [idle], [telemetryMsg(1)]));
    await act(() => vi.advanceTimersByTime(0));
    expect(state().findings.map((f) => f.id)).toEqual(['idle']);
    expect(state().events.map((e) => e.id)).toEqual(['idle']);
    expect(state().helloEventIds.has('idle')).toBe(true);

    await send(eventMsg({ ...idle, ...at(0, 60_000) }));
    await send(findingsMsg([]));
    await act(() => vi.advanceTimersByTime(250));
    expect(state().findings).toEqual([]);
    expect(state().events).toHaveLength(1);
    expect(state().events[0]!.end).not.toBeNull();
    expect(state().invalidMessages).toBe(0);
  });
});
