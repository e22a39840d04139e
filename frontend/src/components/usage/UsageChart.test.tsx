import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../../api/usage.gen';
import { axisTicks, chartRows, formatHours, formatMib, sortRows } from '../../lib/usage';
import { UsageChart } from './UsageChart';

const row = (key: string, gpuHours: number, patch: Partial<UsageRow> = {}): UsageRow => ({
  key,
  label: key,
  gpuHours,
  gibHours: gpuHours * 2,
  heldHours: gpuHours,
  sessions: 1,
  peakMemoryMib: 1024,
  meanMemoryMib: null,
  meanSm: null,
  firstSeen: 0,
  lastSeen: 1,
  ...patch,
});

describe('usage rows', () => {
  it('charts the top 15 by GPU-hours and sums the rest as one "others" bar', () => {
    const rows = Array.from({ length: 20 }, (_, i) => row(`r${i}`, i + 1));
    const bars = chartRows(rows, 'user');
    expect(bars).toHaveLength(16);
    expect(bars[0]).toMatchObject({ name: 'r19', gpuHours: 20, others: 0 });
    expect(bars[15]).toMatchObject({ key: '__others', name: '5 others', gpuHours: 1 + 2 + 3 + 4 + 5, gibHours: 30, others: 5 });
    expect(chartRows(rows.slice(0, 15), 'user')).toHaveLength(15);
  });

  it('names a row without a key for what it is, and formats hours and memory', () => {
    expect(chartRows([row('', 1)], 'user')[0]!.name).toBe('unknown user');
    expect(chartRows([row('', 1)], 'container')[0]!.name).toBe('no container');
    expect([0, 0.004, 0.4219, 12.34, 4321].map(formatHours)).toEqual(['0', '< 0.01', '0.42', '12.3', '4,321']);
    expect([null, 512, 1536, 81_920].map(formatMib)).toEqual(['—', '512 MiB', '1.5 GiB', '80.0 GiB']);
  });

  it('sorts names naturally and keeps the server order on ties', () => {
    const rows = [row('gpu10', 1), row('gpu2', 1), row('gpu1', 1)];
    expect(sortRows(rows, { column: 'label', direction: 'ascending' }, 'gpu').map((r) => r.key)).toEqual(['gpu1', 'gpu2', 'gpu10']);
    expect(sortRows(rows, { column: 'gpuHours', direction: 'descending' }, 'gpu').map((r) => r.key)).toEqual(['gpu10', 'gpu2', 'gpu1']);
  });
});

describe('axisTicks', () => {
  it('steps from 0 in round numbers up to the largest value', () => {
    expect(axisTicks(30)).toEqual([0, 10, 20, 30]);
    expect(axisTicks(31)).toEqual([0, 10, 20, 30, 40]);
    expect(axisTicks(0.42)).toEqual([0, 0.2, 0.4, 0.6]);
    expect(axisTicks(9)).toEqual([0, 2.5, 5, 7.5, 10]);
    expect(axisTicks(4321)).toEqual([0, 2000, 4000, 6000]);
    expect(axisTicks(0)).toEqual([0, 1]);
  });
});

describe('UsageChart', () => {
  it('draws a gradient bar per row in both panels, the others bar in slate', () => {
    const bars = chartRows(Array.from({ length: 18 }, (_, i) => row(`user${i}`, 18 - i)), 'user');
    const { container } = render(<UsageChart rows={bars} width={520} />);
    const panels = screen.getAllByTestId('usage-chart');
    expect(panels.map((p) => p.dataset.metric)).toEqual(['gpuHours', 'gibHours']);
    for (const panel of panels) {
      const rects = panel.querySelectorAll('.usage-bar path, .usage-bar rect');
      expect(rects.length).toBe(16);
      expect(rects[0]!.getAttribute('fill')).toMatch(/^url\(#/);
      expect(rects[15]!.getAttribute('fill')).toBe('rgb(100 116 139 / 0.7)');
    }
    expect(container.textContent).toContain('3 others');
  });
});
