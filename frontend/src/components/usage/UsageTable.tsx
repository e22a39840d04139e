import { ArrowDown, ArrowUp, ArrowUpDown } from 'lucide-react';
import { memo, useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import type { UsageRow } from '../../api/usage.gen';
import {
  BY_NOUN,
  formatHours,
  formatMib,
  formatPercent,
  formatSeen,
  rowName,
  sortRows,
  nextSort,
  type UsageBy,
  type UsageColumn,
  type UsageSort,
} from '../../lib/usage';
import { rowWindow, type RowWindow } from '../../lib/usageWindow';

interface Column {
  id: UsageColumn;
  title: string;
  /** What a screen reader hears for the header when the short title is not enough. */
  long?: string;
  numeric: boolean;
}

const COLUMNS: readonly Column[] = [
  { id: 'label', title: 'Name', numeric: false },
  { id: 'user', title: 'User', numeric: false },
  { id: 'gpuHours', title: 'GPU-h', long: 'GPU-hours', numeric: true },
  { id: 'gibHours', title: 'GiB-h', long: 'GiB-hours', numeric: true },
  { id: 'heldHours', title: 'Held h', long: 'Hours held', numeric: true },
  { id: 'sessions', title: 'Sessions', numeric: true },
  { id: 'peakMemoryMib', title: 'Peak mem', long: 'Peak memory', numeric: true },
  { id: 'meanMemoryMib', title: 'Mean mem', long: 'Mean memory', numeric: true },
  { id: 'meanSm', title: 'Mean SM', long: 'Mean SM utilization', numeric: true },
  { id: 'firstSeen', title: 'First seen', numeric: true },
  { id: 'lastSeen', title: 'Last seen', numeric: true },
];

/** Every row's height, px: fixed (one line, no wrapping), so where the rows are follows from the scroll. */
export const ROW_HEIGHT = 37;
/** Rows mounted beyond each edge of the screen. */
const OVERSCAN = 12;
/** The window's edges move this many rows at a time: a scroll re-renders every few rows, not every frame. */
const STEP = 6;

interface Place {
  /** The table body's top relative to the viewport, px. */
  top: number;
  /** The viewport's height, px. */
  viewport: number;
}

const windowAt = (total: number, place: Place): RowWindow =>
  rowWindow({ total, rowHeight: ROW_HEIGHT, top: place.top, viewport: place.viewport, overscan: OVERSCAN, step: STEP });

/**
 * The rows of `total` to mount: those on screen and a margin (lib/usageWindow).
 * Until the body has been laid out it assumes the table starts at the top of a
 * screen (the first screen of rows); then it reads where the body is where the
 * layout is already done: in a ResizeObserver callback (the page or the table
 * changed size) and in the animation frame after a scroll or a resize (passive
 * listeners, one read a frame). Never right after inserting rows, which would
 * force a layout inside the render task.
 */
function useRowWindow(body: RefObject<HTMLTableSectionElement | null>, total: number): RowWindow {
  const [place, setPlace] = useState<Place>(() => ({ top: 0, viewport: typeof window === 'undefined' ? 0 : window.innerHeight }));
  // For the scroll handler: a new place re-renders only when it changes which rows are mounted.
  const totalRef = useRef(total);
  useEffect(() => {
    totalRef.current = total;
  }, [total]);
  useEffect(() => {
    let frame = 0;
    const read = () => {
      frame = 0;
      const el = body.current;
      if (el === null) return;
      const next = { top: el.getBoundingClientRect().top, viewport: window.innerHeight };
      setPlace((old) => {
        const [a, b] = [windowAt(totalRef.current, old), windowAt(totalRef.current, next)];
        return a.start === b.start && a.end === b.end ? old : next;
      });
    };
    const later = () => {
      if (frame === 0) frame = requestAnimationFrame(read);
    };
    window.addEventListener('scroll', later, { passive: true });
    window.addEventListener('resize', later, { passive: true });
    // Called after layout: the page growing (the chart drawn, a notice) moves the table; its own rows change its size.
    const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(read);
    if (observer && body.current) {
      observer.observe(document.body);
      observer.observe(body.current);
    }
    return () => {
      window.removeEventListener('scroll', later);
      window.removeEventListener('resize', later);
      observer?.disconnect();
      if (frame !== 0) cancelAnimationFrame(frame);
    };
  }, [body]);
  return windowAt(total, place);
}

interface RowProps {
  row: UsageRow;
  /** Its place in the sorted table, from 0. */
  index: number;
  by: UsageBy;
  session: boolean;
  nowMs: number;
}

const ROW_STYLE = { height: ROW_HEIGHT } as const;

const Row = memo(function Row({ row, index, by, session, nowMs }: RowProps) {
  const name = rowName(row, by);
  const unknown = row.label.trim() === '' && row.key.trim() === '';
  return (
    // aria-rowindex: the header row is 1. One line each (nowrap), so every row is ROW_HEIGHT tall.
    <tr
      className="whitespace-nowrap border-t border-white/[0.06] hover:bg-white/[0.03]"
      style={ROW_STYLE}
      aria-rowindex={index + 2}
      data-key={row.key}
    >
      <th scope="row" className="max-w-[16rem] truncate py-2 pl-4 pr-3 text-left font-medium text-ink" title={name}>
        <span className={unknown ? 'italic text-ink-2' : undefined}>{name}</span>
      </th>
      {session && <td className="truncate px-3 py-2 text-ink-2">{row.user ?? '—'}</td>}
      <td className="px-3 py-2 text-right font-semibold text-ink">{formatHours(row.gpuHours)}</td>
      <td className="px-3 py-2 text-right">{formatHours(row.gibHours)}</td>
      <td className="px-3 py-2 text-right">{formatHours(row.heldHours)}</td>
      <td className="px-3 py-2 text-right">{row.sessions}</td>
      <td className="px-3 py-2 text-right">{formatMib(row.peakMemoryMib)}</td>
      <td className="px-3 py-2 text-right">{formatMib(row.meanMemoryMib)}</td>
      <td className="px-3 py-2 text-right">{formatPercent(row.meanSm)}</td>
      <td className="whitespace-nowrap px-3 py-2 text-right text-ink-2">{formatSeen(row.firstSeen, nowMs)}</td>
      <td className="whitespace-nowrap py-2 pl-3 pr-4 text-right text-ink-2">{formatSeen(row.lastSeen, nowMs)}</td>
    </tr>
  );
});

/** The height of `rows` rows not mounted, so the table is as tall, and the scroll as long, as with all of them. */
function Spacer({ rows, columns }: { rows: number; columns: number }) {
  return (
    <tr aria-hidden="true" data-spacer={rows} style={{ height: rows * ROW_HEIGHT }}>
      <td colSpan={columns} className="p-0" />
    </tr>
  );
}

interface UsageTableProps {
  rows: readonly UsageRow[];
  by: UsageBy;
  sort: UsageSort;
  onSort: (sort: UsageSort) => void;
}

/**
 * Every row of the answer, sortable by any column: a header is a button
 * (click, Enter or Space; again for the other direction), the sorted column
 * says so with aria-sort. Only the rows on screen and a margin are mounted
 * (useRowWindow), between two spacer rows that keep the table's height, so
 * 500 rows cost what 50 do; aria-rowcount and each row's aria-rowindex tell
 * a screen reader the whole table's size and where a row is in it. Nothing in
 * a row takes focus, so a scroll never unmounts a focused element: the focus
 * stops on the headers (always mounted) and the scrolling region.
 */
function UsageTableImpl({ rows, by, sort, onSort }: UsageTableProps) {
  const session = by === 'session';
  const columns = useMemo(() => COLUMNS.filter((c) => c.id !== 'user' || session), [session]);
  const sorted = useMemo(() => sortRows(rows, sort, by), [rows, sort, by]);
  // A React key per row that survives sorting and never repeats (two rows may share a `key`, e.g. no user).
  const ids = useMemo(() => new Map(rows.map((r, i) => [r, `${i}:${r.key}`])), [rows]);
  const body = useRef<HTMLTableSectionElement>(null);
  const { start, end } = useRowWindow(body, sorted.length);
  const [nowMs] = useState(() => Date.now());
  const noun = BY_NOUN[by];
  return (
    <section aria-label={`Usage per ${noun.one}`} className="glass min-w-0 rounded-2xl">
      {/* relative: the headers' sr-only text is absolutely placed, and must scroll inside, not widen the page */}
      <div className="relative overflow-x-auto rounded-2xl" tabIndex={0} role="region" aria-label="Usage table">
        <table
          className="num w-full min-w-[58rem] border-collapse text-sm text-ink-2"
          data-testid="usage-table"
          data-rows={sorted.length}
          data-row-height={ROW_HEIGHT}
          aria-rowcount={sorted.length + 1}
        >
          <caption className="sr-only">
            Usage per {noun.one}, {sorted.length} {sorted.length === 1 ? noun.one : noun.many}, sorted by{' '}
            {(columns.find((c) => c.id === sort.column)?.long ?? columns.find((c) => c.id === sort.column)?.title ?? '').toLowerCase()},{' '}
            {sort.direction}. Column headers sort the table.
          </caption>
          <thead>
            <tr className="text-xs uppercase tracking-wide text-ink-3" aria-rowindex={1}>
              {columns.map((c, i) => {
                const active = sort.column === c.id;
                const Icon = !active ? ArrowUpDown : sort.direction === 'ascending' ? ArrowUp : ArrowDown;
                const title = c.id === 'label' ? noun.one : c.title;
                return (
                  <th
                    key={c.id}
                    scope="col"
                    aria-sort={active ? sort.direction : undefined}
                    className={`p-0 font-semibold ${c.numeric ? 'text-right' : 'text-left'}`}
                  >
                    <button
                      type="button"
                      onClick={() => onSort(nextSort(sort, c.id))}
                      className={`inline-flex w-full items-center gap-1 whitespace-nowrap py-2.5 ${
                        i === 0 ? 'pl-4 pr-3' : i === columns.length - 1 ? 'pl-3 pr-4' : 'px-3'
                      } uppercase tracking-wide hover:text-ink ${c.numeric ? 'justify-end' : 'justify-start'} ${
                        active ? 'text-ink' : ''
                      }`}
                      data-column={c.id}
                    >
                      {c.long ? (
                        <>
                          <span aria-hidden="true">{title}</span>
                          <span className="sr-only">{c.long}</span>
                        </>
                      ) : (
                        title
                      )}
                      <Icon size={13} aria-hidden="true" className={`shrink-0 ${active ? 'text-fuchsia-ink' : 'opacity-50'}`} />
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody ref={body}>
            {start > 0 && <Spacer rows={start} columns={columns.length} />}
            {sorted.slice(start, end).map((row, i) => (
              <Row key={ids.get(row)} row={row} index={start + i} by={by} session={session} nowMs={nowMs} />
            ))}
            {end < sorted.length && <Spacer rows={sorted.length - end} columns={columns.length} />}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export const UsageTable = memo(UsageTableImpl);
