import type { Process } from '../api/types';

const TOP = 5;

/** Biggest GPU memory first (unknown last), the top `n`, and how many were left out. */
export function topProcesses(processes: readonly Process[], n = TOP): { shown: Process[]; more: number } {
  const sorted = [...processes].sort(
    (a, b) => (b.usedMemoryMiB ?? -1) - (a.usedMemoryMiB ?? -1) || a.pid - b.pid,
  );
  return { shown: sorted.slice(0, n), more: Math.max(0, sorted.length - n) };
}

/**
 * What the process table shows for a name: the last part of an absolute path
 * (`/opt/conda/envs/x/bin/python` → `python`), anything else as it is. Only a
 * name that starts with `/` is a path, so `<script>alert(1)</script>` stays
 * whole; a path that ends in `/` (nothing after it) stays whole too.
 */
export function processBaseName(name: string): string {
  if (!name.startsWith('/')) return name;
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base === '' ? name : base;
}
