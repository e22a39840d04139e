import type { Process } from '../api/types';

const TOP = 5;

/** Biggest GPU memory first (unknown last), the top `n`, and how many were left out. */
export function topProcesses(processes: readonly Process[], n = TOP): { shown: Process[]; more: number } {
  const sorted = [...processes].sort(
    (a, b) => (b.usedMemoryMiB ?? -1) - (a.usedMemoryMiB ?? -1) || a.pid - b.pid,
  );
  return { shown: sorted.slice(0, n), more: Math.max(0, sorted.length - n) };
}
