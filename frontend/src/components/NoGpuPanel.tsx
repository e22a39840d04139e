import { CircuitBoard, Wrench } from 'lucide-react';
import { fixHint } from '../lib/fixHints';


export function NoGpuPanel({ unavailable }: { unavailable: Readonly<Record<string, string>> }) {
  const entries = Object.entries(unavailable);
  return (
    <section aria-labelledby="nogpu-title" className="glass rounded-3xl p-6 sm:p-8" data-testid="no-gpu-panel">
      <div className="flex items-start gap-4">
        <div className="grid size-12 shrink-0 place-items-center rounded-2xl border border-warn/40 bg-warn/10 text-warn-ink">
          <CircuitBoard size={24} aria-hidden="true" />
        </div>
        <div className="min-w-0">
          <h2 id="nogpu-title" className="font-display text-2xl font-semibold sm:text-3xl">
            No GPU source found
          </h2>
          <p className="mt-1 text-ink-2">
            gpulens tried every GPU source on this machine and none answered. Host metrics still stream below; GPUs
            appear here as soon as a source works — no reload needed.
          </p>
        </div>
      </div>
      {entries.length > 0 ? (
        <ul className="mt-6 grid gap-3">
          {entries.map(([name, reason]) => (
            <li key={name} className="rounded-2xl border border-white/[0.07] bg-white/[0.03] p-4">
              <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                <span className="num rounded-md bg-white/10 px-2 py-0.5 text-sm font-semibold text-ink">{name}</span>
                <span className="text-sm text-ink-2">{reason}</span>
              </div>
              <p className="mt-2 flex items-start gap-2 text-sm text-ink">
                <Wrench size={15} aria-hidden="true" className="mt-0.5 shrink-0 text-cyan-ink" />
                <span>{fixHint(name, reason)}</span>
              </p>
            </li>
          ))}
        </ul>
      ) : (
        <p className="mt-6 text-ink-2">The server gave no reason. See the gpulens logs.</p>
      )}
    </section>
  );
}
