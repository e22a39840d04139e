import { CircleSlash, Flame, Moon, TriangleAlert, Unplug, Zap } from 'lucide-react';
import { memo, type ReactNode } from 'react';
import type { HistoryPoint } from '../api/view';
import { DASH, gib, shortName, watts } from '../lib/format';
import { percentOf } from '../lib/share';
import { TEMP_LABEL, type TempLevel } from '../lib/thresholds';
import { Sparkline } from './Sparkline';

/** What a GPU is doing, in one word: the compact row's state column. */
export type RowState = 'busy' | 'idle' | 'hot' | 'failed' | 'stale' | 'down';

export interface RowOwner {
  /** The process's user; null when not reported. */
  user: string | null;
  /** The process name as shown (base name of a path). */
  process: string;
  /** How many other processes share the GPU. */
  others?: number;
}

export interface GpuRowProps {
  /** The GPU's index on its host (the fleet's `gpu` label is a string). */
  index: number | string;
  name: string;
  /** Utilization, %; null = not reported. */
  utilization: number | null;
  /** Memory, MiB. */
  memory: { used: number | null; total: number | null };
  temperature: { value: number | null; level: TempLevel };
  /** Power, W. */
  power: { usage: number | null; limit: number | null };
  state: RowState;
  /** The user and process holding the most GPU memory; null = no process; left out = no such column (the fleet). */
  owner?: RowOwner | null;
  /** Recent utilization for a sparkline; no sparkline column without it. */
  history?: readonly HistoryPoint[];
  /** Last-known values of a host that is down or stale: shown greyed, never as live. */
  dimmed?: boolean;
  /** Why the GPU failed or went stale (a tooltip on the state). */
  reason?: string | null;
  /** Prefix for element ids (a host name in the fleet), so ids stay unique on the page. */
  idPrefix?: string;
}

const STATE: Record<RowState, { text: string; cls: string; bar: string; Icon: typeof Zap }> = {
  busy: {
    text: 'Busy',
    cls: 'border-neon-fuchsia/50 bg-neon-fuchsia/15 text-fuchsia-ink',
    bar: 'bg-gradient-to-b from-neon-violet to-neon-fuchsia',
    Icon: Zap,
  },
  idle: {
    text: 'Idle',
    cls: 'border-line-strong bg-white/5 text-ink-2',
    bar: 'bg-unknown/60',
    Icon: Moon,
  },
  hot: {
    text: 'Hot',
    cls: 'border-hot/60 bg-hot/15 text-hot-ink',
    bar: 'bg-hot',
    Icon: Flame,
  },
  failed: {
    text: 'Failed',
    cls: 'border-hot/60 bg-hot/15 text-hot-ink',
    bar: 'bg-hot',
    Icon: TriangleAlert,
  },
  stale: {
    text: 'Stale',
    cls: 'border-warn/50 bg-warn/10 text-warn-ink',
    bar: 'bg-warn',
    Icon: CircleSlash,
  },
  down: {
    text: 'Down',
    cls: 'border-hot/50 bg-hot/10 text-hot-ink',
    bar: 'bg-hot/70',
    Icon: Unplug,
  },
};

/**
 * A busy row's soft fuchsia glow, drawn inside it (a tinted border and a fading wash) rather than
 * as a blurred shadow: in a fleet of hundreds of rows scrolling by, the blurred shadows of rows
 * and sections were a fifth of the software rasterizer's work.
 */
const BUSY_GLOW =
  'border-neon-fuchsia/25 bg-[linear-gradient(90deg,rgb(217_70_239_/_0.13),rgb(217_70_239_/_0.04)_45%,rgb(255_255_255_/_0.035))]';

const TEMP_TEXT: Record<TempLevel, string> = {
  ok: 'text-ok-ink',
  warn: 'text-warn-ink',
  hot: 'text-hot-ink',
  unknown: 'text-ink-3',
};

/**
 * Two flex lines below 1024 px (name · owner · state, then util · memory ·
 * temperature · power); from 1024 px the lines become `display: contents` and
 * every cell a column of one grid line, with a sparkline column when there is
 * history.
 */
const COLS = 'lg:grid-cols-[minmax(9rem,1.05fr)_minmax(9rem,1.25fr)_10rem_5.5rem_7.5rem_6.5rem_minmax(8rem,1fr)]';
const COLS_SPARK = 'lg:grid-cols-[minmax(9rem,1.05fr)_minmax(9rem,1.25fr)_10rem_5.5rem_7.5rem_6.5rem_minmax(8rem,1fr)_7rem]';
export const ROW_GRID = `flex flex-col gap-1.5 lg:grid lg:items-center lg:gap-x-4 ${COLS}`;
export const ROW_GRID_SPARK = COLS_SPARK;
const LINE = 'flex min-w-0 items-center gap-3 lg:contents';

