import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { at, eventRecord } from '../test/events';
import { FindingsStrip } from './FindingsStrip';

const hot = eventRecord({ id: 'hot', kind: 'hot', severity: 'critical', ...at(0), value: 88, pid: null, process: null, user: null, container: null, summary: 'GPU 1 at 88 °C, 2 °C under its slowdown.', action: 'Check the airflow.' });
const idle = eventRecord({ id: 'idle', ...at(60_000) });
const unowned = eventRecord({ id: 'unowned', kind: 'unownedMemory', severity: 'warning', ...at(1000), value: 20, pid: null, process: null, user: null, container: null });
const xid = eventRecord({ id: 'xid', kind: 'xid', severity: 'critical', ...at(2000), value: 79 });
const dead = eventRecord({ id: 'dead', kind: 'deadHolder', severity: 'warning', ...at(3000) });
const powerCap = eventRecord({ id: 'cap', kind: 'throttling', severity: 'info', ...at(3500) });

describe('FindingsStrip', () => {
  it('shows nothing at all when all is well', () => {
    const { container } = render(<FindingsStrip findings={[]} />);
    expect(container).toBeEmptyDOMElement();
  });

  it('shows a card per finding, most severe first, severity in words and icon, who, where and what to do', () => {
    render(<FindingsStrip findings={[idle, hot]} />);
    const strip = screen.getByRole('region', { name: /findings/i });
    expect(strip).toHaveTextContent('2 active · 1 critical');
    const cards = within(strip).getAllByTestId('finding-card');
    expect(cards.map((c) => c.dataset.severity)).toEqual(['critical', 'warning']);
    expect(within(cards[0]!).getByRole('heading', { level: 3 })).toHaveTextContent('Hot');
    expect(cards[0]).toHaveTextContent('Critical');
    expect(cards[0]).toHaveTextContent('Check the airflow.');
    const idleCard = cards[1]!;
    expect(within(idleCard).getByRole('heading', { name: 'Idle but holding 40 GiB' })).toBeInTheDocument();
    expect(idleCard).toHaveTextContent('Warning');
    expect(idleCard).toHaveTextContent('GPU 1 · H100 80GB HBM3');
    expect(idleCard).toHaveTextContent('alice · python3 · pid 4242 · container 3f2a9c1b7d4e');
    expect(idleCard).toHaveTextContent(/since .*ago/);
    expect(idleCard).toHaveTextContent('What to do: Ask alice to stop the idle job or free its memory.');
    // Colour is never alone: the severity word is in the text, the icon is decoration.
    for (const svg of idleCard.querySelectorAll('svg')) expect(svg).toHaveAttribute('aria-hidden', 'true');
  });

  it('folds more than three into an "N more" disclosure that works from the keyboard', async () => {
    render(<FindingsStrip findings={[dead, idle, hot, unowned, xid, powerCap]} />);
    const cards = screen.getAllByTestId('finding-card');
    expect(cards.map((c) => c.dataset.kind)).toEqual(['xid', 'hot', 'idleHolding']);
    const more = screen.getByRole('button', { name: '2 more findings' });
    expect(more).toHaveAttribute('aria-expanded', 'false');
    expect(screen.getByTestId('findings-rest')).not.toBeVisible();

    const user = userEvent.setup();
    more.focus();
    await user.keyboard('{Enter}');
    expect(more).toHaveAttribute('aria-expanded', 'true');
    const rows = within(screen.getByTestId('findings-rest')).getAllByTestId('finding-row');
    expect(rows.map((r) => r.dataset.severity)).toEqual(['warning', 'warning']);
    expect(rows[0]).toHaveTextContent('Dead holder'); // the newer of two warnings first
    expect(rows[1]).toHaveTextContent('Memory nobody owns');
    expect(screen.getByRole('button', { name: 'Show fewer findings' })).toBe(more);
    await user.keyboard(' ');
    expect(more).toHaveAttribute('aria-expanded', 'false');
  });

  it('leaves info findings (a GPU at its power cap under load) to the Events view', () => {
    const { container } = render(<FindingsStrip findings={[powerCap]} />);
    expect(screen.queryByTestId('findings-strip')).toBeNull();
    expect(container).toBeEmptyDOMElement();
  });

  it('fits a 375 px phone: one column, long words wrap, nothing forces a width', () => {
    const long = eventRecord({ id: 'long', summary: 'x'.repeat(300), container: 'k8s-pod-' + 'a'.repeat(120) });
    render(<FindingsStrip findings={[long]} />);
    const list = screen.getByTestId('findings-cards');
    expect(list).toHaveClass('grid-cols-1');
    expect(list.className).toMatch(/\bmd:grid-cols-2\b/);
    const card = screen.getByTestId('finding-card');
    expect(card).toHaveClass('min-w-0');
    expect(screen.getByText('x'.repeat(300))).toHaveClass('wrap-anywhere');
    expect(card.outerHTML).not.toMatch(/\bw-\[\d{3,}px\]|\bmin-w-\[\d/);
  });
});
