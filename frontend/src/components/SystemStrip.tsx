import { Clock, Cpu, HardDrive, Layers, MemoryStick } from 'lucide-react';
import { memo, type ReactNode } from 'react';
import type { System } from '../api/types';
import { gib, load, uptime } from '../lib/format';
import { Meter } from './Meter';

function Item({ icon, label, children, meter }: { icon: ReactNode; label: string; children: ReactNode; meter?: ReactNode }) {
  return (
    <div className="flex min-w-0 flex-col gap-1.5 px-1" role="group" aria-label={label}>
      <div className="label flex items-center gap-1.5">
        {icon}
        {label}
      </div>
      <div className="num flex flex-wrap items-baseline gap-x-1.5 text-xl font-semibold text-ink">{children}</div>
      {meter}
    </div>
  );
}

const Dim = ({ children }: { children: ReactNode }) => (
  <span className="font-sans text-sm font-medium text-ink-3">{children}</span>
);

/** On phones the host strip goes below the GPUs (order-last): the first screen is for the GPUs. */
function SystemStripImpl({ system, compact = false }: { system: System; compact?: boolean }) {
  return (
    <section
      aria-label="Host system"
      className={`glass order-last grid grid-cols-2 gap-x-4 gap-y-5 rounded-2xl px-4 ${compact ? 'py-3' : 'py-4'} sm:grid-cols-3 md:order-none lg:grid-cols-5 lg:px-6`}
      data-testid="system-strip"
    >
      <Item icon={<Cpu size={14} aria-hidden="true" />} label="CPU" meter={<Meter value={system.cpuUsage} tone="cool" />}>
        {system.cpuUsage.toFixed(0)}
        <Dim>
          %{system.cpuCount !== null && <span className="hidden sm:inline">{` · ${system.cpuCount} cores`}</span>}
        </Dim>
      </Item>
      <Item
        icon={<MemoryStick size={14} aria-hidden="true" />}
        label="Memory"
        meter={<Meter value={system.memoryUsage} tone="cool" />}
      >
        {system.memoryUsage.toFixed(0)}
        <Dim>
          %
          {system.memoryUsed !== null && system.memoryTotal !== null && (
            <span className="hidden sm:inline">{` · ${gib(system.memoryUsed)} / ${gib(system.memoryTotal)} GiB`}</span>
          )}
        </Dim>
      </Item>
      <Item icon={<Layers size={14} aria-hidden="true" />} label="Load 1 / 5 / 15">
        {load(system.loadAverage[0])}
        <Dim>
          {load(system.loadAverage[1])} · {load(system.loadAverage[2])}
        </Dim>
      </Item>
      <Item icon={<Clock size={14} aria-hidden="true" />} label="Uptime">
        {uptime(system.uptime)}
      </Item>
      <Item
        icon={<HardDrive size={14} aria-hidden="true" />}
        label="Disk"
        meter={<Meter value={system.diskUtilization} tone="cool" />}
      >
        {system.diskUtilization.toFixed(0)}
        <Dim>% used</Dim>
      </Item>
    </section>
  );
}

export const SystemStrip = memo(SystemStripImpl);
