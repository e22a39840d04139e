import { CircleSlash, ExternalLink, Server, Unplug, Wifi } from 'lucide-react';
import { memo, useId, useState } from 'react';
import type { TemperatureThresholds } from '../../api/types';
import type { FleetGpuView, FleetHostView } from '../../api/view';
import { useInView } from '../../hooks/useInView';
import { SECTION_CHROME_PX, hostHeight, hostUtilization, safeHostUrl } from '../../lib/fleet';
import { ago } from '../../lib/format';
import { tempLevel } from '../../lib/thresholds';
import { GpuRow, GpuRowHeader, type RowState } from '../GpuRow';

const HOST_STATE = {
  up: { text: 'Up', cls: 'border-ok/40 bg-ok/10 text-ok-ink', Icon: Wifi },
  stale: { text: 'Stale', cls: 'border-warn/50 bg-warn/10 text-warn-ink', Icon: CircleSlash },
  down: { text: 'Down', cls: 'border-hot/60 bg-hot/15 text-hot-ink', Icon: Unplug },
} as const;

const EXPORTER: Record<FleetHostView['exporter'], string> = {
  gpulens: 'gpulens',
  'dcgm-exporter': 'dcgm-exporter',
  unknown: 'no GPU exporter',
};

/**
 * A host's glass section, without the blurs: no backdrop blur (behind 100 sections it made every
 * scrolled frame re-blur the page) and no blurred drop shadow (each section scrolled in is
 * painted in software, where the shadows of sections and rows were a fifth of the work); the
 * inner highlight along the top stays.
 */
function sectionClass(host: FleetHostView): string {
  const border = host.state === 'down' ? 'border-hot/40' : host.state === 'stale' ? 'border-warn/40' : '';
  return `glass rounded-2xl p-3 [backdrop-filter:none]! [-webkit-backdrop-filter:none]! [box-shadow:inset_0_1px_0_0_rgb(255_255_255_/_0.09)]! sm:p-4 ${border}`;
}

