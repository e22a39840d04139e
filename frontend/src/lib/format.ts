/** Number formatting for the dashboard. `null` always means "not reported". */

export const NOT_REPORTED = 'not reported';
export const DASH = '—';

export function pct(value: number | null): string {
  return value === null ? DASH : `${Math.round(value)}`;
}

/** MiB → GiB with one decimal under 100 GiB, none above. */
export function gib(mib: number | null): string {
  if (mib === null) return DASH;
  const g = mib / 1024;
  return g >= 100 ? g.toFixed(0) : g.toFixed(1);
}

/** Process memory: MiB under 1 GiB, else GiB. */
export function memShort(mib: number | null): string {
  if (mib === null) return DASH;
  return mib < 1024 ? `${Math.round(mib)} MiB` : `${(mib / 1024).toFixed(1)} GiB`;
}

export function watts(w: number | null): string {
  return w === null ? DASH : w >= 100 ? w.toFixed(0) : w.toFixed(1);
}

export function load(value: number): string {
  return value.toFixed(2);
}

export function uptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

/** "3 s ago", "2 min ago"; for the offline banner. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.floor(m / 60)} h ${m % 60} min ago`;
}

/** "GPU-8bdc187f-8a0f-…" → "GPU-8bdc187f". */
export function shortUuid(uuid: string | null): string | null {
  if (uuid === null) return null;
  const m = /^(GPU-|MIG-)?([0-9a-f]{8})/i.exec(uuid);
  return m ? `${m[1] ?? ''}${m[2]}` : uuid.slice(0, 12);
}

/** "NVIDIA H100 80GB HBM3" → "H100 80GB HBM3" (the vendor is implied). */
export function shortName(name: string): string {
  return name.replace(/^NVIDIA\s+/i, '').trim() || name;
}

/** "00000000:00:07.0" → "00:07.0". */
export function shortBus(bus: string | null): string | null {
  if (bus === null) return null;
  return bus.replace(/^0000(0000)?:/, '');
}

export function pollRate(ms: number): string {
  if (ms < 1000) {
    const hz = 1000 / ms;
    return `${Number.isInteger(hz) ? hz : hz.toFixed(1)} Hz`;
  }
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

export function sourceLabel(source: string | null): string {
  switch (source) {
    case 'nvml':
      return 'NVML';
    case 'nvidia-smi':
      return 'nvidia-smi';
    case 'nvtop':
      return 'nvtop';
    case 'replay':
      return 'REPLAY';
    case null:
      return 'no GPU source';
    default:
      return source;
  }
}
