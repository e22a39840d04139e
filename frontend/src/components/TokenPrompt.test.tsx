import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { signIn } from '../api/signIn';
import { contrast, hex, over } from '../theme/contrast';
import { TokenPrompt } from './TokenPrompt';

const TOKEN = 'correct-horse-battery-staple-42';

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'network';

/** A stand-in for the server's POST /api/session; records every request the page made. */
function server(...answers: Answer[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({ url: String(input), init });
    const answer = answers.shift() ?? { status: 204 };
    if (answer === 'network') throw new TypeError('Failed to fetch');
    return new Response(answer.status === 204 ? null : JSON.stringify(answer.body ?? {}), {
      status: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers },
    });
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

function setup(props: Partial<Parameters<typeof TokenPrompt>[0]> = {}) {
  const onSignedIn = vi.fn();
  const user = userEvent.setup();
  render(<TokenPrompt signIn={(t) => signIn(t)} onSignedIn={onSignedIn} {...props} />);
  const field = screen.getByLabelText('Access token');
  const button = screen.getByRole('button', { name: 'Sign in' });
  return { user, onSignedIn, field, button };
}

const errorText = () => screen.getByTestId('token-error').textContent;

let setItem: ReturnType<typeof vi.spyOn>;
const startUrl = 'http://localhost:3000/?view=gpus';

beforeEach(() => {
  window.history.replaceState(null, '', startUrl);
  localStorage.clear();
  sessionStorage.clear();
  setItem = vi.spyOn(Storage.prototype, 'setItem');
});

afterEach(() => {
  // The token went nowhere but the request body: not in the URL, not in either storage.
  expect(window.location.href).toBe(startUrl);
  expect(setItem).not.toHaveBeenCalled();
  expect(localStorage.length).toBe(0);
  expect(sessionStorage.length).toBe(0);
  setItem.mockRestore();
  vi.unstubAllGlobals();
});

describe('TokenPrompt', () => {
  it('is a labelled dialog with a password field that has the focus when it shows', () => {
    server();
    const { field } = setup();
    expect(screen.getByRole('dialog', { name: 'This dashboard needs an access token' })).toBeInTheDocument();
    expect(field).toHaveAttribute('type', 'password');
    expect(field).toHaveAttribute('autocomplete', 'current-password');
    // No name: a form submitted without script could not put the token in a URL.
    expect(field).not.toHaveAttribute('name');
    expect(field).toHaveFocus();
  });

  it('signs in from the keyboard alone: the token in the POST body only, then onSignedIn', async () => {
    const calls = server({ status: 204 });
    const { user, onSignedIn, field } = setup();
    await user.keyboard(TOKEN);
    await user.keyboard('{Enter}');
    expect(onSignedIn).toHaveBeenCalledTimes(1);
    expect(calls).toHaveLength(1);
    const [{ url, init }] = calls as [(typeof calls)[0]];
    expect(url).toBe('/api/session');
    expect(url).not.toContain(TOKEN);
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect(JSON.parse(init.body as string)).toEqual({ token: TOKEN });
    // Only the body carries it: no header, no other part of the request.
    expect(JSON.stringify(init.headers)).not.toContain(TOKEN);
    expect(field).toHaveValue('');
    expect(screen.queryByTestId('token-error')).toBeNull();
  });

  it('Tab reaches the button, and Space on it signs in', async () => {
    server({ status: 204 });
    const { user, onSignedIn, button } = setup();
    await user.keyboard(TOKEN);
    await user.tab();
    expect(button).toHaveFocus();
    await user.keyboard(' ');
    expect(onSignedIn).toHaveBeenCalledTimes(1);
  });

  it('401: "That token is not right.", read out, and the field takes the focus again', async () => {
    server({ status: 401, body: { detail: 'wrong access token' } });
    const { user, onSignedIn, field, button } = setup();
    await user.type(field, 'not-the-token-at-all');
    await user.click(button);
    expect(await screen.findByTestId('token-error')).toHaveTextContent('That token is not right.');
    expect(screen.getByTestId('token-error').closest('[aria-live="assertive"]')).not.toBeNull();
    expect(field).toHaveFocus();
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveAccessibleDescription('That token is not right.');
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('a second wrong token says so again (a new node, so it is read out again)', async () => {
    server({ status: 401 }, { status: 401 });
    const { user, field } = setup();
    await user.type(field, 'wrong-one-wrong-one{Enter}');
    const first = await screen.findByTestId('token-error');
    await user.type(field, 'wrong-two-wrong-two{Enter}');
    const second = screen.getByTestId('token-error');
    expect(second).toHaveTextContent('That token is not right.');
    expect(second).not.toBe(first);
  });

  it('429: "Too many wrong attempts — try again in N s." with the seconds of Retry-After', async () => {
    server({ status: 429, body: { detail: 'too many wrong attempts: try again in 42 s' }, headers: { 'retry-after': '42' } });
    const { user, field } = setup();
    await user.type(field, `${TOKEN}{Enter}`);
    await screen.findByTestId('token-error');
    expect(errorText()).toBe('Too many wrong attempts — try again in 42 s.');
  });

  it('429 without a Retry-After header (a proxy dropped it): the seconds from the detail', async () => {
    server({ status: 429, body: { detail: 'too many wrong attempts: try again in 17 s' } });
    const { user, field } = setup();
    await user.type(field, `${TOKEN}{Enter}`);
    await screen.findByTestId('token-error');
    expect(errorText()).toBe('Too many wrong attempts — try again in 17 s.');
  });

  it('network error: says the server could not be reached', async () => {
    server('network');
    const { user, field, onSignedIn } = setup();
    await user.type(field, `${TOKEN}{Enter}`);
    await screen.findByTestId('token-error');
    expect(errorText()).toBe('Could not reach the gpulens server. Check that it is running, then try again.');
    expect(field).toHaveFocus();
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it("another refusal (403 from the Origin check): the server's own words", async () => {
    server({ status: 403, body: { detail: 'origin not allowed' } });
    const { user, field } = setup();
    await user.type(field, `${TOKEN}{Enter}`);
    await screen.findByTestId('token-error');
    expect(errorText()).toBe('The server refused the sign-in: origin not allowed');
  });

  it('an empty field asks for the token without sending anything (no failed attempt counted)', async () => {
    const calls = server();
    const { user, button, field } = setup();
    await user.type(field, '   ');
    await user.click(button);
    expect(errorText()).toBe('Enter the access token first.');
    expect(calls).toHaveLength(0);
  });

  it('shown for a throttled stream (4429): says so before any attempt', () => {
    server();
    setup({ reason: 'throttled' });
    expect(errorText()).toBe('Too many wrong attempts — try again in a minute.');
    expect(screen.getByLabelText('Access token')).not.toHaveAttribute('aria-invalid');
  });

  it('a second Enter while the first request is on its way sends nothing more', async () => {
    let release: (r: Response) => void = () => {};
    const fetchMock = vi.fn(() => new Promise<Response>((r) => (release = r)));
    vi.stubGlobal('fetch', fetchMock);
    const { user, field, onSignedIn } = setup();
    await user.type(field, `${TOKEN}{Enter}`);
    expect(screen.getByRole('button', { name: 'Signing in…' })).toHaveAttribute('aria-disabled', 'true');
    await user.keyboard('{Enter}');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await act(async () => release(new Response(null, { status: 204 })));
    expect(onSignedIn).toHaveBeenCalledTimes(1);
  });
});

describe('TokenPrompt colours (AA)', () => {
  it('the Sign in label is >= 4.5:1 on both ends of its gradient, the field text on its dark well', () => {
    for (const end of ['#6d28d9', '#a21caf']) expect(contrast(hex('#ffffff'), hex(end))).toBeGreaterThanOrEqual(4.5);
    // The field: 30 % black over the glass over the canvas (#0b1020), ink #eef1f8 and the error's hot-ink #ff8da1.
    const glass = over(hex('#ffffff'), 0.075, hex('#0b1020'));
    const well = over(hex('#000000'), 0.3, glass);
    expect(contrast(hex('#eef1f8'), well)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(hex('#ff8da1'), glass)).toBeGreaterThanOrEqual(4.5);
  });
});
