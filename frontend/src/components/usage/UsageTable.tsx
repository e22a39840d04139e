import { ArrowDown, ArrowUp, ArrowUpDown } from 'lucide-react';
import { memo, useEffect, useMemo, useState } from 'react';
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

/** Rows are mounted this many at a time, one task each, so 500 rows never make one long task. */
const CHUNK = 120;

/** How many of `total` rows to mount: CHUNK at first, CHUNK more after each paint, until all are. */
function useProgressive(data: unknown, total: number): number {
  const [shown, setShown] = useState({ data, n: Math.min(total, CHUNK) });
  let n = shown.n;
  if (shown.data !== data) {
    n = Math.min(total, CHUNK);
    setShown({ data, n });
  }
  useEffect(() => {
    if (n >= total) return;
    const timer = setTimeout(() => setShown((s) => ({ data: s.data, n: Math.min(total, s.n + CHUNK) })), 0);
    return () => clearTimeout(timer);
  }, [n, total]);
  return Math.min(n, total);
}

const Row = memo(function Row({ row, by, session, nowMs }: { row: UsageRow; by: UsageBy; session: boolean; nowMs: number }) {
  const name = rowName(row, by);
  const unknown = row.label.trim() === '' && row.key.trim() === '';
  return (
    <tr className="border-t border-white/[0.06] hover:bg-white/[0.03]" data-key={row.key}>
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

interface UsageTableProps {
  rows: readonly UsageRow[];
  by: UsageBy;
  sort: UsageSort;
  onSort: (sort: UsageSort) => void;
}

/**
 * Every row of the answer, sortable by any column: a header is a button
 * (click, Enter or Space; again for the other direction), the sorted column
 * says so with aria-sort. Rows are memoised and mounted in chunks.
 */
function UsageTableImpl({ rows, by, sort, onSort }: UsageTableProps) {
  const session = by === 'session';
  const columns = useMemo(() => COLUMNS.filter((c) => c.id !== 'user' || session), [session]);
  const sorted = useMemo(() => sortRows(rows, sort, by), [rows, sort, by]);
  // A React key per row that survives sorting and never repeats (two rows may share a `key`, e.g. no user).
  const ids = useMemo(() => new Map(rows.map((r, i) => [r, `${i}:${r.key}`])), [rows]);
  const shown = useProgressive(rows, sorted.length);
  const [nowMs] = useState(() => Date.now());
  const noun = BY_NOUN[by];
  return (
    <section aria-label={`Usage per ${noun.one}`} className="glass min-w-0 rounded-2xl">
      {/* relative: the headers' sr-only text is absolutely placed, and must scroll inside, not widen the page */}
      <div className="relative overflow-x-auto rounded-2xl" tabIndex={0} role="region" aria-label="Usage table">
        <table className="num w-full min-w-[58rem] border-collapse text-sm text-ink-2" data-testid="usage-table" data-rows={sorted.length}>
          <caption className="sr-only">
            Usage per {noun.one}, {sorted.length} {sorted.length === 1 ? noun.one : noun.many}, sorted by{' '}
            {(columns.find((c) => c.id === sort.column)?.long ?? columns.find((c) => c.id === sort.column)?.title ?? '').toLowerCase()},{' '}
            {sort.direction}. Column headers sort the table.
          </caption>
          <thead>
            <tr className="text-xs uppercase tracking-wide text-ink-3">
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
          <tbody>
            {sorted.slice(0, shown).map((row) => (
              <Row key={ids.get(row)} row={row} by={by} session={session} nowMs={nowMs} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export const UsageTable = memo(UsageTableImpl);
