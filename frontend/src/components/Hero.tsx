import { Cpu, MemoryStick, Zap } from 'lucide-react';
import { memo, type ReactNode } from 'react';
import type { Gpu, TemperatureThresholds } from '../api/types';
import { aggregate, statusParts, type Pair } from '../lib/aggregate';
import { percentOf } from '../lib/share';
import { TEMP_LABEL, tempLevel } from '../lib/thresholds';
import { gib, watts } from '../lib/format';
import { Meter } from './Meter';
import { Ring } from './Ring';
import { Value } from './Value';

function Stat({
  icon,
  label,
  children,
  foot,
  meter,
  className = '',
  compact = false,
}: {
  className?: string;
  compact?: boolean;
  icon: ReactNode;
  label: string;
  children: ReactNode;
  foot?: ReactNode;
  meter?: ReactNode;
}) {
  return (
    <div
      className={`flex min-w-0 flex-col rounded-2xl border border-white/[0.07] bg-white/[0.03] p-3 ${compact ? 'gap-1.5' : 'gap-2 sm:p-4'} ${className}`}
      role="group"
      aria-label={label}
    >
      <div className="label flex items-center gap-1.5">
        {icon}
        {label}
      </div>
      <div className={`num flex flex-wrap items-baseline gap-x-1.5 text-[1.75rem] leading-none font-semibold tracking-tight text-ink sm:text-3xl ${compact ? 'lg:text-[2.125rem]' : 'lg:text-[2.5rem]'}`}>
        {children}
      </div>
      {meter}
      {foot && <div className="text-xs text-ink-3 sm:text-sm">{foot}</div>}
    </div>
  );
}

const Small = ({ children }: { children: ReactNode }) => (
  <span className="font-sans text-base font-medium text-ink-2">{children}</span>
);

/** Under a hero stat: the share, or which GPUs are missing from the sum. */
function foot(p: Pair, what: string, of: string): string | undefined {
  if (p.missing > 0 && p.used !== null) return `${p.missing} GPU${p.missing === 1 ? '' : 's'} not reporting ${what}`;
  if (p.used !== null && p.total === null) return `${what === 'power' ? 'limit' : 'total'} not reported by every GPU`;
  const s = percentOf(p.used, p.total);
  return s === null ? undefined : `${Math.round(s)} % ${of}`;
}

const HOT_TEXT = { ok: '', unknown: '', warn: 'text-warn-ink', hot: 'text-hot-ink' } as const;

interface HeroProps {
  gpus: readonly Gpu[];
  thresholds: TemperatureThresholds;
  busyUtilization: number;
  /** The compact density: the same numbers in less height (all 8 GPUs' rows fit below it on one screen). */
  compact?: boolean;
}

function HeroImpl({ gpus, thresholds, busyUtilization, compact = false }: HeroProps) {
  const a = aggregate(gpus, busyUtilization);
  const parts = statusParts(a);
  // The hottest GPU's level, by its own slowdown temperature when it has one.
  const hottestGpu = gpus.find((g) => g.status === 'ok' && g.temperature !== null && g.temperature === a.hottest);
  const level = hottestGpu ? tempLevel(hottestGpu, thresholds) : 'unknown';
  const util = a.utilization === null ? null : Math.round(a.utilization);
  const memShare = percentOf(a.memory.used, a.memory.total);
  const powerShare = percentOf(a.power.used, a.power.total);
  return (
    <section
      aria-labelledby="hero-title"
      className={`glass gradient-border relative grid overflow-hidden rounded-3xl ${compact ? 'gap-4 p-4 sm:px-6 sm:py-3.5' : 'gap-6 p-5 sm:p-7'} lg:grid-cols-[minmax(0,1fr)_minmax(0,1.5fr)] lg:items-center`}
      data-compact={compact ? '' : undefined}
    >
      <div
        aria-hidden="true"
        className="pointer-events-none absolute -top-24 -left-16 size-96 rounded-full bg-[radial-gradient(closest-side,rgb(124_58_237/0.28),transparent)]"
      />
      <div className="flex items-center gap-5 sm:gap-7">
        <div className="relative hidden sm:block">
          <Ring value={util} {...(compact ? { size: 100, stroke: 10 } : {})} />
          <span className="label absolute inset-0 grid place-items-center" aria-hidden="true">
            avg
          </span>
        </div>
        <div className="min-w-0">
          <h2 id="hero-title" className="label">
            Aggregate GPU utilization
          </h2>
          <p className={`num mt-1 flex items-baseline text-[3.5rem] leading-none font-bold tracking-[-0.04em] ${compact ? 'sm:text-[3.75rem]' : 'sm:text-hero'}`}>
            <Value value={util} format={String} className="text-gradient" what="utilization" />
            {util !== null && <span className="text-gradient ml-1 text-4xl sm:text-5xl">%</span>}
          </p>
          <p className={`${compact ? 'mt-2' : 'mt-3'} font-display text-lg font-medium text-ink-2 sm:text-xl`} data-testid="status-sentence">
            {parts.map((part, i) => {
              const hottest = a.hottest !== null && i === parts.length - 1;
              return (
                <span key={part} className={hottest ? HOT_TEXT[level] : undefined}>
                  {i > 0 && ' · '}
                  {part}
                  {hottest && (level === 'warn' || level === 'hot') && ` (${TEMP_LABEL[level]})`}
                </span>
              );
            })}
          </p>
        </div>
      </div>
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-3">
        <Stat
          compact={compact}
          icon={<MemoryStick size={14} aria-hidden="true" />}
          label="Memory"
          meter={<Meter value={memShare} tone="cool" />}
          foot={foot(a.memory, 'memory', 'of total')}
        >
          <Value value={a.memory.used} format={gib} what="memory used" />
          <Small>
            / <Value value={a.memory.total} format={gib} what="memory total" /> GiB
          </Small>
        </Stat>
        <Stat
          compact={compact}
          icon={<Zap size={14} aria-hidden="true" />}
          label="Power"
          meter={<Meter value={powerShare} tone="cool" />}
          foot={foot(a.power, 'power', 'of limit')}
        >
          <Value value={a.power.used} format={watts} what="power" />
          <Small>
            / <Value value={a.power.total} format={watts} what="power limit" /> W
          </Small>
        </Stat>
        <Stat
          compact={compact}
          icon={<Cpu size={14} aria-hidden="true" />}
          label="GPUs"
          className="hidden sm:flex"
          foot={`${a.busy} busy · ${a.count - a.busy - a.failed} idle${a.failed > 0 ? ` · ${a.failed} failed` : ''}`}
        >
          {a.count}
        </Stat>
      </div>
    </section>
  );
}

export const Hero = memo(HeroImpl);
