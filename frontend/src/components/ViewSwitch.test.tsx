import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useView } from '../hooks/useView';
import { TopNav } from './TopNav';
import { ViewSwitch } from './ViewSwitch';
import { ViewSwitchContext } from './ViewSwitchContext';

/** The switch wired to the URL, as App.tsx does. */
function Harness() {
  const [view, setView] = useView();
  return <ViewSwitch view={view} onChange={setView} />;
}

const group = () => screen.getByRole('group', { name: 'View' });
const tab = (name: string) => within(group()).getByRole('button', { name });
const pressed = () =>
  within(group())
    .getAllByRole('button')
    .filter((b) => b.getAttribute('aria-pressed') === 'true')
    .map((b) => b.dataset.value);

beforeEach(() => window.history.replaceState(null, '', '/'));
afterEach(() => window.history.replaceState(null, '', '/'));

describe('ViewSwitch', () => {
  it('shows GPUs · Usage · Events with icons and words, GPUs pressed, one tab stop', () => {
    render(<Harness />);
    const buttons = within(group()).getAllByRole('button');
    expect(buttons.map((b) => b.textContent)).toEqual(['GPUs', 'Usage', 'Events']);
    for (const b of buttons) expect(b.querySelector('svg[aria-hidden="true"]')).not.toBeNull();
    expect(pressed()).toEqual(['gpus']);
    expect(buttons.filter((b) => b.tabIndex === 0).map((b) => b.dataset.value)).toEqual(['gpus']);
  });

  it('moves with the arrow keys (wrapping), Home and End, and chooses with Enter or Space', async () => {
    const user = userEvent.setup();
    render(
      <>
        <button type="button">before</button>
        <Harness />
        <button type="button">after</button>
      </>,
    );
    await user.tab();
    await user.tab();
    expect(tab('GPUs')).toHaveFocus();
    await user.keyboard('{ArrowRight}');
    expect(tab('Usage')).toHaveFocus();
    expect(pressed()).toEqual(['gpus']); // moving is not choosing
    await user.keyboard('{Enter}');
    expect(pressed()).toEqual(['usage']);
    expect(window.location.search).toBe('?view=usage');
    await user.keyboard('{ArrowRight}{ArrowRight}');
    expect(tab('GPUs')).toHaveFocus();
    await user.keyboard('{ArrowLeft}');
    expect(tab('Events')).toHaveFocus();
    await user.keyboard('{Home}');
    expect(tab('GPUs')).toHaveFocus();
    await user.keyboard('{End} ');
    expect(pressed()).toEqual(['events']);
    // One tab stop: Tab leaves the group, Shift+Tab comes back to the chosen view.
    await user.tab();
    expect(screen.getByRole('button', { name: 'after' })).toHaveFocus();
    await user.tab({ shift: true });
    expect(tab('Events')).toHaveFocus();
  });

  it('follows back and forward, and announces a change (not the first render)', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    expect(screen.getByTestId('view-announcer')).toBeEmptyDOMElement();
    await user.click(tab('Usage'));
    expect(screen.getByTestId('view-announcer')).toHaveTextContent('Showing the usage.');
    act(() => window.history.back());
    await waitFor(() => expect(pressed()).toEqual(['gpus']));
    expect(screen.getByTestId('view-announcer')).toHaveTextContent('Showing the GPUs.');
    // The tab stop follows the view chosen elsewhere.
    expect(within(group()).getAllByRole('button').filter((b) => b.tabIndex === 0)).toEqual([tab('GPUs')]);
  });

  it('sits in the top bar beside the range control when App provides it, and not otherwise', () => {
    const nav = (
      <TopNav
        hostname="gpu-box"
        connection="live"
        source="nvml"
        hasSample
        pollIntervalMs={500}
        version="1.0"
        range={{ kind: 'live' }}
        onRangeChange={() => {}}
      />
    );
    const { rerender } = render(nav);
    expect(screen.queryByRole('group', { name: 'View' })).toBeNull();
    rerender(<ViewSwitchContext.Provider value={{ view: 'usage', onChange: () => {} }}>{nav}</ViewSwitchContext.Provider>);
    expect(pressed()).toEqual(['usage']);
    expect(screen.getByRole('group', { name: 'Time range' })).toBeInTheDocument();
  });
});

describe('ViewSwitch in fleet mode', () => {
  it('offers Fleet as a fourth view only when the server is in fleet mode', () => {
    const { rerender } = render(<ViewSwitch view="gpus" onChange={() => {}} />);
    expect(within(group()).getAllByRole('button').map((b) => b.textContent)).toEqual(['GPUs', 'Usage', 'Events']);
    rerender(<ViewSwitch view="gpus" onChange={() => {}} fleet />);
    expect(within(group()).getAllByRole('button').map((b) => b.textContent)).toEqual(['GPUs', 'Usage', 'Events', 'Fleet']);
  });
});
