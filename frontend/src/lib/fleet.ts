/**
 * The Fleet view's pure parts: the filter, the sort, the host link, the
 * status line's words. Label values come from scrape configurations and
 * exporters: they are only ever compared and shown as text.
 */
import type { FleetHistorySeries, FleetStatus } from '../api/fleet.gen';
import type { FleetGpuView, FleetHostView } from '../api/view';

export type FleetSort = 'host' | 'utilization' | 'state' | 'gpus';

export const FLEET_SORTS: readonly FleetSort[] = ['host', 'utilization', 'state', 'gpus'];

/** The host's mean utilization over its GPUs that report one; null when none does. */
/** Height of one compact GPU row plus its gap, px: one line from 1024 px wide, two below. */
const ROW_PX = 46;
const ROW_PX_NARROW = 86;
/** A host section's header, column heads and padding, px (the header wraps when narrow). */
export const SECTION_CHROME_PX = 100;
const SECTION_CHROME_PX_NARROW = 112;

/** About the height of a host's section, px, before it is drawn (from its GPU count and the page's width). */
export function hostHeight(host: Pick<FleetHostView, 'gpus' | 'state'>, narrow = false): number {
  const rows = Math.max(1, host.gpus.length) * (narrow ? ROW_PX_NARROW : ROW_PX);
  return rows + (host.state === 'up' ? 0 : 24) + (narrow ? SECTION_CHROME_PX_NARROW : SECTION_CHROME_PX);
}

export function hostUtilization(host: Pick<FleetHostView, 'gpus'>): number | null {
  let sum = 0;
  let n = 0;
  for (const g of host.gpus) {
    if (g.utilization === null || !Number.isFinite(g.utilization)) continue;
    sum += g.utilization;
    n += 1;
  }
  return n === 0 ? null : sum / n;
}

const STATE_RANK: Record<FleetHostView['state'], number> = { down: 0, stale: 1, up: 2 };

function hotCount(host: FleetHostView): number {
  return host.gpus.filter((g) => g.state === 'hot').length;
}

const byName = (a: FleetHostView, b: FleetHostView) =>
  a.label.localeCompare(b.label, undefined, { numeric: true, sensitivity: 'base' }) || a.key.localeCompare(b.key);

/**
 * Hosts in the order asked for: by name (A→Z), by utilization (busiest first,
 * unknown last), by state (down, stale, then up with hot GPUs first: what needs
 * a look first) or by GPU count (most first); ties by name.
 */
export function sortHosts(hosts: readonly FleetHostView[], sort: FleetSort): FleetHostView[] {
  const list = hosts.slice();
  switch (sort) {
    case 'host':
      return list.sort(byName);
    case 'utilization': {
      const util = new Map(list.map((h) => [h, hostUtilization(h) ?? -1]));
      return list.sort((a, b) => util.get(b)! - util.get(a)! || byName(a, b));
    }
    case 'state':
      return list.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || hotCount(b) - hotCount(a) || byName(a, b));
    case 'gpus':
      return list.sort((a, b) => b.gpus.length - a.gpus.length || byName(a, b));
  }
}

function matches(text: string | null, needle: string): boolean {
  return text !== null && text.toLowerCase().includes(needle);
}

/**
 * The hosts whose name (label, host, instance) contains the query, whole; and
 * the hosts with GPUs whose name or index matches, with only those GPUs. Case
 * does not matter; an empty query keeps everything (the same array).
 */
export function filterHosts(hosts: readonly FleetHostView[], query: string): readonly FleetHostView[] {
  const needle = query.trim().toLowerCase();
  if (needle === '') return hosts;
  const out: FleetHostView[] = [];
  for (const host of hosts) {
    if (matches(host.label, needle) || matches(host.host, needle) || matches(host.instance, needle)) {
      out.push(host);
      continue;
    }
    const gpus = host.gpus.filter((g: FleetGpuView) => matches(g.name, needle) || matches(g.uuid, needle));
    if (gpus.length > 0) out.push({ ...host, gpus });
  }
  return out;
}

/** The host's own gpulens page, only when it is an absolute http(s) URL (never javascript:, data: …). */
export function safeHostUrl(url: string | null): string | null {
  if (url === null) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

export type StatusTone = 'ok' | 'warn' | 'hot' | 'unknown';

/** The status line: what Prometheus's last answer was, in words, and how bad. */
export function fleetStatusLine(status: FleetStatus, nowS: number): { tone: StatusTone; text: string } {
  const lastSuccess = status.lastSuccess ?? null;
  const ago = lastSuccess === null ? null : Math.max(0, Math.round(nowS - lastSuccess));
  const since = ago === null ? '' : ago < 90 ? ` (last answer ${ago} s ago)` : ` (last answer ${Math.round(ago / 60)} min ago)`;
  const reason = status.reason ? `: ${status.reason}` : '';
  switch (status.state) {
    case 'ok': {
      const took = status.durationMs === null || status.durationMs === undefined ? '' : ` in ${Math.round(status.durationMs)} ms`;
      const queries = status.queries ?? 0;
      return {
        tone: 'ok',
        text: `Prometheus answered${took} (${queries} ${queries === 1 ? 'query' : 'queries'})${ago !== null && ago > 1 ? `, ${ago} s ago` : ''}.`,
      };
    }
    case 'degraded':
      return { tone: 'warn', text: `Prometheus answered in part${reason}. Some values may be missing.` };
    case 'unavailable':
      return {
        tone: 'hot',
        text: `Prometheus did not answer${reason}. Showing the hosts as last known${since}; this host's own view keeps working.`,
      };
    case 'off':
      return { tone: 'unknown', text: 'Fleet mode is off on this server (set FLEET_PROMETHEUS_URL).' };
  }
}

// ---- the past: /api/fleet/history ----------------------------------------------

export interface HostHistory {
  key: string;
  host: string;
  instance: string;
  series: FleetHistorySeries[];
}

/** The series grouped by host (its key), hosts by name, GPUs by index. */
export function groupByHost(series: readonly FleetHistorySeries[]): HostHistory[] {
  const hosts = new Map<string, HostHistory>();
  for (const s of series) {
    let h = hosts.get(s.key);
    if (h === undefined) {
      h = { key: s.key, host: s.host, instance: s.instance, series: [] };
      hosts.set(s.key, h);
    }
    h.series.push(s);
  }
  const list = [...hosts.values()];
  for (const h of list) h.series.sort((a, b) => a.gpu.localeCompare(b.gpu, undefined, { numeric: true }));
  return list.sort((a, b) => a.host.localeCompare(b.host, undefined, { numeric: true }) || a.key.localeCompare(b.key));
}