const CELL = {
  name: 'lg:col-start-1 lg:row-start-1',
  owner: 'lg:col-start-7 lg:row-start-1',
  state: 'lg:col-start-6 lg:row-start-1',
  util: 'lg:col-start-2 lg:row-start-1',
  mem: 'lg:col-start-3 lg:row-start-1',
  temp: 'lg:col-start-4 lg:row-start-1',
  power: 'lg:col-start-5 lg:row-start-1',
  spark: 'hidden lg:col-start-8 lg:row-start-1 lg:block',
} as const;

/** The column heads above a list of rows (wide screens only; each cell also names itself to screen readers). */
export function GpuRowHeader({ spark = false, owner = true }: { spark?: boolean; owner?: boolean }) {
  const head = 'label truncate';
  return (
    <div aria-hidden="true" className={`hidden px-4 pb-1 lg:grid lg:gap-x-4 ${COLS} ${spark ? COLS_SPARK : ''}`}>
      <span className={`${head} lg:col-start-1`}>GPU</span>
      <span className={`${head} lg:col-start-2`}>Utilization</span>
      <span className={`${head} lg:col-start-3`}>Memory</span>
      <span className={`${head} lg:col-start-4`}>Temp</span>
      <span className={`${head} lg:col-start-5`}>Power</span>
      <span className={`${head} lg:col-start-6`}>State</span>
      {owner && <span className={`${head} lg:col-start-7`}>Top process</span>}
      {spark && <span className={`${head} lg:col-start-8`}>Recent util</span>}
    </div>
  );
}

const Small = ({ children }: { children: ReactNode }) => (
  <span className="font-sans text-sm font-medium text-ink-3">{children}</span>
);

function stateLabel(state: RowState, dimmed: boolean): string {
  const word = STATE[state].text.toLowerCase();
  return dimmed && state !== 'stale' && state !== 'down' ? `${word} (last known)` : word;
}

/**
 * One GPU on one line (two on phones): index and name, a utilization bar with
 * its number, memory used/total, temperature coloured by level (with the word
 * when warm or hot), power/limit, the state in words and colour, and the
 * owner of the largest process. Plain props, no stream: the single-host
 * page's compact density and the fleet view both draw it.
 */
