import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { HistoryPoint } from '../api/view';
import { Sparkline } from './Sparkline';

// The box the component draws in: 100 units wide, 56 px high, 4 px above 100 %, 3 px below 0 %.
const Y100 = 4;
const Y0 = 53;

function series(values: readonly (number | null)[]): HistoryPoint[] {
  return values.map((util, i) => ({ t: i * 1000, util, mem: null }));
}

function draw(values: readonly (number | null)[]) {
  const { container } = render(
    <Sparkline data={series(values)} dataKey="util" title="Utilization" from="#7c3aed" to="#d946ef" />,
  );
  const line = container.querySelector('path.spark-line')?.getAttribute('d') ?? null;
  const area = container.querySelector('path.spark-area')?.getAttribute('d') ?? null;
  return { container, line, area };
}

/** The subpaths of a path, each as its list of [x, y] points (control points included). */
function subpaths(d: string): number[][][] {
  return d
    .split('M')
    .filter(Boolean)
    .map((part) => {
      const numbers = (part.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
      if (/h0$/.test(part)) return [[numbers[0]!, numbers[1]!]];
      const points: number[][] = [];
      for (let i = 0; i + 1 < numbers.length; i += 2) points.push([numbers[i]!, numbers[i + 1]!]);
      return points;
    });
}

describe('Sparkline', () => {
  it('draws the samples left to right, 0 % at the bottom and 100 % at the top', () => {
    const { line, area } = draw([0, 50, 100]);
    expect(line).toMatch(/^M0,53C/);
    const [run] = subpaths(line!);
    expect(run![0]).toEqual([0, Y0]);
    expect(run![3]).toEqual([50, (Y0 + Y100) / 2]); // the middle sample, after its two control points
    expect(run![run!.length - 1]).toEqual([100, Y100]);
    // Monotone: no control point above 100 % or below 0 %.
    for (const [, y] of run!) expect(y).toBeGreaterThanOrEqual(Y100);
    for (const [, y] of run!) expect(y).toBeLessThanOrEqual(Y0);
    // The fill follows the line, then closes along 0 %.
    expect(area).toBe(`${line}L100,${Y0}L0,${Y0}Z`);
  });

  it('leaves a gap where a sample is missing, and fills only under the drawn runs', () => {
    const { line, area } = draw([10, 20, null, 40, 50, 60]);
    const runs = subpaths(line!);
    expect(runs).toHaveLength(2);
    expect(runs[0]![0]![0]).toBe(0);
    expect(runs[0]![runs[0]!.length - 1]![0]).toBe(20);
    expect(runs[1]![0]![0]).toBe(60);
    expect(runs[1]![runs[1]!.length - 1]![0]).toBe(100);
    expect(area!.match(/Z/g)).toHaveLength(2);
  });

  it('draws a lone sample between gaps as a dot, without a fill', () => {
    const { line, area } = draw([null, 30, null]);
    expect(line).toBe('M50,38.3h0');
    expect(area).toBeNull();
  });

  it('draws a flat series as a straight horizontal line', () => {
    const { line } = draw([42, 42, 42, 42, 42]);
    const ys = subpaths(line!)[0]!.map(([, y]) => y);
    expect(new Set(ys)).toEqual(new Set([32.42]));
  });

  it('draws an idle GPU at 0 % inside the box, not on its edge', () => {
    const { line } = draw([0, 0, 0]);
    for (const [, y] of subpaths(line!)[0]!) expect(y).toBe(Y0);
  });

  it('clamps values outside 0–100 %', () => {
    const { line } = draw([120, -5]);
    expect(line).toBe(`M0,${Y100}L100,${Y0}`);
  });

  it('puts a single sample at the right edge (now)', () => {
    const { line, area } = draw([75]);
    expect(line).toBe('M100,16.25h0');
    expect(area).toBeNull();
  });

  it('draws nothing for an empty or all-missing series, and says so', () => {
    for (const values of [[], [null, null]]) {
      const { container, line, area } = draw(values);
      expect(line).toBeNull();
      expect(area).toBeNull();
      expect(screen.getByRole('img', { name: 'Utilization: not reported' })).toBeInTheDocument();
      container.remove();
    }
  });

  it('is one image with the numbers as its name; the SVG is hidden from screen readers', () => {
    const { container } = draw([10, 80, 40]);
    expect(screen.getByRole('img', { name: 'Utilization over the last 2 s: now 40 %, min 10 %, max 80 %' })).toBeInTheDocument();
    expect(container.querySelector('svg')).toHaveAttribute('aria-hidden', 'true');
  });

  it('paints the line and the fill with gradients of its own', () => {
    const { container } = draw([10, 20]);
    const ids = [...container.querySelectorAll('linearGradient')].map((g) => g.id);
    expect(ids).toHaveLength(2);
    const line = container.querySelector('path.spark-line')!;
    const area = container.querySelector('path.spark-area')!;
    expect(line.getAttribute('stroke')).toBe(`url(#${ids[0]})`);
    expect(area.getAttribute('fill')).toBe(`url(#${ids[1]})`);
    // The stroke gradient spans the box in user units, so a flat line is painted too.
    expect(container.querySelector(`#${ids[0]}`)).toHaveAttribute('gradientUnits', 'userSpaceOnUse');
    expect(line).toHaveAttribute('vector-effect', 'non-scaling-stroke');
  });

  it('does not animate (nothing for prefers-reduced-motion to turn off)', () => {
    const { container } = draw([10, 20, 30]);
    expect(container.querySelector('animate, animateTransform, animateMotion, set')).toBeNull();
    expect(container.innerHTML).not.toMatch(/transition|animation/);
  });
});
