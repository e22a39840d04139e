import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UsageResponse, UsageRow } from './api/usage.gen';
import UsagePage from './UsagePage';
import type { TimeRange } from './lib/range';

const T0 = 1_796_000_000;
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function row(key: string, patch: Partial<UsageRow> = {}): UsageRow {
  return {
    key,
    label: key,
    gpuHours: 1,
    gibHours: 10,
    heldHours: 2,
    sessions: 1,
    peakMemoryMib: 4096,
    meanMemoryMib: 2048,
    meanSm: 50,
    firstSeen: T0,
    lastSeen: T0 + 3600,
    ...patch,
  };
}

// Each column orders these three differently, so every sort is visible.
const ROWS: UsageRow[] = [
  row('alice', { gpuHours: 30, gibHours: 100, heldHours: 5, sessions: 2, peakMemoryMib: 40_960, meanMemoryMib: 20_000, meanSm: 70, firstSeen: T0 + 100, lastSeen: T0 + 900 }),
  row('bob', { gpuHours: 10, gibHours: 300, heldHours: 40, sessions: 9, peakMemoryMib: 81_920, meanMemoryMib: 60_000, meanSm: 5, firstSeen: T0, lastSeen: T0 + 500 }),
  row('carol', { gpuHours: 20, gibHours: 50, heldHours: 20, sessions: 1, peakMemoryMib: 1024, meanMemoryMib: 900, meanSm: null, firstSeen: T0 + 300, lastSeen: T0 + 3000 }),
];

function answer(patch: Partial<UsageResponse> = {}): UsageResponse {
  return {
    from: T0,
    to: T0 + 86_400,
    by: 'user',
    method: 'GPU-hours: the time a process held a GPU times its share of the GPU’s SM time.',
    rows: ROWS,
    truncated: false,
    total: row('', { gpuHours: 60, gibHours: 450, heldHours: 65, sessions: 12 }),
    status: { state: 'ok', reason: null },
    ...patch,
  };
}

/** A fetch that answers by the `by` asked for (the grouping is echoed back, as the server does). */
function stubFetch(reply: (url: URL) => Response = (url) => json(answer({ by: url.searchParams.get('by') as UsageResponse['by'] }))) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL) => reply(new URL(String(input), 'http://x')));
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

const page = (range: TimeRange = { kind: 'preset', preset: '7d' }) => render(<UsagePage range={range} />);
const names = () =>
  within(screen.getByTestId('usage-table'))
    .getAllByRole('rowheader')
    .map((h) => h.textContent);

afterEach(() => vi.unstubAllGlobals());

