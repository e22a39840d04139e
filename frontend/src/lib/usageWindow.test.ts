import { describe, expect, it } from 'vitest';
import { firstWindow, rowWindow } from './usageWindow';

const base = { total: 500, rowHeight: 40, viewport: 800, overscan: 10 };

describe('rowWindow', () => {
  it('mounts the rows on screen and the margin below, from the top, when the table starts on screen', () => {
    // The body starts 300 px down: rows 0-12 are on screen (500 px / 40), 10 more below.
    expect(rowWindow({ ...base, top: 300 })).toEqual({ start: 0, end: 23 });
    expect(firstWindow(500, 40, 800, 10)).toEqual({ start: 0, end: 30 });
  });

  it('follows the scroll: the rows in view and the margin on each side', () => {
    // Scrolled 4000 px into the body: rows 100-119 are on screen.
    expect(rowWindow({ ...base, top: -4000 })).toEqual({ start: 90, end: 130 });
    // Half a row further: row 100 is still partly on screen, row 120 comes in.
    expect(rowWindow({ ...base, top: -4020 })).toEqual({ start: 90, end: 131 });
  });

  it('moves its edges in steps, so a small scroll keeps the same window', () => {
    const at = (top: number) => rowWindow({ ...base, top, step: 8 });
    expect(at(-4000)).toEqual({ start: 88, end: 136 });
    expect(at(-4039)).toEqual(at(-4000));
    expect(at(-4000).start % 8).toBe(0);
  });

  it('stops at the ends of the table', () => {
    expect(rowWindow({ ...base, top: -19_500 })).toEqual({ start: 477, end: 500 });
    expect(rowWindow({ ...base, total: 5, top: 100 })).toEqual({ start: 0, end: 5 });
    expect(rowWindow({ ...base, total: 5, top: -100 })).toEqual({ start: 0, end: 5 });
  });

  it('keeps the nearest rows of a table off screen', () => {
    // Below the screen: its first rows, what a scroll down reaches first.
    expect(rowWindow({ ...base, top: 5000 })).toEqual({ start: 0, end: 10 });
    // Scrolled past: its last rows.
    expect(rowWindow({ ...base, top: -50_000 })).toEqual({ start: 490, end: 500 });
  });

  it('mounts nothing for an empty table or a row height it cannot use', () => {
    expect(rowWindow({ ...base, total: 0, top: 0 })).toEqual({ start: 0, end: 0 });
    expect(rowWindow({ ...base, rowHeight: 0, top: 0 })).toEqual({ start: 0, end: 0 });
    expect(rowWindow({ ...base, rowHeight: Number.NaN, top: 0 })).toEqual({ start: 0, end: 0 });
  });
});
