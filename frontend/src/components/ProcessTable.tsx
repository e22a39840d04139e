import { memo } from 'react';
import type { Process } from '../api/types';
import { memShort } from '../lib/format';
import { processBaseName, topProcesses } from '../lib/processes';
import { Value } from './Value';

/**
 * A process name, always as text. An absolute path shows its last part; the
 * full name is the cell's tooltip and what a screen reader reads (the
 * sr-only copy comes first so that, absolutely placed, it sits at the cell's
 * left edge however long the visible part is).
 */
function ProcessName({ name }: { name: string | null }) {
  if (name === null) {
    return (
      <td className="py-1.5 font-sans text-ink-3">
        <span title="name not reported">—</span>
      </td>
    );
  }
  const shown = processBaseName(name);
  return (
    <td className="truncate py-1.5 font-sans font-medium text-ink" title={name}>
      {shown === name ? (
        name
      ) : (
        <>
          <span className="sr-only">{name}</span>
          <span aria-hidden="true">{shown}</span>
        </>
      )}
    </td>
  );
}

function ProcessTableImpl({ processes, gpuLabel }: { processes: readonly Process[]; gpuLabel: string }) {
  if (processes.length === 0) {
    return <p className="text-sm text-ink-3">No processes on this GPU.</p>;
  }
  const { shown, more } = topProcesses(processes);
  return (
    <table className="w-full table-fixed text-sm">
      <caption className="sr-only">Processes on {gpuLabel}, by GPU memory</caption>
      <thead>
        <tr className="label text-left">
          <th scope="col" className="w-[22%] pb-1.5 font-semibold">PID</th>
          <th scope="col" className="pb-1.5 font-semibold">Name</th>
          <th scope="col" className="w-[22%] pb-1.5 font-semibold">User</th>
          <th scope="col" className="w-[26%] pb-1.5 text-right font-semibold">GPU mem</th>
        </tr>
      </thead>
      <tbody className="num">
        {shown.map((p) => (
          <tr key={p.pid} className="border-t border-white/[0.06]">
            <td className="py-1.5 text-ink-2">{p.pid}</td>
            <ProcessName name={p.name} />
            <td className="truncate py-1.5 font-sans text-ink-2" title={p.user ?? undefined}>
              {p.user ?? <span className="text-ink-3" title="user not reported">—</span>}
            </td>
            <td className="py-1.5 text-right text-ink">
              <Value value={p.usedMemoryMiB} format={memShort} what="memory" />
            </td>
          </tr>
        ))}
        {more > 0 && (
          <tr className="border-t border-white/[0.06]">
            <td colSpan={4} className="pt-1.5 font-sans text-xs text-ink-3">
              +{more} more
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

export const ProcessTable = memo(ProcessTableImpl);
