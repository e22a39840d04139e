import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { accessSignal } from './api/access';
import type { SessionInfo } from './api/session';
import { App } from './App';
import { FakeWebSocket } from './test/fakeSocket';
import { helloMsg, telemetryMsg } from './test/payloads';

/** Issue 17, the page end to end in jsdom: the real stream client over a fake socket, a fake server for /api. */

const TOKEN = 'correct-horse-battery-staple-42';
let session: SessionInfo;
let requests: { method: string; url: string; body: string | null }[];

function fakeServer() {
  requests = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const method = init.method ?? 'GET';
      const url = String(input);
      requests.push({ method, url, body: typeof init.body === 'string' ? init.body : null });
      if (url === '/api/session' && method === 'GET') return Response.json(session);
      if (url === '/api/session' && method === 'POST') {
        const { token } = JSON.parse(init.body as string) as { token: string };
        return token === TOKEN ? new Response(null, { status: 204 }) : Response.json({ detail: 'wrong access token' }, { status: 401 });
      }
      if (url === '/api/session' && method === 'DELETE') return new Response(null, { status: 204 });
      return Response.json({ detail: 'not here' }, { status: 404 });
    }),
  );
}

const refuse = (code: number) =>
  act(() => {
    FakeWebSocket.last.open();
    FakeWebSocket.last.drop(code);
  });

const goLive = () =>
  act(() => {
    FakeWebSocket.last.open();
    FakeWebSocket.last.send(helloMsg([telemetryMsg(1)]));
  });

beforeEach(() => {
  window.history.replaceState(null, '', '/');
  localStorage.clear();
  sessionStorage.clear();
  FakeWebSocket.reset();
  vi.stubGlobal('WebSocket', FakeWebSocket);
  session = { required: false, authenticated: true, method: 'open', user: null };
  fakeServer();
});

afterEach(() => {
  vi.unstubAllGlobals();
  act(() => accessSignal.clear()); // the page may still be mounted (cleanup runs after this hook)
});

describe('App: access (issue 17)', () => {
  it('open access: no request before the stream is live, no prompt, nothing in the footer', async () => {
    render(<App />);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(requests).toEqual([]);
    goLive();
    expect((await screen.findAllByTestId('gpu-card')).length).toBeGreaterThan(0);
    await waitFor(() => expect(requests).toEqual([{ method: 'GET', url: '/api/session', body: null }]));
    expect(screen.queryByTestId('token-prompt')).toBeNull();
    expect(screen.queryByTestId('session-status')).toBeNull();
    expect(screen.queryByTestId('signed-in-as')).toBeNull();
  });

  it('4401: the prompt, no retry; a wrong token, then the right one: reconnects and goes live', async () => {
    const user = userEvent.setup();
    render(<App />);
    refuse(4401);
    const field = await screen.findByLabelText('Access token');
    expect(field).toHaveFocus();
    expect(FakeWebSocket.instances).toHaveLength(1);

    await user.keyboard('not-the-right-token{Enter}');
    expect(await screen.findByText('That token is not right.')).toBeInTheDocument();
    expect(FakeWebSocket.instances).toHaveLength(1);

    await user.clear(field);
    await user.keyboard(`${TOKEN}{Enter}`);
    await waitFor(() => expect(screen.queryByTestId('token-prompt')).toBeNull());
    expect(FakeWebSocket.instances).toHaveLength(2);
    session = { required: true, authenticated: true, method: 'session', user: null };
    goLive();
    expect(await screen.findByRole('button', { name: 'Sign out' })).toBeInTheDocument();

    // The token went out twice, each time in a POST body, and nowhere else.
    const carrying = requests.filter((r) => JSON.stringify(r).includes(TOKEN));
    expect(carrying).toEqual([{ method: 'POST', url: '/api/session', body: JSON.stringify({ token: TOKEN }) }]);
    expect(window.location.href).not.toContain(TOKEN);
    expect(localStorage.length + sessionStorage.length).toBe(0);
  });

  it('Sign out: DELETE /api/session, the stream closes, its data goes, and the prompt shows', async () => {
    const user = userEvent.setup();
    session = { required: true, authenticated: true, method: 'session', user: null };
    render(<App />);
    goLive();
    const socket = FakeWebSocket.last;
    await user.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByTestId('token-prompt')).toBeInTheDocument();
    expect(requests.some((r) => r.method === 'DELETE' && r.url === '/api/session')).toBe(true);
    expect(socket.closedByClient?.code).toBe(1000);
    expect(screen.queryAllByTestId('gpu-card')).toHaveLength(0);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('behind a trusted proxy: "Signed in as <user>", and no Sign out', async () => {
    session = { required: true, authenticated: true, method: 'proxy', user: 'alice' };
    render(<App />);
    goLive();
    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent('Signed in as alice');
    expect(screen.queryByRole('button', { name: 'Sign out' })).toBeNull();
  });

  it('4429: the prompt says to wait; the stream does not retry', async () => {
    render(<App />);
    refuse(4429);
    expect(await screen.findByTestId('token-error')).toHaveTextContent('Too many wrong attempts — try again in a minute.');
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('a 401 from an /api request while the stream is live also brings the prompt', async () => {
    render(<App />);
    goLive();
    await screen.findAllByTestId('gpu-card');
    // The footer's GET /api/session settles first.
    await act(async () => {});
    await act(async () => accessSignal.needSignIn()); // what fetchJson does on a 401 (src/api/access.test.ts)
    expect(await screen.findByTestId('token-prompt')).toBeInTheDocument();
  });
});
