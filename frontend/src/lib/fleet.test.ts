import { describe, expect, it } from 'vitest';
import { fleetStep } from '../api/fleetHistory';
import type { FleetGpuView, FleetHostView } from '../api/view';
import { filterHosts, fleetStatusLine, hostUtilization, safeHostUrl, sortHosts } from './fleet';

const gpu = (utilization: number | null, name = 'NVIDIA H100'): FleetGpuView => ({
  gpu: '0',
  uuid: null,
  name,
  utilization,
  memoryUsed: null,
  memoryTotal: null,
  temperature: null,
  powerUsage: null,
  state: 'idle',
  history: [],
  points: [],
});
const host = (label: string, state: FleetHostView['state'], utils: (number | null)[]): FleetHostView => ({
  key: label,
  host: label,
  label,
  instance: `${label}:9400`,
  job: 'gpu',
  exporter: 'dcgm-exporter',
  state,
  lastSample: null,
  url: null,
  reason: null,
  gpus: utils.map((u) => gpu(u)),
});

describe('fleet helpers', () => {
  it('links only absolute http(s) URLs', () => {
    expect(safeHostUrl('https://node-a:8000/')).toBe('https://node-a:8000/');
    expect(safeHostUrl('http://10.0.0.5:8000')).toBe('http://10.0.0.5:8000/');
    for (const bad of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,x', '/relative', 'node-a:8000', 'ftp://x/', '']) {
      expect(safeHostUrl(bad), bad).toBeNull();
    }
    expect(safeHostUrl(null)).toBeNull();
  });

  it('averages a host over the GPUs that report', () => {
    expect(hostUtilization(host('a', 'up', [10, null, 30]))).toBe(20);
    expect(hostUtilization(host('a', 'up', [null]))).toBeNull();
    expect(hostUtilization(host('a', 'up', [NaN, 50]))).toBe(50);
  });

  it('sorts with names in natural order and unknowns last', () => {
    const hosts = [host('node-10', 'up', [5]), host('node-2', 'stale', [null]), host('node-1', 'down', [90])];
    expect(sortHosts(hosts, 'host').map((h) => h.label)).toEqual(['node-1', 'node-2', 'node-10']);
    expect(sortHosts(hosts, 'utilization').map((h) => h.label)).toEqual(['node-1', 'node-10', 'node-2']);
    expect(sortHosts(hosts, 'state').map((h) => h.label)).toEqual(['node-1', 'node-2', 'node-10']);
    expect(hosts.map((h) => h.label)).toEqual(['node-10', 'node-2', 'node-1']); // not in place
  });

  it('filters on host names whole and on GPU names per GPU', () => {
    const a = host('alpha', 'up', [1]);
    const b = { ...host('beta', 'up', []), gpus: [gpu(1, 'NVIDIA A100'), gpu(2, 'Tesla T4')] };
    const hosts = [a, b];
    expect(filterHosts(hosts, '  ')).toBe(hosts);
    expect(filterHosts(hosts, 'ALP')).toEqual([a]);
    const t4 = filterHosts(hosts, 't4');
    expect(t4.map((h) => h.gpus.map((g) => g.name))).toEqual([['Tesla T4']]);
    expect(filterHosts(hosts, ':9400')).toEqual(hosts); // the instance
  });

  it('words the status', () => {
    expect(fleetStatusLine({ state: 'unavailable', reason: 'TLS: certificate verify failed', lastSuccess: null }, 0).text).toBe(
      "Prometheus did not answer: TLS: certificate verify failed. Showing the hosts as last known; this host's own view keeps working.",
    );
    expect(fleetStatusLine({ state: 'ok', queries: 1, durationMs: 4.4 }, 0).text).toBe('Prometheus answered in 4 ms (1 query).');
    expect(fleetStatusLine({ state: 'off' }, 0).tone).toBe('unknown');
  });

  it('asks for round steps, about 240 points a range', () => {
    expect(fleetStep(3600)).toBe(15);
    expect(fleetStep(24 * 3600)).toBe(600);
    expect(fleetStep(7 * 86_400)).toBe(3600);
  });
});
