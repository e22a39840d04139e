import { CircuitBoard, CirclePlay, Wrench } from 'lucide-react';
import type { ReactNode } from 'react';
import { fixHint } from '../lib/fixHints';
import { sourceLabel } from '../lib/format';

/** Our own hint text, with its `backticked` commands shown as code. */
function withCode(text: string): ReactNode[] {
  return text.split(/`([^`]+)`/).map((part, i) =>
    i % 2 === 1 ? (
      <code key={i} className="text-ink">
        {part}
      </code>
    ) : (
      part
    ),
  );
}

/**
 * No GPU source answers. `unavailable` says which were tried: with
 * TELEMETRY_PROVIDER=auto every real source (nvml, nvidia-smi, nvtop); with one
 * source chosen explicitly, exactly that one (the backend keeps retrying it,
 * e.g. while the driver loads after gpulens at boot).
 */
export function NoGpuPanel({ unavailable }: { unavailable: Readonly<Record<string, string>> }) {
  const entries = Object.entries(unavailable);
  const configured = entries.length === 1 ? entries[0]![0] : null;
  return (
    <section aria-labelledby="nogpu-title" className="glass rounded-3xl p-6 sm:p-8" data-testid="no-gpu-panel">
      <div className="flex items-center gap-4">
        <div className="grid size-12 shrink-0 place-items-center rounded-2xl border border-warn/40 bg-warn/10 text-warn-ink">
          <CircuitBoard size={24} aria-hidden="true" />
        </div>
        <h2 id="nogpu-title" className="min-w-0 font-display text-2xl font-semibold wrap-anywhere sm:text-3xl">
          {configured === null ? 'No GPU source found' : `${sourceLabel(configured)} is not answering yet`}
        </h2>
      </div>
      <p className="mt-3 text-ink-2 break-words sm:pl-16" data-testid="no-gpu-why">
        {configured !== null ? (
          <>
            gpulens is set to use only {sourceLabel(configured)} (
            <code className="text-ink">TELEMETRY_PROVIDER={configured}</code>), and it has not answered yet{configured === 'replay' ? '.' : ': the driver may still be loading.'}
          </>
        ) : entries.length > 0 ? (
          'gpulens tried every GPU source on this machine and none answered.'
        ) : (
          'No GPU source answered.'
        )}{' '}
        It keeps retrying, and GPUs appear here as soon as {configured !== null ? 'it answers' : 'one answers'}, without
        a reload. Host metrics still stream below.
      </p>
      {entries.length > 0 ? (
        <ul className="mt-6 grid gap-3">
          {entries.map(([name, reason]) => (
            <li key={name} className="min-w-0 rounded-2xl border border-white/[0.07] bg-white/[0.03] p-4">
              <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                <span className="num rounded-md bg-white/10 px-2 py-0.5 text-sm font-semibold text-ink">{name}</span>
                <span className="min-w-0 text-sm text-ink-2 wrap-anywhere">{reason}</span>
              </div>
              <p className="mt-2 flex items-start gap-2 text-sm text-ink">
                <Wrench size={15} aria-hidden="true" className="mt-0.5 shrink-0 text-cyan-ink" />
                <span className="min-w-0 wrap-anywhere">{withCode(fixHint(name, reason))}</span>
              </p>
            </li>
          ))}
        </ul>
      ) : (
        <p className="mt-6 text-ink-2">The server gave no reason. See the gpulens logs.</p>
      )}
      <p className="mt-5 flex items-start gap-2 text-sm text-ink-2" data-testid="no-gpu-demo">
        <CirclePlay size={15} aria-hidden="true" className="mt-0.5 shrink-0 text-replay-ink" />
        <span className="min-w-0">
          To try gpulens without a GPU, run <code className="text-ink">make demo</code> from a checkout or{' '}
          <code className="text-ink">TELEMETRY_PROVIDER=replay gpulens serve</code>.
        </span>
      </p>
    </section>
  );
}
