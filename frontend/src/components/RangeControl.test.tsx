import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useRange } from '../hooks/useRange';
import { RangeControl } from './RangeControl';

/** The control wired to the URL, as App.tsx does. */
function Harness() {
  const [range, setRange] = useRange();
  return <RangeControl range={range} onChange={setRange} />;
}

const group = () => screen.getByRole('group', { name: 'Time range' });
const segment = (name: RegExp) => within(group()).getByRole('button', { name });
const pressed = () =>
  within(group())
    .getAllByRole('button')
    .filter((b) => b.getAttribute('aria-pressed') === 'true')
    .map((b) => b.dataset.range);

beforeEach(() => window.history.replaceState(null, '', '/'));
afterEach(() => window.history.replaceState(null, '', '/'));

describe('RangeControl', () => {
  it('starts on Live, one pressed button and one tab stop', () => {
    render(<Harness />);
    expect(pressed()).toEqual(['live']);
    const buttons = within(group()).getAllByRole('button');
    expect(buttons.map((b) => b.textContent)).toEqual(['Live', '1 h', '6 h', '24 h', '7 d', '30 d', 'Custom']);
    expect(buttons.filter((b) => b.tabIndex === 0).map((b) => b.dataset.range)).toEqual(['live']);
  });

  it('moves with the arrow keys, Home and End, and chooses with Enter or Space', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.tab();
    expect(segment(/^Live$/)).toHaveFocus();
    await user.keyboard('{ArrowRight}{ArrowRight}');
    expect(segment(/^6 h$/)).toHaveFocus();
    expect(pressed()).toEqual(['live']); // moving is not choosing
    await user.keyboard('{Enter}');
    expect(pressed()).toEqual(['6h']);
    expect(window.location.search).toBe('?range=6h');
    await user.keyboard('{End}');
    expect(segment(/Custom/)).toHaveFocus();
    await user.keyboard('{ArrowRight}');
    expect(segment(/^Live$/)).toHaveFocus(); // wraps around
    await user.keyboard('{ArrowLeft}{ArrowLeft} ');
    expect(pressed()).toEqual(['30d']);
    expect(window.location.search).toBe('?range=30d');
    // The tab stop is the chosen range: tabbing away and back lands on it.
    await user.tab();
    await user.tab({ shift: true });
    expect(segment(/^30 d$/)).toHaveFocus();
  });

  it('keeps the range in the URL: a link opens on it, back and forward walk through the ranges', async () => {
    window.history.replaceState(null, '', '/?range=7d');
    const user = userEvent.setup();
    render(<Harness />);
    expect(pressed()).toEqual(['7d']);
    await user.click(segment(/^24 h$/));
    expect(window.location.search).toBe('?range=24h');
    await user.click(segment(/^Live$/));
    expect(window.location.search).toBe('');
    expect(pressed()).toEqual(['live']);
    act(() => window.history.back());
    await waitFor(() => expect(pressed()).toEqual(['24h']));
    act(() => window.history.back());
    await waitFor(() => expect(pressed()).toEqual(['7d']));
    act(() => window.history.forward());
    await waitFor(() => expect(pressed()).toEqual(['24h']));
  });

  it('announces each change of range, not the first render', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const region = screen.getByTestId('range-announcer');
    expect(region).toHaveAttribute('aria-live', 'polite');
    expect(region).toBeEmptyDOMElement();
    await user.click(segment(/^24 h$/));
    expect(region).toHaveTextContent('Showing the history: the last 24 hours.');
    await user.click(segment(/^Live$/));
    expect(region).toHaveTextContent('Showing live data.');
  });

  it('takes a custom range from two checked fields, into the URL as Unix seconds', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const custom = segment(/Custom/);
    await user.click(custom);
    expect(custom).toHaveAttribute('aria-expanded', 'true');
    const dialog = screen.getByRole('dialog', { name: 'Custom time range' });
    const from = within(dialog).getByLabelText('From');
    const to = within(dialog).getByLabelText('To');
    expect(from).toHaveFocus();

    await user.clear(from);
    await user.type(from, '2026-11-20T10:00');
    await user.clear(to);
    await user.type(to, '2026-11-20T09:00');
    await user.click(within(dialog).getByRole('button', { name: 'Show range' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('The end must be after the start.');
    expect(to).toHaveAttribute('aria-invalid', 'true');
    expect(to).toHaveAccessibleDescription('The end must be after the start.');
    expect(window.location.search).toBe('');

    await user.clear(to);
    await user.type(to, '2026-11-20T16:30');
    await user.click(within(dialog).getByRole('button', { name: 'Show range' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    const start = new Date(2026, 10, 20, 10, 0).getTime() / 1000;
    const end = new Date(2026, 10, 20, 16, 30).getTime() / 1000;
    expect(window.location.search).toBe(`?from=${start}&to=${end}`);
    expect(pressed()).toEqual(['custom']);
  });

  it('closes the custom form with Escape, back on its button', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(segment(/Custom/));
    expect(screen.getByRole('dialog')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(segment(/Custom/)).toHaveFocus();
    expect(window.location.search).toBe('');
  });
});
