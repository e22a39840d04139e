/**
 * Which rows of a long table to mount: those on screen and a margin around
 * them (row windowing). The page scrolls the window, not a box, and every row
 * has the same height, so the rows in view follow from where the table's body
 * is relative to the viewport. Pure (jsdom has no layout): UsageTable reads
 * the two numbers from the browser and asks this.
 */

export interface RowWindow {
  /** The first row mounted. */
  readonly start: number;
  /** One past the last row mounted (start ≤ end ≤ total). */
  readonly end: number;
}

export interface RowWindowInput {
  /** How many rows the table has. */
  readonly total: number;
  /** Every row's height, px (> 0). */
  readonly rowHeight: number;
  /** The top of the table's body relative to the viewport's top, px (negative once scrolled past). */
  readonly top: number;
  /** The viewport's height, px. */
  readonly viewport: number;
  /** Rows mounted beyond each edge of the screen, so a scroll shows rows already laid out. */
  readonly overscan: number;
  /** The edges move in steps of this many rows, so a scroll re-renders every few rows, not every frame (≥ 1). */
  readonly step?: number;
}

/**
 * The rows [start, end) that cover the viewport plus `overscan` rows each
 * side, the edges widened to multiples of `step`. A table below the screen
 * mounts its first rows (what a scroll reaches first), one scrolled past
 * mounts its last.
 */
export function rowWindow({ total, rowHeight, top, viewport, overscan, step = 1 }: RowWindowInput): RowWindow {
  if (total <= 0 || !(rowHeight > 0)) return { start: 0, end: 0 };
  const s = Math.max(1, Math.floor(step));
  const first = Math.floor(-top / rowHeight); // the row at the viewport's top edge
  const last = Math.ceil((Math.max(0, viewport) - top) / rowHeight); // one past the row at its bottom edge
  let start = Math.floor((first - overscan) / s) * s;
  let end = Math.ceil((last + overscan) / s) * s;
  start = Math.min(Math.max(0, start), total);
  end = Math.min(Math.max(0, end), total);
  // Off screen: keep the nearest rows (at least the margin) so the next scroll finds them.
  if (end - start < overscan) {
    if (start === 0) end = Math.min(total, overscan);
    else start = Math.max(0, total - overscan);
  }
  return { start, end };
}

/** The first screen of rows, before the table has been laid out: it starts at the top and fills a viewport. */
export function firstWindow(total: number, rowHeight: number, viewport: number, overscan: number, step = 1): RowWindow {
  return rowWindow({ total, rowHeight, top: 0, viewport, overscan, step });
}
