import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { mergeFleet } from '../../stream/fleet';
import { manyHostsMsg } from '../../test/fleet';
import { FleetLive } from './FleetLive';
import { WINDOW_FROM } from './FleetHostList';

const THRESHOLDS = { warn: 70, hot: 85 };
/** A host of 2 GPUs before it is measured: 2 rows of 46 px and 100 px of header; 12 px between hosts. */
const STRIDE = 2 * 46 + 100 + 12;

const fleet = manyHostsMsg;

const names = () => screen.getAllByTestId('fleet-host-name').map((h) => h.textContent);

function scrollTo(y: number) {
  act(() => {
    Object.defineProperty(window, 'scrollY', { value: y, configurable: true });
    window.dispatchEvent(new Event('scroll'));
  });
}

afterEach(() => {
  Object.defineProperty(window, 'scrollY', { value: 0, configurable: true });
});

describe('FleetLive with a large fleet (windowed)', () => {
  it('puts only the hosts on and near the screen in the page, in a box as tall as the whole list', () => {
    render(<FleetLive fleet={mergeFleet(null, fleet(100))} thresholds={THRESHOLDS} />);
    expect(screen.getByTestId('fleet-count')).toHaveTextContent('100 hosts');
    // jsdom's window is 768 px high: hosts 0-3 are on screen, 4 drawn ahead.
    expect(names()).toEqual(['node-000', 'node-001', 'node-002', 'node-003', 'node-004']);
    // Drawn in full at once: every placed host has its GPU rows.
    expect(screen.getAllByTestId('gpu-row')).toHaveLength(10);
    const box = screen.getByTestId('fleet-window');
    expect(box.style.height).toBe(`${100 * STRIDE - 12}px`);
    // Each host sits at its own offset.
    const placed = [...box.children] as HTMLElement[];
    expect(placed.map((el) => el.style.transform)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `translateY(${i * STRIDE}px)`),
    );
    expect(screen.getByTestId('fleet-windowed-note')).toHaveTextContent(
      '100 hosts: those near the screen are drawn as you scroll; the filter finds any host or GPU.',
    );
  });

  it('follows the scroll: the hosts around the new position come in, those left behind go out', async () => {
    render(<FleetLive fleet={mergeFleet(null, fleet(100))} thresholds={THRESHOLDS} />);
    scrollTo(50 * STRIDE);
    await waitFor(() => expect(names()).toContain('node-050'));
    expect(names()).not.toContain('node-000');
    expect(names()).toEqual(['node-049', 'node-050', 'node-051', 'node-052', 'node-053', 'node-054']);
    scrollTo(100 * STRIDE);
    await waitFor(() => expect(names()).toContain('node-099'));
    expect(names().at(-1)).toBe('node-099');
  });

  it('keeps placed hosts live: a new message updates what is on screen', async () => {
    const first = mergeFleet(null, fleet(100));
    const { rerender } = render(<FleetLive fleet={first} thresholds={THRESHOLDS} />);
    const host = screen.getAllByTestId('fleet-host')[0]!;
    expect(within(host).getAllByTestId('row-util')[0]).toHaveTextContent('50 %');
    rerender(<FleetLive fleet={mergeFleet(first, fleet(100, 77))} thresholds={THRESHOLDS} />);
    await waitFor(() => expect(within(host).getAllByTestId('row-util')[0]).toHaveTextContent('77 %'));
  });

  it('finds a host far down the list with the filter, and sorts the whole fleet, not only what is drawn', async () => {
    const msg = fleet(100);
    msg.hosts[87]!.gpus[0]!.utilization = 99;
    render(<FleetLive fleet={mergeFleet(null, msg)} thresholds={THRESHOLDS} />);
    fireEvent.change(screen.getByTestId('fleet-filter'), { target: { value: 'node-087' } });
    await waitFor(() => expect(names()).toEqual(['node-087']));
    expect(screen.getByTestId('fleet-count')).toHaveTextContent('1 of 100 hosts');
    expect(screen.getByTestId('fleet-window').style.height).toBe(`${STRIDE - 12}px`);
    fireEvent.change(screen.getByTestId('fleet-filter'), { target: { value: '' } });
    fireEvent.click(within(screen.getByTestId('fleet-sort')).getByRole('button', { name: 'Utilization' }));
    await waitFor(() => expect(names()[0]).toBe('node-087'));
  });

  it(`windows from ${WINDOW_FROM} hosts; a smaller fleet has every host in the page`, async () => {
    const { unmount } = render(<FleetLive fleet={mergeFleet(null, fleet(WINDOW_FROM - 1))} thresholds={THRESHOLDS} />);
    await waitFor(() => expect(screen.getAllByTestId('fleet-host')).toHaveLength(WINDOW_FROM - 1));
    expect(screen.queryByTestId('fleet-window')).toBeNull();
    unmount();
    render(<FleetLive fleet={mergeFleet(null, fleet(WINDOW_FROM))} thresholds={THRESHOLDS} />);
    expect(screen.getByTestId('fleet-window')).toBeInTheDocument();
    expect(screen.getAllByTestId('fleet-host').length).toBeLessThan(WINDOW_FROM);
  });
});
