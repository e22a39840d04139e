import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeWebSocket } from '../test/fakeSocket';
import { helloMsg, telemetryMsg } from '../test/payloads';
import { CLOSE_SIGN_IN, CLOSE_TOO_MANY_ATTEMPTS, GpuStreamClient } from './client';

/** Issue 17: the server closes the stream with 4401 (sign in) or 4429 (too many wrong attempts). */

let client: GpuStreamClient;

function start() {
  client = new GpuStreamClient({ url: 'ws://gpu-box/ws/gpu', WebSocketImpl: FakeWebSocket, random: () => 0.5 });
  client.start();
  return client;
}

/** What the server does for a handshake without valid credentials: accept, then close with the code. */
function refuse(code: number) {
  const socket = FakeWebSocket.last;
  socket.open();
  socket.drop(code);
}

function goLive() {
  FakeWebSocket.last.open();
  FakeWebSocket.last.send(helloMsg([telemetryMsg(1)]));
  vi.advanceTimersByTime(0);
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-12-03T04:00:00Z') });
  FakeWebSocket.reset();
});

afterEach(() => {
  client.stop();
  vi.useRealTimers();
});

describe('GpuStreamClient: access refused', () => {
  it('4401: "signin" state, and no reconnect loop however long the page stays open', () => {
    start();
    expect(client.getSnapshot().access).toBe('ok');
    refuse(CLOSE_SIGN_IN);
    const state = client.getSnapshot();
    expect(state.access).toBe('signin');
    expect(state.nextRetryAt).toBeNull();
    expect(state.failures).toBe(0);
    expect(state.connection).toBe('connecting'); // not "offline": nothing is wrong with the network
    vi.advanceTimersByTime(60 * 60 * 1000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('4401: the network coming back (online) does not start a retry either', () => {
    start();
    refuse(CLOSE_SIGN_IN);
    window.dispatchEvent(new Event('online'));
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.getSnapshot().access).toBe('signin');
  });

  it('4429: "throttled" state, no reconnect loop', () => {
    start();
    refuse(CLOSE_TOO_MANY_ATTEMPTS);
    expect(client.getSnapshot().access).toBe('throttled');
    vi.advanceTimersByTime(10 * 60 * 1000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('after a sign-in, reconnectNow connects once and goes live with access "ok"', () => {
    start();
    refuse(CLOSE_SIGN_IN);
    client.reconnectNow();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(client.getSnapshot().access).toBe('ok');
    goLive();
    expect(client.getSnapshot().connection).toBe('live');
    expect(client.getSnapshot().gpus).toHaveLength(2);
  });

  it('a refused retry after a restart (the token changed): stops there, keeps no timer', () => {
    start();
    goLive();
    FakeWebSocket.last.drop(1006); // server restarted
    expect(client.getSnapshot().connection).toBe('reconnecting');
    vi.advanceTimersByTime(client.getSnapshot().nextRetryAt! - Date.now());
    expect(FakeWebSocket.instances).toHaveLength(2);
    refuse(CLOSE_SIGN_IN);
    expect(client.getSnapshot().access).toBe('signin');
    expect(client.getSnapshot().nextRetryAt).toBeNull();
    vi.advanceTimersByTime(60 * 60 * 1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('any other close still backs off and retries (the control case)', () => {
    start();
    FakeWebSocket.last.drop(1006);
    vi.advanceTimersByTime(250); // past the render throttle
    expect(client.getSnapshot().access).toBe('ok');
    expect(client.getSnapshot().nextRetryAt).not.toBeNull();
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances.length).toBeGreaterThan(1);
  });

  it('requireSignIn (signed out): closes the stream, forgets its data, waits for a sign-in', () => {
    start();
    goLive();
    const socket = FakeWebSocket.last;
    client.requireSignIn();
    expect(socket.closedByClient).toEqual({ code: 1000, reason: 'signed out' });
    const state = client.getSnapshot();
    expect(state.access).toBe('signin');
    expect(state.gpus).toHaveLength(0);
    expect(state.hasSample).toBe(false);
    expect(state.connection).toBe('connecting');
    vi.advanceTimersByTime(60 * 60 * 1000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('tells its subscribers when the stream is refused', () => {
    start();
    const listener = vi.fn();
    client.subscribe(listener);
    refuse(CLOSE_SIGN_IN);
    expect(listener).toHaveBeenCalled();
    expect(client.getSnapshot().access).toBe('signin');
  });
});
