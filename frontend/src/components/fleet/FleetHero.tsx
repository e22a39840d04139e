import { Cpu, Flame, Moon, Server, Zap } from 'lucide-react';
import { memo, type ReactNode } from 'react';
import type { FleetTotals } from '../../api/types';
import type { FleetHostView } from '../../api/view';

function Stat({
  icon,
  label,
  short,
  value,
  foot,
  tone = 'text-ink',
  testId,
}: {
  icon: ReactNode;
  label: string;
  /** Shown instead of the label where six stats share a line. */
  short?: string;
  value: number;
  foot?: ReactNode;
  tone?: string;
  testId: string;
}) {
  return (
    <div
      className="flex min-w-0 flex-col gap-1 rounded-xl border border-white/[0.07] bg-white/[0.03] p-2.5 sm:gap-1.5 sm:rounded-2xl sm:p-4"
      role="group"
      aria-label={label}
      data-testid={testId}
    >
      <div className="label flex min-w-0 items-center gap-1.5">
        <span className="hidden sm:inline">{icon}</span>
        <span className="truncate" aria-hidden={short ? true : undefined}>
          {short ? (
            <>
              <span className="xl:hidden">{label}</span>
              <span className="hidden xl:inline">{short}</span>
            </>
          ) : (
            label
          )}
        </span>
      </div>
      <div className={`num text-[1.625rem] leading-none font-semibold tracking-tight sm:text-[2.25rem] ${tone}`}>{value}</div>
      {foot && <div className="hidden text-xs text-ink-3 sm:block sm:text-sm">{foot}</div>}
    </div>
  );
}

/** The mean utilization of the GPUs of hosts that are up (null when none reports one). */
function fleetUtilization(hosts: readonly FleetHostView[]): number | null {
  let sum = 0;
  let n = 0;
  for (const h of hosts) {
    if (h.state !== 'up') continue;
    for (const g of h.gpus) {
      if (g.state === 'stale' || g.state === 'down' || g.utilization === null || !Number.isFinite(g.utilization)) continue;
      sum += g.utilization;
      n += 1;
    }
  }
  return n === 0 ? null : sum / n;
}

interface FleetHeroProps {
  totals: FleetTotals;
  hosts: readonly FleetHostView[];
}

/** The fleet at a glance: mean utilization, hosts (and how many are down), GPUs busy, idle and hot. */
function FleetHeroImpl({ totals, hosts }: FleetHeroProps) {
  const util = fleetUtilization(hosts);
  const up = totals.hosts - totals.hostsDown;
  return (
    <section
      aria-labelledby="fleet-hero-title"
      className="glass gradient-border relative grid gap-4 overflow-hidden rounded-3xl p-4 sm:gap-5 sm:p-6 lg:grid-cols-[minmax(0,0.8fr)_minmax(0,2fr)] lg:items-center"
      data-testid="fleet-hero"
    >
      <div
        aria-hidden="true"
        className="pointer-events-none absolute -top-24 -left-16 size-96 rounded-full bg-[radial-gradient(closest-side,rgb(34_211_238/0.18),transparent)]"
      />
      <div className="min-w-0">
        <h2 id="fleet-hero-title" className="label">
          Fleet GPU utilization
        </h2>
        <p
          className="num mt-1 flex items-baseline text-[3.5rem] leading-none font-bold tracking-[-0.04em] sm:text-hero"
          data-testid="fleet-util"
        >
          {util === null ? (
            <span className="text-ink-3" title="No GPU reports a utilization">
              —
            </span>
          ) : (
            <>
              <span className="text-gradient">{Math.round(util)}</span>
              <span className="text-gradient ml-1 text-4xl sm:text-5xl">%</span>
            </>
          )}
        </p>
        <p className="mt-3 font-display text-lg font-medium text-ink-2 sm:text-xl" data-testid="fleet-sentence">
          {totals.hosts} host{totals.hosts === 1 ? '' : 's'} · {totals.gpus} GPU{totals.gpus === 1 ? '' : 's'}
          {totals.hostsDown > 0 && <span className="text-hot-ink"> · {totals.hostsDown} down</span>}
          {totals.hot > 0 && <span className="text-hot-ink"> · {totals.hot} hot</span>}
        </p>
      </div>
      <div className="grid grid-cols-3 gap-2 sm:gap-3 xl:grid-cols-6">
        <Stat
          testId="fleet-hosts"
          icon={<Server size={14} aria-hidden="true" />}
          label="Hosts"
          value={totals.hosts}
          foot={
            totals.hostsDown > 0 ? (
              <>
                {up} up · <span className="font-semibold text-hot-ink">{totals.hostsDown} down</span>
              </>
            ) : (
              'all up'
            )
          }
        />
        <Stat
          testId="fleet-hosts-down"
          icon={<Server size={14} aria-hidden="true" />}
          label="Hosts down"
          short="Down"
          value={totals.hostsDown}
          tone={totals.hostsDown > 0 ? 'text-hot-ink' : 'text-ink'}
          foot="down or stale"
        />
        <Stat
          testId="fleet-gpus"
          icon={<Cpu size={14} aria-hidden="true" />}
          label="GPUs"
          value={totals.gpus}
          foot="on every host"
        />
        <Stat
          testId="fleet-busy"
          icon={<Zap size={14} aria-hidden="true" />}
          label="Busy"
          value={totals.busy}
          tone="text-fuchsia-ink"
          foot="GPUs at work"
        />
        <Stat
          testId="fleet-idle"
          icon={<Moon size={14} aria-hidden="true" />}
          label="Idle"
          value={totals.idle}
          tone="text-ink"
          foot="GPUs free"
        />
        <Stat
          testId="fleet-hot"
          icon={<Flame size={14} aria-hidden="true" />}
          label="Hot"
          value={totals.hot}
          tone={totals.hot > 0 ? 'text-hot-ink' : 'text-ink'}
          foot="at or over the hot threshold"
        />
      </div>
    </section>
  );
}

export const FleetHero = memo(FleetHeroImpl);