/** The reason as a sentence (a full stop after it), so the next one reads apart. */
function sentence(text: string): string {
  const t = text.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

function rowState(host: FleetHostView, gpu: FleetGpuView): RowState {
  if (host.state === 'up' || gpu.state === 'stale' || gpu.state === 'down') return gpu.state;
  return host.state;
}

interface BodyProps {
  host: FleetHostView;
  thresholds: TemperatureThresholds;
  idPrefix: string;
  visible: boolean;
  nowS: number;
}

/** A host's GPUs: kept as last drawn while scrolled out of sight (no React work for hosts off screen). */
const Body = memo(
  function Body({ host, thresholds, idPrefix, nowS }: BodyProps) {
    const lost = host.state !== 'up';
    const spark = host.gpus.some((g) => g.points.length > 0);
    return (
      <>
        {lost && (
          <p className="mb-2 text-sm text-ink-2" data-testid="fleet-host-reason">
            {sentence(
              host.reason ??
                (host.state === 'down' ? 'Prometheus cannot scrape this target.' : 'No recent sample from this target.'),
            )}
            {host.lastSample !== null &&
              ` Last sample ${ago((nowS - host.lastSample) * 1000)}; the values below are the last known.`}
          </p>
        )}
        {host.gpus.length === 0 ? (
          <p
            className="rounded-xl border border-white/[0.07] bg-white/[0.03] px-4 py-3 text-sm text-ink-2"
            data-testid="fleet-host-empty"
          >
            {host.exporter === 'unknown'
              ? 'This target exposes no GPU series: is it a gpulens or dcgm-exporter endpoint?'
              : 'No GPU reported by this host.'}
          </p>
        ) : (
          <>
            <GpuRowHeader spark={spark} owner={false} />
            <ul className="flex flex-col gap-1" aria-label={`GPUs of ${host.label}`}>
              {host.gpus.map((g) => (
                <GpuRow
                  key={`${g.gpu}\u0000${g.uuid ?? ''}`}
                  idPrefix={idPrefix}
                  index={g.gpu}
                  name={g.name ?? 'GPU (model not reported)'}
                  utilization={g.utilization}
                  memory={{ used: g.memoryUsed, total: g.memoryTotal }}
                  temperature={{
                    value: g.temperature === null ? null : Math.round(g.temperature),
                    level: tempLevel({ temperature: g.temperature, temperatureSlowdown: null }, thresholds),
                  }}
                  power={{ usage: g.powerUsage, limit: null }}
                  state={rowState(host, g)}
                  history={spark ? g.points : undefined}
                  dimmed={lost || g.state === 'stale' || g.state === 'down'}
                  reason={lost ? host.reason : null}
                />
              ))}
            </ul>
          </>
        )}
      </>
    );
  },
  (prev, next) =>
    !next.visible ||
    (prev.visible === next.visible &&
      prev.host === next.host &&
      prev.thresholds === next.thresholds &&
      prev.idPrefix === next.idPrefix &&
      (prev.host.state === 'up' || prev.nowS === next.nowS)),
);

interface FleetHostSectionProps {
  host: FleetHostView;
  thresholds: TemperatureThresholds;
  /** Seconds since the epoch, for "last sample … ago" (a down host only). */
  nowS: number;
  /** Draw at once (the first screen of hosts); the others wait until they come near the screen. */
  eager?: boolean;
}

/**
 * One host: a glass section with its name, exporter, state (in words and
 * colour), a link to its own gpulens page (http or https only) and its GPUs as
 * compact rows. A host far below the screen is not drawn until it comes near
 * (a placeholder of about its height keeps the scroll length), and one
 * scrolled away keeps its last drawing: the work follows what is on screen.
 */
function FleetHostSectionImpl({ host, thresholds, nowS, eager = false }: FleetHostSectionProps) {
  const id = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  const [ref, visible] = useInView<HTMLElement>(eager);
  const [drawn, setDrawn] = useState(visible);
  if (visible && !drawn) setDrawn(true);
  // Off screen the browser skips its layout and paint (content-visibility) and takes it to be
  // about its drawn height, so that revealing it does not move what is below.
  return (
    <section
      ref={ref}
      aria-labelledby={`${id}-name`}
      className={`${sectionClass(host)} [content-visibility:auto]`}
      data-testid="fleet-host"
      data-state={host.state}
      data-key={host.key}
      style={{ containIntrinsicSize: `auto ${hostHeight(host)}px` }}
    >
      <Content host={host} thresholds={thresholds} nowS={nowS} id={id} visible={visible} drawn={drawn} />
    </section>
  );
}

interface ContentProps {
  host: FleetHostView;
  thresholds: TemperatureThresholds;
  nowS: number;
  id: string;
  visible: boolean;
  drawn: boolean;
}

/**
 * A host's header and GPUs, kept as last drawn while off screen like Body: a fleet
 * message then costs React nothing for the hosts nobody sees (the section's state
 * attribute and border still follow).
 */
const Content = memo(
  function Content({ host, thresholds, nowS, id, visible, drawn }: ContentProps) {
    const s = HOST_STATE[host.state];
    const url = safeHostUrl(host.url);
    const util = hostUtilization(host);
    return (
      <>
        <header className="mb-2 flex flex-wrap items-center gap-x-3 gap-y-1.5">
          <Server size={18} aria-hidden="true" className="shrink-0 text-ink-3" />
          <h3
            id={`${id}-name`}
            className="min-w-0 truncate font-display text-xl font-semibold"
            title={host.label}
            data-testid="fleet-host-name"
          >
            {host.label}
          </h3>
          <span
            className={`inline-flex items-center gap-1 rounded-full border px-2 py-0.5 text-xs font-bold tracking-wider uppercase sm:text-sm ${s.cls}`}
            data-testid="fleet-host-state"
          >
            <s.Icon size={14} aria-hidden="true" />
            <span className="sr-only">Host state: </span>
            {s.text}
          </span>
          <span
            className="rounded-full border border-line px-2 py-0.5 text-xs text-ink-2"
            title={`job ${host.job}, instance ${host.instance}`}
          >
            <span className="sr-only">Exporter: </span>
            {EXPORTER[host.exporter]}
          </span>
          <span className="num hidden min-w-0 truncate text-sm text-ink-3 sm:inline" title={host.instance}>
            {host.instance}
          </span>
          <span className="num ml-auto text-sm text-ink-2">
            {host.gpus.length} GPU{host.gpus.length === 1 ? '' : 's'}
            {util !== null && host.state === 'up' && <> · {Math.round(util)} % avg</>}
          </span>
          {url && (
            <a
              href={url}
              target="_blank"
              rel="noopener noreferrer"
              aria-label={`Open gpulens for ${host.label} (new tab)`}
              className="inline-flex items-center gap-1 rounded-lg border border-neon-cyan/40 px-2 py-1 text-sm font-semibold text-cyan-ink hover:bg-neon-cyan/10"
              data-testid="fleet-host-link"
            >
              Open gpulens
              <ExternalLink size={14} aria-hidden="true" />
            </a>
          )}
        </header>
        {drawn ? (
          <Body host={host} thresholds={thresholds} idPrefix={id} visible={visible} nowS={nowS} />
        ) : (
          <div
            aria-hidden="true"
            style={{ height: hostHeight(host) - SECTION_CHROME_PX }}
            data-testid="fleet-host-placeholder"
          />
        )}
      </>
    );
  },
  (prev, next) =>
    (!next.visible && prev.drawn === next.drawn) ||
    (prev.visible === next.visible &&
      prev.drawn === next.drawn &&
      prev.host === next.host &&
      prev.thresholds === next.thresholds &&
      prev.id === next.id &&
      (prev.host.state === 'up' || prev.nowS === next.nowS)),
);

export const FleetHostSection = memo(FleetHostSectionImpl);

/**
 * One host in a windowed list (a large fleet): the list mounts only the hosts near the
 * screen, so a mounted one is drawn in full at once, with no observer of its own.
 */
function WindowedHostSectionImpl({ host, thresholds, nowS }: Omit<FleetHostSectionProps, 'eager'>) {
  const id = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  return (
    <section
      aria-labelledby={`${id}-name`}
      className={sectionClass(host)}
      data-testid="fleet-host"
      data-state={host.state}
      data-key={host.key}
    >
      <Content host={host} thresholds={thresholds} nowS={nowS} id={id} visible drawn />
    </section>
  );
}

export const WindowedHostSection = memo(WindowedHostSectionImpl);
