/**
 * A fleet message → what the page shows (FleetView), sharing every host that
 * did not change with the view before: a memoised host section compares by
 * reference and skips the unchanged ones (100 hosts × 8 GPUs every few
 * seconds, most of them the same).
 */
import type { FleetGpu, FleetHost, FleetMsg } from '../api/types';
import type { FleetGpuView, FleetHostView, FleetView, HistoryPoint } from '../api/view';

/** The server's sparkline step (FLEET sparklines: 10 min at one point every 30 s). */
export const FLEET_SPARK_STEP_MS = 30_000;

function sameHistory(a: readonly (number | null)[], b: readonly (number | null)[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameGpu(a: FleetGpuView, b: FleetGpu): boolean {
  return (
    a.gpu === b.gpu &&
    a.uuid === b.uuid &&
    a.name === b.name &&
    a.utilization === b.utilization &&
    a.memoryUsed === b.memoryUsed &&
    a.memoryTotal === b.memoryTotal &&
    a.temperature === b.temperature &&
    a.powerUsage === b.powerUsage &&
    a.state === b.state &&
    sameHistory(a.history, b.history)
  );
}

function sameHostFields(a: FleetHostView, b: FleetHost): boolean {
  return (
    a.key === b.key &&
    a.host === b.host &&
    a.label === b.label &&
    a.instance === b.instance &&
    a.job === b.job &&
    a.exporter === b.exporter &&
    a.state === b.state &&
    a.lastSample === b.lastSample &&
    a.url === b.url &&
    a.reason === b.reason
  );
}

function points(history: readonly (number | null)[], endMs: number): HistoryPoint[] {
  const n = history.length;
  return history.map((v, i) => ({
    t: endMs - (n - 1 - i) * FLEET_SPARK_STEP_MS,
    util: v === null || !Number.isFinite(v) ? null : v,
    mem: null,
  }));
}

function gpuView(gpu: FleetGpu, prev: FleetGpuView | undefined, endMs: number): FleetGpuView {
  if (prev !== undefined && sameGpu(prev, gpu)) return prev;
  const keep = prev !== undefined && sameHistory(prev.history, gpu.history);
  return { ...gpu, points: keep ? prev.points : points(gpu.history, endMs) };
}

function hostView(host: FleetHost, prev: FleetHostView | undefined, endMs: number): FleetHostView {
  const before = new Map((prev?.gpus ?? []).map((g) => [`${g.gpu}\u0000${g.uuid ?? ''}`, g]));
  const gpus = host.gpus.map((g) => gpuView(g, before.get(`${g.gpu}\u0000${g.uuid ?? ''}`), endMs));
  if (
    prev !== undefined &&
    sameHostFields(prev, host) &&
    prev.gpus.length === gpus.length &&
    gpus.every((g, i) => g === prev.gpus[i])
  ) {
    return prev;
  }
  const { gpus: _wire, ...fields } = host;
  void _wire;
  return { ...fields, gpus };
}

/** `message` as a FleetView, reusing the unchanged hosts (and GPUs, and sparklines) of `prev`. */
export function mergeFleet(prev: FleetView | null, message: FleetMsg): FleetView {
  const endMs = Date.parse(message.timestamp);
  const before = new Map((prev?.hosts ?? []).map((h) => [h.key, h]));
  const hosts = message.hosts.map((h) => hostView(h, before.get(h.key), Number.isFinite(endMs) ? endMs : 0));
  const same = prev !== null && prev.hosts.length === hosts.length && hosts.every((h, i) => h === prev.hosts[i]);
  return {
    timestamp: message.timestamp,
    status: message.status,
    hosts: same ? prev.hosts : hosts,
    totals: message.totals,
  };
}
