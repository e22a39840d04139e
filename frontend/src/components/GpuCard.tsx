import { Fan, Gauge, MemoryStick, TriangleAlert, Zap } from 'lucide-react';
import { m, useReducedMotion } from 'motion/react';
import { memo, type ReactNode } from 'react';
import type { Gpu, TemperatureThresholds } from '../api/types';
import { useInView } from '../hooks/useInView';
import { gib, pct, shortBus, shortName, shortUuid, watts } from '../lib/format';
import { memoryShare, percentOf } from '../lib/share';
import { isBusy, tempLevel } from '../lib/thresholds';
import type { GpuEntry, HistoryPoint } from '../api/view';
import { Meter } from './Meter';
import { ProcessTable } from './ProcessTable';
import { Sparkline } from './Sparkline';
import { TempChip } from './TempChip';
import { Value } from './Value';

interface GpuCardProps {
  entry: GpuEntry;
  thresholds: TemperatureThresholds;
  /** hello.config.busyUtilization. */
  busyUtilization: number;
  /** Position in the grid, for the entrance stagger. */
  index: number;
}

function Badge({
  icon,
  label,
  children,
  sub,
  meter,
  ariaLabel,
}: {
  icon: ReactNode;
  label: string;
  children: ReactNode;
  sub: ReactNode;
  meter?: ReactNode;
  ariaLabel: string;
}) {
  return (
    <div
      className="flex min-w-0 flex-col gap-1.5 rounded-xl border border-white/[0.06] bg-white/[0.03] p-3"
      role="group"
      aria-label={ariaLabel}
    >
      <div className="label flex items-center gap-1.5">
        {icon}
        {label}
      </div>
      <div className="num flex items-baseline gap-1 truncate font-semibold" aria-hidden="true">
        {children}
      </div>
      <div className="num truncate text-xs text-ink-3" aria-hidden="true">
        {sub}
      </div>
      {meter}
    </div>
  );
}

const Unit = ({ children }: { children: ReactNode }) => (
  <span className="font-sans text-base font-medium text-ink-2">{children}</span>
);

const Charts = memo(function Charts({ history }: { history: readonly HistoryPoint[] }) {
    return (
      <div className="grid grid-cols-2 gap-3">
        <div className="min-w-0">
          <div className="label mb-1">Util history</div>
          <Sparkline data={history} dataKey="util" title="Utilization" from="#7c3aed" to="#d946ef" />
        </div>
        <div className="min-w-0">
          <div className="label mb-1">Memory history</div>
          <Sparkline data={history} dataKey="mem" title="Memory used" from="#22d3ee" to="#10b981" />
        </div>
      </div>
    );
});

function describe(gpu: Gpu): string {
  return `GPU ${gpu.id}, ${shortName(gpu.name)}`;
}

function Header({ gpu, right }: { gpu: Gpu; right: ReactNode }) {
  const meta = [shortUuid(gpu.uuid), shortBus(gpu.pciBusId), gpu.pstate === null ? null : `P${gpu.pstate}`]
    .filter(Boolean)
    .join(' · ');
  return (
    <header className="flex items-start justify-between gap-3">
      <div className="flex min-w-0 items-center gap-3">
        <div
          className="num grid size-10 shrink-0 place-items-center rounded-xl bg-gradient-to-br from-neon-violet/40 to-neon-cyan/25 text-lg font-bold text-ink ring-1 ring-white/15"
          aria-hidden="true"
        >
          {gpu.id}
        </div>
        <div className="min-w-0">
          <h3 id={`gpu-${gpu.id}-title`} className="line-clamp-2 font-display text-lg font-semibold leading-tight break-words">
            <span className="sr-only">GPU {gpu.id}: </span>
            {shortName(gpu.name)}
          </h3>
          <p className="num truncate text-xs text-ink-3" title={gpu.uuid ?? 'UUID not reported'}>
            {meta || 'no UUID reported'}
          </p>
        </div>
      </div>
      {right}
    </header>
  );
}