function GpuRowImpl({
  index,
  name,
  utilization,
  memory,
  temperature,
  power,
  state,
  owner,
  history,
  dimmed = false,
  reason,
  idPrefix = 'gpu-row',
}: GpuRowProps) {
  const s = STATE[state];
  const titleId = `${idPrefix}-${index}-title`;
  const util = utilization === null ? null : Math.max(0, Math.min(100, utilization));
  const memShare = percentOf(memory.used, memory.total);
  const tempWord = temperature.level === 'warn' || temperature.level === 'hot' ? TEMP_LABEL[temperature.level] : null;
  const label = stateLabel(state, dimmed);
  return (
    <li
      aria-labelledby={titleId}
      data-testid="gpu-row"
      data-state={state}
      data-dimmed={dimmed ? '' : undefined}
      className={`relative ${ROW_GRID} ${history ? ROW_GRID_SPARK : ''} overflow-hidden rounded-xl border py-2 pr-3 pl-4 lg:py-1 lg:pr-4 ${
        state === 'busy' && !dimmed ? BUSY_GLOW : 'border-white/[0.07] bg-white/[0.035]'
      } ${dimmed ? 'opacity-60 grayscale' : ''}`}
    >
      <span aria-hidden="true" className={`absolute inset-y-1.5 left-1 w-1 rounded-full ${s.bar}`} />
      <div className={LINE}>
        <div className={`flex min-w-0 shrink-0 items-center gap-2.5 lg:shrink ${CELL.name}`}>
          <span
            aria-hidden="true"
            className="num grid size-7 shrink-0 place-items-center rounded-lg bg-gradient-to-br from-neon-violet/40 to-neon-cyan/25 text-base font-bold text-ink ring-1 ring-white/15"
          >
            {index}
          </span>
          <h3
            id={titleId}
            className="max-w-[9.5rem] truncate font-display text-lg lg:max-w-none leading-tight font-semibold lg:text-xl"
            title={name}
          >
            <span className="sr-only">GPU {index}:</span> {shortName(name)}
          </h3>
        </div>

        {owner === undefined ? (
          <div aria-hidden="true" className="min-w-0 flex-1 lg:hidden" />
        ) : (
          <div
            className={`min-w-0 flex-1 truncate text-right text-sm text-ink-2 lg:text-left lg:text-base ${CELL.owner}`}
            data-testid="row-owner"
            title={owner ? `${owner.user ?? 'user not reported'} · ${owner.process}` : 'No process'}
          >
            <span className="sr-only">Top process: </span>
            {owner === null ? (
              <span className="text-ink-3">
                <span aria-hidden="true">{DASH}</span>
                <span className="sr-only">none</span>
              </span>
            ) : (
              <>
                <span className="font-semibold text-ink">{owner.user ?? DASH}</span>
                <span aria-hidden="true" className="text-ink-3">
                  {' · '}
                </span>
                <span className="sr-only">, </span>
                {owner.process}
                {owner.others ? <span className="text-ink-3"> +{owner.others}</span> : null}
              </>
            )}
          </div>
        )}

        <div className={`shrink-0 ${CELL.state}`}>
          <span
            className={`inline-flex items-center gap-1 rounded-full border px-2 py-0.5 text-xs font-bold tracking-wider uppercase sm:text-sm ${s.cls}`}
            title={reason ?? undefined}
            data-testid="row-state"
          >
            <s.Icon size={14} aria-hidden="true" className="hidden shrink-0 sm:block" />
            <span className="sr-only">State: </span>
            {s.text}
            {label !== s.text.toLowerCase() && <span className="sr-only"> (last known)</span>}
          </span>
        </div>
      </div>

      {/* Narrow rows (a phone, a host's section) wrap rather than let the numbers run into each other. */}
      <div className={`${LINE} flex-wrap gap-y-1.5`}>
        <div className={`flex flex-1 items-center gap-2.5 ${CELL.util}`}>
          <div aria-hidden="true" className="h-2.5 min-w-8 flex-1 overflow-hidden rounded-full bg-white/[0.08]">
            {util !== null && (
              <div
                className="h-full rounded-full bg-brand"
                style={{
                  width: `${util}%`,
                  backgroundSize: util > 0 ? `${(100 / util) * 100}% 100%` : undefined,
                }}
              />
            )}
          </div>
          <span
            className="num shrink-0 text-right text-xl leading-none font-bold lg:min-w-[4.25rem] lg:text-[1.375rem]"
            data-testid="row-util"
          >
            <span className="sr-only">Utilization </span>
            {util === null ? (
              <span className="text-ink-3" title="utilization not reported">
                {DASH}
              </span>
            ) : (
              <>
                <span className="text-gradient">{Math.round(util)}</span>
                <span className="text-gradient text-base"> %</span>
              </>
            )}
          </span>
        </div>

        <div
          className={`num min-w-0 text-lg leading-none font-semibold whitespace-nowrap lg:text-xl ${CELL.mem}`}
          data-testid="row-memory"
        >
          <span className="sr-only">Memory used </span>
          {memory.used === null ? <span className="text-ink-3">{DASH}</span> : gib(memory.used)}
          <Small>
            <span className="sr-only"> GiB of</span>
            <span aria-hidden="true">/</span>
            {memory.total === null ? DASH : gib(memory.total)}
            <span className="hidden sm:inline"> GiB</span>
            {memShare !== null && <span className="hidden xl:inline"> · {Math.round(memShare)}%</span>}
          </Small>
        </div>

        <div
          className={`num flex min-w-0 items-baseline gap-1 text-lg leading-none font-semibold whitespace-nowrap lg:text-xl ${TEMP_TEXT[temperature.level]} ${CELL.temp}`}
          data-testid="row-temp"
          data-level={temperature.level}
        >
          <span className="sr-only">Temperature </span>
          {temperature.value === null ? DASH : `${temperature.value}°`}
          {tempWord && <span className="font-sans text-[0.6875rem] font-bold tracking-wider">{tempWord}</span>}
        </div>

        <div
          className={`num min-w-0 text-lg leading-none font-semibold whitespace-nowrap lg:text-xl ${CELL.power}`}
          data-testid="row-power"
        >
          <span className="sr-only">Power </span>
          {power.usage === null ? <span className="text-ink-3">{DASH}</span> : watts(power.usage)}
          <Small>
            {power.limit !== null && (
              <span className="hidden sm:inline">
                <span className="sr-only"> W of</span>
                <span aria-hidden="true">/</span>
                {watts(power.limit)}
              </span>
            )}{' '}
            W
          </Small>
        </div>
      </div>

      {history && (
        <div className={`min-w-0 ${CELL.spark}`}>
          <Sparkline data={history} dataKey="util" title="Utilization" from="#7c3aed" to="#d946ef" height={26} />
        </div>
      )}
    </li>
  );
}

export const GpuRow = memo(GpuRowImpl);
