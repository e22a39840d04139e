import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GpuStream } from './api/view';
import { App } from './App';
import { fleetGpu, fleetHost, fleetMsg } from './test/fleet';
import { configMsg, helloMsg, telemetryMsg } from './test/payloads';
import { streamFrom } from './test/stream';

let current: GpuStream;
vi.mock('./stream/useGpuStream', () => ({ useGpuStream: () => current }));

function hello(fleet: boolean) {
  const h = helloMsg([telemetryMsg(1)]);
  (h as { config: unknown }).config = configMsg({ fleet });
  return h;
}

const labels = () =>
  within(screen.getByRole('group', { name: 'View' }))
    .getAllByRole('button')
    .map((b) => b.textContent);

beforeEach(() => {
  window.history.replaceState(null, '', '/');
  localStorage.clear();
});
afterEach(() => window.history.replaceState(null, '', '/'));

describe('App: the Fleet view', () => {
  it('is not offered without fleet mode, and ?view=fleet then shows the GPUs', () => {
    current = streamFrom([hello(false)]);
    window.history.replaceState(null, '', '/?view=fleet');
    render(<App />);
    expect(labels()).toEqual(['GPUs', 'Usage', 'Events']);
    expect(screen.getAllByTestId('gpu-card').length).toBeGreaterThan(0);
    expect(screen.queryByTestId('fleet-view')).toBeNull();
  });

  it('is the fourth view with fleet mode on, and shows the hosts from the stream', async () => {
    const user = userEvent.setup();
    current = streamFrom([hello(true), fleetMsg([fleetHost('node-a', [fleetGpu(0)]), fleetHost('node-b', [fleetGpu(0), fleetGpu(1)])])]);
    render(<App />);
    expect(labels()).toEqual(['GPUs', 'Usage', 'Events', 'Fleet']);
    await user.click(within(screen.getByRole('group', { name: 'View' })).getByRole('button', { name: 'Fleet' }));
    expect(window.location.search).toBe('?view=fleet');
    expect(await screen.findByTestId('fleet-view')).toBeInTheDocument();
    expect(screen.getAllByTestId('fleet-host')).toHaveLength(2);
    expect(screen.getAllByTestId('gpu-row')).toHaveLength(3);
    expect(screen.queryByTestId('gpu-card')).toBeNull();
  });
});
