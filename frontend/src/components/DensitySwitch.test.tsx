import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { helloMsg, telemetryMsg } from '../test/payloads';
import { streamFrom } from '../test/stream';
import { DENSITY_STORAGE_KEY, loadDensity, saveDensity } from '../lib/density';
import { Dashboard } from './Dashboard';

const stream = () => streamFrom([helloMsg([telemetryMsg(1), telemetryMsg(2)])]);
const group = () => screen.getByRole('group', { name: 'Density' });
const button = (name: RegExp) => within(group()).getByRole('button', { name });

beforeEach(() => localStorage.clear());

describe('density', () => {
  it('reads only what it wrote; anything else, or no storage, is comfortable', () => {
    expect(loadDensity()).toBe('comfortable');
    localStorage.setItem(DENSITY_STORAGE_KEY, '{"nope"');
    expect(loadDensity()).toBe('comfortable');
    saveDensity('compact');
    expect(loadDensity()).toBe('compact');
    expect(loadDensity(null)).toBe('comfortable');
    const throwing = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('full');
      },
    } as unknown as Storage;
    expect(loadDensity(throwing)).toBe('comfortable');
    expect(() => saveDensity('compact', throwing)).not.toThrow();
  });

  it('switches the GPUs between cards and rows, and remembers the choice', async () => {
    const user = userEvent.setup();
    const { unmount } = render(<Dashboard {...stream()} />);
    expect(button(/Comfortable/)).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getAllByTestId('gpu-card')).toHaveLength(2);
    expect(screen.queryByTestId('gpu-row')).toBeNull();

    await user.click(button(/Compact/));
    expect(button(/Compact/)).toHaveAttribute('aria-pressed', 'true');
    expect(screen.queryByTestId('gpu-card')).toBeNull();
    const rows = screen.getAllByTestId('gpu-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveAccessibleName(/^GPU 0: /);
    expect(localStorage.getItem(DENSITY_STORAGE_KEY)).toBe('compact');
    unmount();

    // A new page in the same browser opens compact.
    render(<Dashboard {...stream()} />);
    expect(button(/Compact/)).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getAllByTestId('gpu-row')).toHaveLength(2);
  });

  it('is one tab stop: arrows move, Enter chooses', async () => {
    const user = userEvent.setup();
    render(<Dashboard {...stream()} />);
    const buttons = within(group()).getAllByRole('button');
    expect(buttons.filter((b) => b.tabIndex === 0)).toEqual([button(/Comfortable/)]);
    act(() => button(/Comfortable/).focus());
    await user.keyboard('{ArrowRight}');
    expect(button(/Compact/)).toHaveFocus();
    expect(button(/Comfortable/)).toHaveAttribute('aria-pressed', 'true'); // moving is not choosing
    await user.keyboard('{Enter}');
    expect(button(/Compact/)).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getAllByTestId('gpu-row')).toHaveLength(2);
    await user.keyboard('{Home}');
    expect(button(/Comfortable/)).toHaveFocus();
    await user.keyboard(' ');
    expect(screen.getAllByTestId('gpu-card')).toHaveLength(2);
    expect(localStorage.getItem(DENSITY_STORAGE_KEY)).toBe('comfortable');
  });

  it('shows the busy and idle states and the owner from the live sample', async () => {
    saveDensity('compact');
    render(<Dashboard {...stream()} />);
    const [gpu0, gpu1] = screen.getAllByTestId('gpu-row');
    expect(gpu0).toHaveAttribute('data-state', 'idle');
    expect(gpu1).toHaveAttribute('data-state', 'busy');
    expect(within(gpu1!).getByTestId('row-util')).toHaveTextContent('48 %');
  });
});
