import { CircleAlert, RotateCw } from 'lucide-react';
import { memo, useMemo } from 'react';
import type { FetchFailure } from '../../api/fetchJson';
import type { FleetHistoryResponse } from '../../api/fleet.gen';
import type { HistoryPoint } from '../../api/view';
import type { AnswerState } from '../../hooks/useHistory';
import { groupByHost, type HostHistory } from '../../lib/fleet';
import { shortName } from '../../lib/format';
import { formatMoment, formatSpan } from '../../lib/range';
import { sparkPaths } from '../../lib/sparkline';
import { FleetStatusLine } from './FleetStatusLine';

/** One colour per GPU of a host (tints readable on the canvas), then again. */
const COLOURS = ['#b79cff', '#67e8f9', '#f0a6fb', '#4ade9a', '#fcc44d', '#93c5fd', '#ff8da1', '#e2e8f0'];
const W = 100;
const H = 96;

function stats(values: readonly (number | null)[]): { mean: number; max: number } | null {
  let sum = 0;
  let n = 0;
  let max = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    sum += v;
    n += 1;
    max = Math.max(max, v);
  }
  return n === 0 ? null : { mean: sum / n, max };
}

const HostChart = memo(function HostChart({ host, from, to }: { host: HostHistory; from: number; to: number }) {
  const lines = useMemo(
    () =>
      host.series.map((s) => {
        const points: HistoryPoint[] = s.times.map((t, i) => ({ t: t * 1000, util: s.utilization[i] ?? null, mem: null }));
        return {
          s,
          line: sparkPaths(points, 'util', { width: W, height: H, top: 3, bottom: 3 }).line,
          stats: stats(s.utilization),
        };
      }),
    [host],
  );
  const summary = lines
    .map(({ s, stats: st }) =>
      st === null ? `GPU ${s.gpu}: no samples` : `GPU ${s.gpu}: mean ${Math.round(st.mean)} %, max ${Math.round(st.max)} %`,
    )
    .join('; ');
  return (
    <section className="glass rounded-2xl p-3 sm:p-4" aria-labelledby={`fleet-hist-${host.key}`} data-testid="fleet-history-host">
      <header className="mb-2 flex flex-wrap items-baseline gap-x-3">
        <h3 id={`fleet-hist-${host.key}`} className="min-w-0 truncate font-display text-lg font-semibold" title={host.host}>
          {host.host}
        </h3>
        <span className="num truncate text-sm text-ink-3">{host.instance}</span>
        <span className="label ml-auto">Utilization</span>
      </header>
      <div className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-2">
        <div aria-hidden="true" className="num flex flex-col justify-between text-xs text-ink-3" style={{ height: H }}>
          <span>100</span>
          <span>50</span>
          <span>0 %</span>
        </div>
        <div role="img" aria-label={`Utilization per GPU on ${host.host}: ${summary}`} className="relative" style={{ height: H }}>
          <svg
            className="block h-full w-full overflow-visible"
            viewBox={`0 0 ${W} ${H}`}
            preserveAspectRatio="none"
            aria-hidden="true"
            focusable="false"
          >
            {[3, H / 2, H - 3].map((y) => (
              <line
                key={y}
                x1={0}
                x2={W}
                y1={y}
                y2={y}
                stroke="rgb(255 255 255 / 0.08)"
                strokeWidth={1}
                vectorEffect="non-scaling-stroke"
              />
            ))}
            {lines.map(({ s, line }, i) =>
              line ? (
                <path
                  key={`${s.gpu}-${s.uuid ?? ''}`}
                  d={line}
                  fill="none"
                  stroke={COLOURS[i % COLOURS.length]}
                  strokeWidth={2.25}
                  strokeLinejoin="round"
                  strokeLinecap="round"
                  vectorEffect="non-scaling-stroke"
                />
              ) : null,
            )}
          </svg>
        </div>
        <div />
        <div aria-hidden="true" className="num mt-1 flex justify-between text-xs text-ink-3">
          <span>{formatMoment(from)}</span>
          <span>{formatMoment(to)}</span>
        </div>
      </div>
      <ul className="mt-2 flex flex-wrap gap-x-3 gap-y-1 text-sm text-ink-2" aria-label={`GPUs of ${host.host}`}>
        {lines.map(({ s, stats: st }, i) => (
          <li key={`${s.gpu}-${s.uuid ?? ''}`} className="inline-flex items-center gap-1.5">
            <span
              aria-hidden="true"
              className="inline-block h-1 w-4 rounded-full"
              style={{ background: COLOURS[i % COLOURS.length] }}
            />
            <span className="num font-semibold text-ink">GPU {s.gpu}</span>
            {s.name && <span className="hidden text-ink-3 sm:inline">{shortName(s.name)}</span>}
            <span className="num text-ink-3">
              {st === null ? 'no samples' : `avg ${Math.round(st.mean)} % · max ${Math.round(st.max)} %`}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
});

interface FleetHistoryProps {
  history: AnswerState<FleetHistoryResponse, FetchFailure>;
  onRetry: () => void;
  /** What the range is, in words ("the last 24 hours"). */
  rangeText: string;
}

/** The fleet over a past range, from Prometheus range queries: one small utilization chart per host. */
function FleetHistoryImpl({ history, onRetry, rangeText }: FleetHistoryProps) {
  const data = history.state === 'ok' ? history.data : history.state === 'loading' ? history.previous : null;
  const hosts = useMemo(() => (data ? groupByHost(data.series) : []), [data]);
  return (
    <div
      className="flex flex-col gap-4"
      data-testid="fleet-history"
      data-state={history.state}
      aria-busy={history.state === 'loading'}
    >
      <header className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
        <h2 className="font-display text-2xl font-semibold">The fleet over {rangeText}</h2>
        {data && (
          <p className="text-sm text-ink-3">
            {hosts.length} host{hosts.length === 1 ? '' : 's'} · one point every {formatSpan(data.step)} · from Prometheus
          </p>
        )}
      </header>
      {history.state === 'error' && (
        <div
          role="alert"
          className="flex flex-wrap items-center gap-3 rounded-2xl border border-hot/50 bg-hot/10 p-4 text-hot-ink"
          data-testid="fleet-history-error"
        >
          <CircleAlert size={20} aria-hidden="true" />
          <p className="min-w-0 flex-1 text-ink wrap-anywhere">{history.error.message}</p>
          <button
            type="button"
            onClick={onRetry}
            className="inline-flex items-center gap-1.5 rounded-lg border border-line-strong px-3 py-1.5 text-sm font-semibold text-ink hover:bg-white/10"
          >
            <RotateCw size={14} aria-hidden="true" /> Retry
          </button>
        </div>
      )}
      {data && data.status.state !== 'ok' && <FleetStatusLine status={data.status} nowS={data.to} />}
      {data === null && history.state === 'loading' && (
        <div className="grid gap-4 lg:grid-cols-2" data-testid="fleet-history-skeleton">
          {[0, 1, 2, 3].map((i) => (
            <div key={i} className="glass h-48 animate-pulse rounded-2xl motion-reduce:animate-none" />
          ))}
        </div>
      )}
      {data && hosts.length === 0 && (
        <p className="glass rounded-2xl p-6 text-center text-ink-2" data-testid="fleet-history-empty">
          Prometheus has no GPU samples over this range.
        </p>
      )}
      {hosts.length > 0 && (
        <div className="grid gap-4 lg:grid-cols-2 3xl:grid-cols-3">
          {hosts.map((h) => (
            <HostChart key={h.key} host={h} from={data!.from} to={data!.to} />
          ))}
        </div>
      )}
    </div>
  );
}

export const FleetHistory = memo(FleetHistoryImpl);
