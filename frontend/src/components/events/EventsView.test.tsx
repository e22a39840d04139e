import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TimeRange } from '../../lib/range';
import { at, eventRecord, eventsPage } from '../../test/events';
import { T0 } from '../../test/payloads';
import { EventsView } from './EventsView';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function stubFetch(reply: (url: URL) => Response) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL) => reply(new URL(String(input), 'http://x')));
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

const urlOf = (mock: ReturnType<typeof stubFetch>, call: number) => new URL(String(mock.mock.calls[call]![0]), 'http://x');

const LIVE: TimeRange = { kind: 'live' };
const CUSTOM: TimeRange = { kind: 'custom', from: T0 / 1000 - 3600, to: T0 / 1000 + 3600 };

const e1 = eventRecord({ id: 'e1', kind: 'xid', severity: 'critical', value: 79, ...at(50 * 60_000, 50 * 60_000) });
const e2 = eventRecord({ id: 'e2', ...at(10 * 60_000, 38 * 60_000) });
const e3 = eventRecord({ id: 'e3', kind: 'hot', severity: 'warning', ...at(-30 * 60_000) });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0 + 3600_000);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('EventsView', () => {
  it('lists the last 24 h when live, grouped by day, each with severity, kind, GPU, who, times and duration', async () => {
    const fetchMock = stubFetch(() => json(eventsPage([e1, e2, e3])));
    render(<EventsView range={LIVE} liveEvents={[]} />);
    expect(screen.getByTestId('events-loading')).toBeInTheDocument();
    const items = await screen.findAllByTestId('event-item');
    const url = urlOf(fetchMock, 0);
    expect(url.pathname).toBe('/api/events');
    expect(Number(url.searchParams.get('to')) - Number(url.searchParams.get('from'))).toBe(86_400);
    expect(url.searchParams.get('kind')).toBeNull();
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('Events: the last 24 hours, live');
    expect(items.map((i) => i.dataset.id)).toEqual(['e1', 'e2', 'e3']);
    expect(items[0]).toHaveTextContent('XID 79');
    expect(items[0]).toHaveTextContent('Critical');
    expect(items[1]).toHaveTextContent('Idle but holding 40 GiB');
    expect(items[1]).toHaveTextContent('GPU 1 · H100 80GB HBM3');
    expect(items[1]).toHaveTextContent('alice · python3 · pid 4242 · container 3f2a9c1b7d4e');
    expect(items[1]).toHaveTextContent('28 min');
    expect(items[1]).toHaveTextContent('What to do: Ask alice');
    expect(items[2]).toHaveTextContent('ongoing');
    expect(screen.getAllByRole('heading', { level: 3 }).length).toBeGreaterThanOrEqual(1);
    expect(screen.getByTestId('events-count')).toHaveTextContent('3 of 3 stored events');
    expect(screen.queryByRole('button', { name: 'Load older' })).toBeNull();
  });

  it('pages with "Load older" using the cursor, over the same range', async () => {
    // The server answers for the range it was asked (cut to now): later pages keep that range.
    const span = { from: CUSTOM.kind === 'custom' ? CUSTOM.from : 0, to: T0 / 1000 + 1800 };
    const fetchMock = stubFetch((url) =>
      url.searchParams.get('cursor') === 'c2'
        ? json(eventsPage([e3], { total: 3, ...span }))
        : json(eventsPage([e1, e2], { next: 'c2', total: 3, ...span })),
    );
    render(<EventsView range={CUSTOM} liveEvents={[]} />);
    await screen.findAllByTestId('event-item');
    expect(screen.getByTestId('events-count')).toHaveTextContent('2 of 3');
    await userEvent.click(screen.getByRole('button', { name: 'Load older' }));
    await waitFor(() => expect(screen.getAllByTestId('event-item')).toHaveLength(3));
    const first = urlOf(fetchMock, 0);
    const second = urlOf(fetchMock, 1);
    expect(second.searchParams.get('cursor')).toBe('c2');
    expect(second.searchParams.get('from')).toBe(first.searchParams.get('from'));
    expect(first.searchParams.get('to')).toBe(String(T0 / 1000 + 3600));
    expect(second.searchParams.get('to')).toBe(String(span.to));
    expect(screen.queryByRole('button', { name: 'Load older' })).toBeNull();
    expect(screen.getByTestId('events-count')).toHaveTextContent('3 of 3');
  });

  it('shows an answer that fails validation as an error, with Try again', async () => {
    let bad = true;
    const fetchMock = stubFetch(() => {
      const page = eventsPage([bad ? { ...e1, severity: 'apocalyptic' as 'critical' } : e1]);
      return json(page);
    });
    render(<EventsView range={LIVE} liveEvents={[]} />);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load the events');
    expect(alert).toHaveTextContent(/not in the expected format \(\/events\/0\/severity/);
    bad = false;
    await userEvent.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('event-item')).toHaveTextContent('XID 79');
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('says history is off on a 404, and still lists what the stream sent', async () => {
    stubFetch(() => json({ detail: 'history is off (HISTORY=off)' }, 404));
    render(<EventsView range={LIVE} liveEvents={[e2]} />);
    const panel = await screen.findByTestId('events-history-off');
    expect(panel).toHaveTextContent('Event history is off');
    expect(panel).toHaveTextContent('HISTORY=off');
    expect(screen.getAllByTestId('event-item').map((i) => i.dataset.id)).toEqual(['e2']);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('filters by severity and kind with pressed chips, asking the server again', async () => {
    const fetchMock = stubFetch((url) => {
      const sev = url.searchParams.get('severity');
      const list = [e1, e2, e3].filter((e) => sev === null || sev.split(',').includes(e.severity));
      return json(eventsPage(list));
    });
    render(<EventsView range={LIVE} liveEvents={[]} />);
    await screen.findAllByTestId('event-item');
    const user = userEvent.setup();
    const critical = screen.getByRole('button', { name: 'Critical' });
    expect(critical).toHaveAttribute('aria-pressed', 'false');
    await user.click(critical);
    expect(critical).toHaveAttribute('aria-pressed', 'true');
    await waitFor(() => expect(screen.getAllByTestId('event-item').map((i) => i.dataset.id)).toEqual(['e1']));
    expect(urlOf(fetchMock, 1).searchParams.get('severity')).toBe('critical');

    await user.click(screen.getByRole('button', { name: 'Hot' }));
    await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(3));
    expect(urlOf(fetchMock, 2).searchParams.get('kind')).toBe('hot');
    expect(await screen.findByTestId('events-empty')).toHaveTextContent('No matching events');

    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(screen.getAllByTestId('event-item')).toHaveLength(3));
  });

  it('merges the live stream while the range ends now: new events appear, an end replaces its start', async () => {
    stubFetch(() => json(eventsPage([e2, e3])));
    const { rerender } = render(<EventsView range={LIVE} liveEvents={[]} />);
    await screen.findAllByTestId('event-item');
    expect(screen.getAllByTestId('event-item')[1]).toHaveTextContent('ongoing');
    const fresh = eventRecord({ id: 'fresh', kind: 'gpuLost', severity: 'critical', ...at(55 * 60_000) });
    const e3ended = { ...e3, ...at(-30 * 60_000, 20 * 60_000) };
    const old = eventRecord({ id: 'old', ...at(-30 * 3600_000, -29 * 3600_000) }); // before the range
    rerender(<EventsView range={LIVE} liveEvents={[old, e3ended, fresh]} />);
    const items = screen.getAllByTestId('event-item');
    expect(items.map((i) => i.dataset.id)).toEqual(['fresh', 'e2', 'e3']);
    expect(items[2]).not.toHaveTextContent('ongoing');
    expect(items[2]).toHaveTextContent('50 min');
    expect(screen.getByTestId('events-count')).toHaveTextContent('1 new since loaded');
  });

  it('does not merge the stream into a past range that has ended', async () => {
    stubFetch(() => json(eventsPage([e2])));
    render(<EventsView range={CUSTOM} liveEvents={[eventRecord({ id: 'fresh', ...at(10 * 60_000) })]} />);
    const items = await screen.findAllByTestId('event-item');
    expect(items.map((i) => i.dataset.id)).toEqual(['e2']);
  });

  it('has an empty state', async () => {
    stubFetch(() => json(eventsPage([])));
    render(<EventsView range={LIVE} liveEvents={[]} />);
    expect(await screen.findByTestId('events-empty')).toHaveTextContent('All quiet');
    expect(screen.getByTestId('events-empty')).toHaveTextContent('in the last 24 hours');
  });
});
