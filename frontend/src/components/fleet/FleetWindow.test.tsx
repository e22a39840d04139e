import { act, render, screen, waitFor, within } from '@testing-library/react';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { mergeFleet } from '../../stream/fleet';
import { manyHostsMsg } from '../../test/fleet';
import { FleetLive } from './FleetLive';

/** An IntersectionObserver that answers only when the test says so. */
const observed = new Set<Element>();
let report: ((entries: { target: Element; isIntersecting: boolean }[]) => void) | null = null;

beforeAll(() => {
  vi.stubGlobal(
    'IntersectionObserver',
    class {
      constructor(callback: (entries: { target: Element; isIntersecting: boolean }[]) => void) {
        report = callback;
      }
      observe(el: Element) {
        observed.add(el);
      }
      unobserve(el: Element) {
        observed.delete(el);
      }
      disconnect() {}
    },
  );
});

const fleet = manyHostsMsg;

describe('FleetLive with many hosts', () => {
  it('puts a screen of hosts in the page first, then the rest; draws rows as hosts come near; hosts away keep their last drawing', async () => {
    const first = mergeFleet(null, fleet(12));
    const { rerender } = render(<FleetLive fleet={first} thresholds={{ warn: 70, hot: 85 }} />);
    // The first commit: six sections (the rest follow after a frame, so no commit is long).
    expect(screen.getAllByTestId('fleet-host')).toHaveLength(6);
    await waitFor(() => expect(screen.getAllByTestId('fleet-host')).toHaveLength(12));
    const sections = screen.getAllByTestId('fleet-host');
    // Every host has its header (name, state, link); only the first two their rows.
    expect(screen.getAllByTestId('fleet-host-name')).toHaveLength(12);
    expect(screen.getAllByTestId('gpu-row')).toHaveLength(4);
    expect(screen.getAllByTestId('fleet-host-placeholder')).toHaveLength(10);
    act(() => report?.([{ target: sections[7]!, isIntersecting: true }]));
    expect(within(sections[7]!).getAllByTestId('gpu-row')).toHaveLength(2);
    // Host 0 scrolls away: a new message redraws neither its rows nor its header (its state
    // attribute follows); host 7, on screen, follows.
    act(() => report?.([{ target: sections[0]!, isIntersecting: false }]));
    rerender(<FleetLive fleet={mergeFleet(first, fleet(12, 77))} thresholds={{ warn: 70, hot: 85 }} />);
    await waitFor(() => expect(within(sections[7]!).getAllByTestId('row-util')[0]).toHaveTextContent('77 %'));
    expect(within(sections[7]!).getByText(/% avg/)).toHaveTextContent('64 % avg');
    expect(within(sections[0]!).getAllByTestId('row-util')[0]).toHaveTextContent('50 %');
    expect(within(sections[0]!).getByText(/% avg/)).toHaveTextContent('50 % avg');
    act(() => report?.([{ target: sections[0]!, isIntersecting: true }]));
    expect(within(sections[0]!).getAllByTestId('row-util')[0]).toHaveTextContent('77 %');
    expect(within(sections[0]!).getByText(/% avg/)).toHaveTextContent('64 % avg');
  });
});