function FailedBody({ gpu }: { gpu: Gpu }) {
  return (
    <div className="flex min-w-0 flex-col gap-3 rounded-xl border border-hot/30 bg-hot/[0.07] p-4">
      <p className="flex items-center gap-2 font-display text-lg font-semibold text-hot-ink">
        <TriangleAlert size={20} aria-hidden="true" /> This GPU stopped answering
      </p>
      <p className="text-sm text-ink wrap-anywhere" data-testid="gpu-error">
        {gpu.error ?? 'The driver reported an error for this GPU.'}
      </p>
      <p className="text-sm text-ink-2">
        The other GPUs keep reporting. Check <code className="text-ink">nvidia-smi</code> and the
        kernel log (<code className="text-ink">dmesg | grep -i xid</code>); a lost GPU usually needs a reset or
        a reboot.
      </p>
    </div>
  );
}

function OkBody({ gpu, history }: { gpu: Gpu; history: readonly HistoryPoint[] }) {
  const memShare = memoryShare(gpu);
  const powerShare = percentOf(gpu.powerUsage, gpu.powerLimit);
  const codec = [
    gpu.encoderUtilization ? `ENC ${gpu.encoderUtilization} %` : null,
    gpu.decoderUtilization ? `DEC ${gpu.decoderUtilization} %` : null,
  ].filter((x): x is string => x !== null);
  const clocks = [
    gpu.smClock === null ? null : `SM ${gpu.smClock} MHz`,
    gpu.memoryClock === null ? null : `MEM ${gpu.memoryClock} MHz`,
    gpu.driverVersion === null ? null : `Driver ${gpu.driverVersion}`,
    gpu.cudaVersion === null ? null : `CUDA ${gpu.cudaVersion}`,
  ].filter((x): x is string => x !== null);
  const reasons = (gpu.clockEventReasons ?? []).filter((r) => r !== 'gpu_idle');
  return (
    <>
      <div className="grid grid-cols-2 gap-2.5 @[34rem]:grid-cols-4">
        <Badge
          icon={<Gauge size={14} aria-hidden="true" />}
          label="Util"
          ariaLabel={gpu.utilization === null ? 'Utilization not reported' : `Utilization ${gpu.utilization} %`}
          sub={gpu.memoryUtilization === null ? 'memory bus —' : `memory bus ${gpu.memoryUtilization} %`}
          meter={<Meter value={gpu.utilization} />}
        >
          <Value value={gpu.utilization} format={pct} className="text-gradient text-badge" what="utilization" />
          {gpu.utilization !== null && <Unit>%</Unit>}
        </Badge>
        <Badge
          icon={<MemoryStick size={14} aria-hidden="true" />}
          label="Memory"
          ariaLabel={
            gpu.memoryUsed === null
              ? 'Memory used not reported'
              : `Memory ${gib(gpu.memoryUsed)} GiB used of ${gpu.memoryTotal === null ? 'unknown total' : `${gib(gpu.memoryTotal)} GiB`}`
          }
          sub={
            <>
              of <Value value={gpu.memoryTotal} format={gib} what="memory total" /> GiB
              {memShare !== null && ` · ${Math.round(memShare)} %`}
            </>
          }
          meter={<Meter value={memShare} tone="cool" />}
        >
          <Value value={gpu.memoryUsed} format={gib} className="text-badge text-ink" what="memory used" />
          {gpu.memoryUsed !== null && <Unit>GiB</Unit>}
        </Badge>
        <Badge
          icon={<Zap size={14} aria-hidden="true" />}
          label="Power"
          ariaLabel={
            gpu.powerUsage === null
              ? 'Power not reported'
              : `Power ${watts(gpu.powerUsage)} W of ${gpu.powerLimit === null ? 'unknown limit' : `${watts(gpu.powerLimit)} W limit`}`
          }
          sub={
            <>
              of <Value value={gpu.powerLimit} format={watts} what="power limit" /> W limit
            </>
          }
          meter={<Meter value={powerShare} tone="cool" />}
        >
          <Value value={gpu.powerUsage} format={watts} className="text-badge text-ink" what="power" />
          {gpu.powerUsage !== null && <Unit>W</Unit>}
        </Badge>
        <Badge
          icon={<Fan size={14} aria-hidden="true" />}
          label="Fan"
          ariaLabel={gpu.fanSpeed === null ? 'Fan: passive, no fan speed reported' : `Fan ${gpu.fanSpeed} %`}
          sub={gpu.fanSpeed === null ? 'no fan reported' : 'of max speed'}
          meter={<Meter value={gpu.fanSpeed} tone="cool" />}
        >
          {gpu.fanSpeed === null ? (
            <span className="text-[1.625rem] leading-[2.36rem] text-ink-2" title="No fan speed reported: passively cooled">
              passive
            </span>
          ) : (
            <>
              <span className="text-badge text-ink">{gpu.fanSpeed}</span>
              <Unit>%</Unit>
            </>
          )}
        </Badge>
      </div>
      <Charts history={history} />
      <div>
        <div className="label mb-1.5 flex items-center justify-between">
          <span>Processes</span>
          <span className="num normal-case tracking-normal">{gpu.processes.length}</span>
        </div>
        <ProcessTable processes={gpu.processes} gpuLabel={describe(gpu)} />
      </div>
      {(clocks.length > 0 || codec.length > 0 || reasons.length > 0 || gpu.eccErrorsUncorrected) && (
        <footer className="mt-auto flex flex-wrap items-center gap-x-3 gap-y-1.5 border-t border-white/[0.06] pt-3 text-xs text-ink-3">
          {clocks.map((c) => (
            <span key={c} className="num">
              {c}
            </span>
          ))}
          {codec.map((c) => (
            <span key={c} className="num rounded-md border border-neon-cyan/30 px-1.5 py-0.5 text-cyan-ink">
              {c}
            </span>
          ))}
          {reasons.map((r) => (
            <span key={r} className="rounded-md border border-warn/40 px-1.5 py-0.5 text-warn-ink" title="Clock slowdown reason">
              {r.replace(/_/g, ' ')}
            </span>
          ))}
          {gpu.eccErrorsUncorrected ? (
            <span className="rounded-md border border-hot/50 px-1.5 py-0.5 text-hot-ink">
              {gpu.eccErrorsUncorrected} uncorrected ECC errors
            </span>
          ) : null}
        </footer>
      )}
    </>
  );
}