describe('UsagePage', () => {
  it('asks for the range by user, then shows the totals, the chart, the rows, the method and the CSV', async () => {
    const fetchMock = stubFetch();
    page();
    expect(screen.getByTestId('usage-skeleton')).toBeInTheDocument();
    await waitFor(() => expect(names()).toEqual(['alice', 'carol', 'bob']));
    const url = new URL(String(fetchMock.mock.calls[0]![0]), 'http://x');
    expect(url.pathname).toBe('/api/usage');
    expect(url.searchParams.get('by')).toBe('user');
    expect(Number(url.searchParams.get('to')) - Number(url.searchParams.get('from'))).toBe(7 * 86_400);
    expect(screen.getByTestId('usage-total-gpu')).toHaveTextContent('60.0GPU-h');
    expect(screen.getByTestId('usage-total-gib')).toHaveTextContent('450.0GiB-h');
    expect(screen.getByTestId('usage-total-sessions')).toHaveTextContent('12');
    expect(screen.getByTestId('usage-busiest')).toHaveTextContent('Busiest useralice30.0 GPU-h');
    expect(screen.getAllByTestId('usage-chart')).toHaveLength(2);
    expect(screen.getByTestId('usage-method')).toHaveTextContent(/^How this is counted: GPU-hours: the time/);
    const csv = new URL(screen.getByRole('link', { name: 'Export CSV' }).getAttribute('href')!, 'http://x');
    expect(csv.pathname).toBe('/api/usage');
    expect(Object.fromEntries(csv.searchParams)).toEqual({ by: 'user', from: String(T0), to: String(T0 + 86_400), format: 'csv' });
    // A row reads as the table's columns: memory in GiB, no SM reading as a dash.
    const carol = screen.getAllByRole('row').find((r) => r.dataset.key === 'carol')!;
    const cells = within(carol).getAllByRole('cell').map((c) => c.textContent);
    expect(cells.slice(0, 7)).toEqual(['20.0', '50.0', '20.0', '1', '1.0 GiB', '900 MiB', '—']);
    expect(screen.getByTestId('usage-status')).toHaveTextContent('Usage loaded: 3 users, the last 7 days.');
  });

  it('sorts by every column from the keyboard, with aria-sort on the sorted one', async () => {
    stubFetch();
    const user = userEvent.setup();
    page();
    await waitFor(() => expect(names()).toHaveLength(3));
    const header = (column: string) => screen.getByTestId('usage-table').querySelector(`button[data-column="${column}"]`) as HTMLButtonElement;
    const sorted = () =>
      [...screen.getByTestId('usage-table').querySelectorAll('th[aria-sort]')].map((th) => [
        th.querySelector('button')!.dataset.column,
        th.getAttribute('aria-sort'),
      ]);
    expect(sorted()).toEqual([['gpuHours', 'descending']]);
    const expected: [string, string[], string[]][] = [
      ['label', ['alice', 'bob', 'carol'], ['carol', 'bob', 'alice']],
      ['gpuHours', ['alice', 'carol', 'bob'], ['bob', 'carol', 'alice']],
      ['gibHours', ['bob', 'alice', 'carol'], ['carol', 'alice', 'bob']],
      ['heldHours', ['bob', 'carol', 'alice'], ['alice', 'carol', 'bob']],
      ['sessions', ['bob', 'alice', 'carol'], ['carol', 'alice', 'bob']],
      ['peakMemoryMib', ['bob', 'alice', 'carol'], ['carol', 'alice', 'bob']],
      ['meanMemoryMib', ['bob', 'alice', 'carol'], ['carol', 'alice', 'bob']],
      // No SM reading goes last in both directions.
      ['meanSm', ['alice', 'bob', 'carol'], ['bob', 'alice', 'carol']],
      ['firstSeen', ['carol', 'alice', 'bob'], ['bob', 'alice', 'carol']],
      ['lastSeen', ['carol', 'alice', 'bob'], ['bob', 'alice', 'carol']],
    ];
    for (const [column, first, second] of expected) {
      const button = header(column);
      button.focus();
      // Names start A to Z, numbers and dates with the most (the latest) first.
      const [da, db] = column === 'label' ? ['ascending', 'descending'] : ['descending', 'ascending'];
      await user.keyboard('{Enter}');
      expect(names(), `${column} first`).toEqual(first);
      expect(sorted()).toEqual([[column, da]]);
      await user.keyboard(' ');
      expect(names(), `${column} second`).toEqual(second);
      expect(sorted()).toEqual([[column, db]]);
      expect(header(column)).toHaveFocus();
    }
  });

  it('asks again when the grouping changes, and shows the new rows', async () => {
    const fetchMock = stubFetch((url) => {
      const by = url.searchParams.get('by') as UsageResponse['by'];
      return json(by === 'process' ? answer({ by, rows: [row('python', { label: 'python' })], total: null }) : answer({ by }));
    });
    const user = userEvent.setup();
    page();
    await waitFor(() => expect(names()).toHaveLength(3));
    const group = screen.getByRole('group', { name: 'Group by' });
    await user.click(within(group).getByRole('button', { name: 'Process' }));
    await waitFor(() => expect(names()).toEqual(['python']));
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(new URL(String(fetchMock.mock.calls[1]![0]), 'http://x').searchParams.get('by')).toBe('process');
    expect(within(group).getByRole('button', { name: 'Process' })).toHaveAttribute('aria-pressed', 'true');
    // By process the answer does not say who: the hero names the busiest process, and sums the rows without a total.
    expect(screen.getByTestId('usage-busiest')).toHaveTextContent('Busiest processpython');
    expect(screen.getByTestId('usage-total-gpu')).toHaveTextContent('1.00GPU-h');
    expect(screen.getByRole('link', { name: 'Export CSV' }).getAttribute('href')).toContain('by=process');
  });

  it('counts the last 24 hours for Live, and says so', async () => {
    const fetchMock = stubFetch();
    page({ kind: 'live' });
    await waitFor(() => expect(names()).toHaveLength(3));
    const url = new URL(String(fetchMock.mock.calls[0]![0]), 'http://x');
    expect(Number(url.searchParams.get('to')) - Number(url.searchParams.get('from'))).toBe(86_400);
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('Usage: the last 24 hours');
    expect(screen.getByTestId('usage-live-note')).toHaveTextContent('Live counts the last 24 hours.');
  });

  it('says history is off on a 404 "history is off"', async () => {
    stubFetch(() => json({ detail: 'history is off (HISTORY=off)' }, 404));
    page();
    expect(await screen.findByTestId('usage-off')).toHaveTextContent('History is off');
    expect(screen.queryByTestId('usage-table')).toBeNull();
    expect(screen.queryByRole('link', { name: 'Export CSV' })).toBeNull();
  });

  it('shows an error, not a crash, when the answer fails validation, and tries again on request', async () => {
    const broken = { ...answer(), rows: [{ ...ROWS[0], gpuHours: 'lots' }] };
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(json(broken))
      .mockResolvedValueOnce(json(answer()));
    vi.stubGlobal('fetch', fetchMock);
    page();
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load the usage');
    expect(screen.getByTestId('usage-error-message')).toHaveTextContent(
      "The server's answer is not in the expected format (/rows/0/gpuHours: must be number).",
    );
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(names()).toHaveLength(3));
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('says so when no GPU process was seen in the range', async () => {
    stubFetch(() => json(answer({ rows: [], total: null })));
    page();
    expect(await screen.findByTestId('usage-empty')).toHaveTextContent('No GPU process was seen in this range');
    expect(screen.queryByTestId('usage-table')).toBeNull();
  });

  it('says when the least used rows were left out', async () => {
    stubFetch(() => json(answer({ truncated: true })));
    page();
    expect(await screen.findByTestId('usage-truncated')).toHaveTextContent('Only the 3 most used users are listed');
  });

  it('mounts the first screen of 500 session rows, says there are 500, and mounts later rows on a scroll', async () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      row(`s${i}`, { label: `python ${i}`, gpuHours: 500 - i, user: `u${i % 7}`, pid: 1000 + i, startTime: T0 + i }),
    );
    stubFetch(() => json(answer({ by: 'session', rows: many, total: null })));
    const user = userEvent.setup();
    page();
    await user.click(await screen.findByRole('button', { name: 'Session' }));
    await waitFor(() => expect(screen.getByTestId('usage-table')).toHaveAttribute('data-rows', '500'));
    const table = screen.getByTestId('usage-table');
    // The whole table's size, for a screen reader: the header row and 500 rows.
    expect(table).toHaveAttribute('aria-rowcount', '501');
    // Only the first screen (and a margin) is mounted, in order, each saying where it is.
    const mounted = () => [...table.querySelectorAll('tbody tr[aria-rowindex]')] as HTMLElement[];
    expect(mounted().length).toBeGreaterThan(10);
    expect(mounted().length).toBeLessThan(100);
    expect(mounted()[0]!.dataset.key).toBe('s0');
    expect(mounted().map((r) => Number(r.getAttribute('aria-rowindex')))).toEqual(mounted().map((_, i) => i + 2));
    // The rows below are a spacer as tall as they would be.
    const rowHeight = Number(table.dataset.rowHeight);
    const below = table.querySelector('tbody tr[data-spacer]:last-child') as HTMLElement;
    expect(below.style.height).toBe(`${(500 - mounted().length) * rowHeight}px`);
    // A scroll to row 300 (jsdom has no layout: the body says where it is) mounts rows 300 on, and a spacer above.
    const body = table.querySelector('tbody')!;
    vi.spyOn(body, 'getBoundingClientRect').mockReturnValue({ top: -300 * rowHeight } as DOMRect);
    window.dispatchEvent(new Event('scroll'));
    await waitFor(() => expect(table.querySelector('tr[data-key="s300"]')).not.toBeNull());
    expect(table.querySelector('tr[data-key="s0"]')).toBeNull();
    expect(table.querySelector('tr[data-key="s300"]')).toHaveAttribute('aria-rowindex', '302');
    const above = table.querySelector('tbody tr[data-spacer]:first-child') as HTMLElement;
    expect(above.style.height).toBe(`${Number(above.dataset.spacer) * rowHeight}px`);
    expect(Number(above.dataset.spacer)).toBe(Number(mounted()[0]!.getAttribute('aria-rowindex')) - 2);
    // The headers stay, and sort the whole table, not the mounted rows: the least used comes first.
    await user.click(table.querySelector('button[data-column="gpuHours"]')!);
    vi.spyOn(body, 'getBoundingClientRect').mockReturnValue({ top: 0 } as DOMRect);
    window.dispatchEvent(new Event('scroll'));
    await waitFor(() => expect(mounted()[0]!.dataset.key).toBe('s499'));
    // By session the table has a User column, and the hero names the busiest user.
    expect(table.querySelector('button[data-column="user"]')).not.toBeNull();
    expect(screen.getByTestId('usage-busiest')).toHaveTextContent('Busiest useru0');
    const chart = screen.getAllByRole('img').find((el) => /^GPU-hours per row, 16 bars: python 0 500/.test(el.getAttribute('aria-label') ?? ''));
    expect(chart).toBeDefined();
  });
});
