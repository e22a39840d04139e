/** Fleet messages for the tests: the wire shape the server sends (docs/protocol.md), built up from small parts. */
import { parseMessage } from '../api/parse';
import type { FleetMsg } from '../api/types';

type Json = Record<string, unknown>;

export const FLEET_T0 = Date.parse('2026-12-02T12:00:00.000Z');

export function fleetGpu(gpu: number | string, overrides: Json = {}): Json {
  return {
    gpu: String(gpu),
    uuid: `GPU-${String(gpu).padStart(8, '0')}`,
    name: 'NVIDIA H100 80GB HBM3',
    utilization: 50,
    memoryUsed: 40_960,
    memoryTotal: 81_559,
    temperature: 60,
    powerUsage: 400,
    state: 'busy',
    history: [10, 20, null, 40],
    ...overrides,
  };
}

export function fleetHost(name: string, gpus: Json[], overrides: Json = {}): Json {
  return {
    key: `${name}:9400`,
    host: name,
    label: name,
    instance: `${name}:9400`,
    job: 'gpu',
    exporter: 'gpulens',
    state: 'up',
    lastSample: FLEET_T0 / 1000 - 2,
    url: null,
    reason: null,
    gpus,
    ...overrides,
  };
}

export function fleetMsg(hosts: Json[], status: Json = {}, at = FLEET_T0): Json {
  const gpus = hosts.flatMap((h) => h.gpus as Json[]);
  return {
    type: 'fleet',
    timestamp: new Date(at).toISOString(),
    status: { state: 'ok', reason: null, lastRefresh: at / 1000, lastSuccess: at / 1000, queries: 3, durationMs: 12, ...status },
    hosts,
    totals: {
      hosts: hosts.length,
      hostsDown: hosts.filter((h) => h.state !== 'up').length,
      gpus: gpus.length,
      busy: gpus.filter((g) => g.state === 'busy').length,
      idle: gpus.filter((g) => g.state === 'idle').length,
      hot: gpus.filter((g) => g.state === 'hot').length,
    },
  };
}

/** A parsed fleet message of `n` hosts node-000 … of 2 GPUs each, the first at `util` %. */
export function manyHostsMsg(n: number, util = 50): FleetMsg {
  const hosts = Array.from({ length: n }, (_, i) =>
    fleetHost(`node-${String(i).padStart(3, '0')}`, [fleetGpu(0, { utilization: util }), fleetGpu(1)]),
  );
  const r = parseMessage(JSON.stringify(fleetMsg(hosts)));
  if (!r.ok) throw new Error(r.error);
  return r.message as FleetMsg;
}