interface ContentProps {
  gpu: Gpu;
  history: readonly HistoryPoint[];
  thresholds: TemperatureThresholds;
  visible: boolean;
}

/**
 * Everything inside the card. While the card is scrolled out of sight it keeps
 * its last rendering (no React work, no paint) and catches up as it comes back
 * into view (the observer fires 150 px before that).
 */
const Content = memo(
  function Content({ gpu, history, thresholds }: ContentProps) {
    const failed = gpu.status === 'failed';
    return (
      <>
        <Header
          gpu={gpu}
          right={
            failed ? (
              <span className="inline-flex items-center gap-1.5 rounded-full border border-hot/60 bg-hot/15 px-2.5 py-1 text-sm font-semibold text-hot-ink">
                <TriangleAlert size={15} aria-hidden="true" /> FAILED
              </span>
            ) : (
              <TempChip temperature={gpu.temperature} level={tempLevel(gpu, thresholds)} />
            )
          }
        />
        {failed ? <FailedBody gpu={gpu} /> : <OkBody gpu={gpu} history={history} />}
      </>
    );
  },
  (prev, next) =>
    !next.visible ||
    (prev.visible === next.visible &&
      prev.gpu === next.gpu &&
      prev.history === next.history &&
      prev.thresholds === next.thresholds),
);

function GpuCardImpl({ entry, thresholds, busyUtilization, index }: GpuCardProps) {
  const { gpu, history } = entry;
  const reduce = useReducedMotion();
  const [ref, visible] = useInView<HTMLElement>();
  const failed = gpu.status === 'failed';
  const busy = isBusy(gpu, busyUtilization);
  return (
    <m.article
      ref={ref}
      aria-labelledby={`gpu-${gpu.id}-title`}
      data-testid="gpu-card"
      data-gpu-key={entry.key}
      data-status={gpu.status}
      className={`glass lift @container flex flex-col gap-4 rounded-2xl p-4 sm:p-5 ${
        failed ? 'border-hot/40' : busy ? 'busy-glow' : ''
      }`}
      initial={reduce ? false : { opacity: 0, y: 14 }}
      animate={{ opacity: 1, y: 0 }}
      transition={{ duration: 0.2, delay: Math.min(index, 5) * 0.02, ease: 'easeOut' }}
    >
      <Content gpu={gpu} history={history} thresholds={thresholds} visible={visible} />
    </m.article>
  );
}

export const GpuCard = memo(GpuCardImpl);
