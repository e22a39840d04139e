import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { GpuRow, type GpuRowProps } from './GpuRow';

const base: GpuRowProps = {
  index: 3,
  name: 'NVIDIA H100 80GB HBM3',
  utilization: 77.4,
  memory: { used: 7372.8, total: 81559 },
  temperature: { value: 64, level: 'ok' },
  power: { usage: 669.2, limit: 700 },
  state: 'busy',
  owner: { user: 'alice', process: 'python3', others: 2 },
};

function row(props: Partial<GpuRowProps> = {}) {
  render(
    <ul>
      <GpuRow {...base} {...props} />
    </ul>,
  );
  return screen.getByRole('listitem');
}

describe('GpuRow', () => {
  it('shows index, name, utilization, memory, temperature, power, state and owner, each named for screen readers', () => {
    const li = row();
    expect(li).toHaveAccessibleName('GPU 3: H100 80GB HBM3');
    expect(within(li).getByRole('heading', { level: 3 })).toHaveTextContent('H100 80GB HBM3');
    expect(within(li).getByTestId('row-util')).toHaveTextContent('Utilization 77 %');
    expect(within(li).getByTestId('row-memory')).toHaveTextContent('Memory used 7.2 GiB of/79.6 GiB');
    expect(within(li).getByTestId('row-temp')).toHaveTextContent('Temperature 64°');
    expect(within(li).getByTestId('row-temp')).toHaveAttribute('data-level', 'ok');
    expect(within(li).getByTestId('row-power')).toHaveTextContent(/Power 669 W of\/700\s+W/);
    expect(within(li).getByTestId('row-state')).toHaveTextContent('State: Busy');
    expect(within(li).getByTestId('row-owner')).toHaveTextContent('Top process: alice · , python3 +2');
    expect(li).toHaveAttribute('data-state', 'busy');
    expect(li.querySelector('[role="img"]')).toBeNull(); // no sparkline without history
  });

  it('says warm and hot in words beside the colour', () => {
    const warm = row({ temperature: { value: 78, level: 'warn' } });
    expect(within(warm).getByTestId('row-temp')).toHaveTextContent('78°WARM');
  });

  it('shows a hot GPU as hot, a failed one as failed with its reason', () => {
    const { unmount } = render(
      <ul>
        <GpuRow {...base} state="hot" temperature={{ value: 91, level: 'hot' }} />
      </ul>,
    );
    expect(screen.getByTestId('row-temp')).toHaveTextContent('91°HOT');
    expect(screen.getByTestId('row-state')).toHaveTextContent('Hot');
    unmount();
    const failed = row({
      state: 'failed',
      utilization: null,
      memory: { used: null, total: null },
      temperature: { value: null, level: 'unknown' },
      power: { usage: null, limit: null },
      owner: null,
      reason: 'GPU is lost',
    });
    expect(within(failed).getByTestId('row-state')).toHaveTextContent('Failed');
    expect(within(failed).getByTestId('row-state')).toHaveAttribute('title', 'GPU is lost');
    // Not reported is a dash, never a zero.
    expect(within(failed).getByTestId('row-util')).toHaveTextContent('Utilization —');
    expect(within(failed).getByTestId('row-memory')).toHaveTextContent('—');
    expect(within(failed).getByTestId('row-memory')).not.toHaveTextContent('0');
    expect(within(failed).getByTestId('row-temp')).toHaveTextContent('—');
    expect(within(failed).getByTestId('row-owner')).toHaveTextContent('Top process: —none');
  });

  it('shows an idle GPU without owner as a dash', () => {
    const li = row({ state: 'idle', utilization: 0, owner: null });
    expect(within(li).getByTestId('row-state')).toHaveTextContent('Idle');
    expect(within(li).getByTestId('row-util')).toHaveTextContent('0 %');
    expect(within(li).getByTestId('row-owner')).toHaveTextContent('none');
  });

  it('glows only while live and busy, inside the row (no blurred shadow to paint)', () => {
    const busy = row();
    expect(busy.className).toContain('border-neon-fuchsia/25');
    expect(busy.className).not.toMatch(/(^|\s)shadow-/);
    const { container } = render(
      <ul>
        <GpuRow {...base} state="idle" idPrefix="idle" />
        <GpuRow {...base} dimmed idPrefix="last-known" />
      </ul>,
    );
    for (const li of container.querySelectorAll('li')) {
      expect(li.className).not.toContain('neon-fuchsia');
      expect(li.className).toContain('border-white/[0.07]');
    }
  });

  it('greys last-known values and says so', () => {
    const li = row({ dimmed: true, state: 'stale' });
    expect(li).toHaveAttribute('data-dimmed');
    expect(li.className).toContain('grayscale');
    expect(within(li).getByTestId('row-state')).toHaveTextContent('Stale');
    const { container } = render(
      <ul>
        <GpuRow {...base} dimmed idPrefix="other" />
      </ul>,
    );
    expect(container.querySelector('[data-testid="row-state"]')).toHaveTextContent('Busy (last known)');
  });

  it('draws a sparkline from history, and shows label text as text', () => {
    const li = row({
      name: '<img src=x onerror=alert(1)>',
      owner: { user: '<script>alert(1)</script>', process: '<b>x</b>' },
      history: [
        { t: 1, util: 10, mem: 5 },
        { t: 2, util: 60, mem: 5 },
      ],
    });
    expect(within(li).getByRole('img')).toHaveAccessibleName(/Utilization/);
    expect(within(li).getByRole('heading')).toHaveTextContent('<img src=x onerror=alert(1)>');
    expect(within(li).getByTestId('row-owner')).toHaveTextContent('<script>alert(1)</script>');
    expect(li.querySelector('script, img, b')).toBeNull();
  });
});
