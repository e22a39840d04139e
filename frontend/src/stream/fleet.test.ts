import { describe, expect, it } from 'vitest';
import { parseMessage } from '../api/parse';
import type { FleetMsg } from '../api/types';
import { fleetGpu, fleetHost, fleetMsg, FLEET_T0 } from '../test/fleet';
import { configMsg, helloMsg } from '../test/payloads';
import { FLEET_SPARK_STEP_MS, mergeFleet } from './fleet';
import { StreamModel } from './model';

function parsed(message: unknown): FleetMsg {
  const r = parseMessage(JSON.stringify(message));
  if (!r.ok) throw new Error(r.error);
  return r.message as FleetMsg;
}

const hosts = () => [fleetHost('alpha', [fleetGpu(0), fleetGpu(1)]), fleetHost('beta', [fleetGpu(0, { utilization: 5, state: 'idle' })])];

describe('fleet in the stream', () => {
  it('validates a fleet message and keeps the latest in the snapshot', () => {
    const model = new StreamModel();
    const hello = helloMsg([]);
    (hello as { config: unknown }).config = configMsg({ fleet: true });
    model.apply(parsed(hello) as never, 0);
    expect(model.snapshot().fleet).toBeNull();
    model.apply(parsed(fleetMsg(hosts())), 0);
    const fleet = model.snapshot().fleet!;
    expect(fleet.hosts.map((h) => h.label)).toEqual(['alpha', 'beta']);
    expect(fleet.totals).toMatchObject({ hosts: 2, gpus: 3, busy: 2, idle: 1 });
    // The sparkline as points, 30 s apart, ending at the message's time; a missing sample stays a gap.
    const points = fleet.hosts[0]!.gpus[0]!.points;
    expect(points.map((p) => p.util)).toEqual([10, 20, null, 40]);
    expect(points[3]!.t).toBe(FLEET_T0);
    expect(points[3]!.t - points[2]!.t).toBe(FLEET_SPARK_STEP_MS);
  });

  it('rejects a fleet message that does not match the schema', () => {
    const bad = fleetMsg(hosts());
    (bad.hosts as { state: string }[])[0]!.state = 'sideways';
    expect(parseMessage(JSON.stringify(bad)).ok).toBe(false);
  });

  it('a hello without fleet mode clears the fleet', () => {
    const model = new StreamModel();
    model.apply(parsed(fleetMsg(hosts())), 0);
    expect(model.snapshot().fleet).not.toBeNull();
    model.apply(parsed(helloMsg([])) as never, 0);
    expect(model.snapshot().fleet).toBeNull();
  });

  it('keeps every unchanged host (and its GPUs and sparklines) by reference', () => {
    const first = mergeFleet(null, parsed(fleetMsg(hosts())));
    const next = hosts();
    ((next[1]!.gpus as Record<string, unknown>[])[0]!).utilization = 80;
    const second = mergeFleet(first, parsed(fleetMsg(next, {}, FLEET_T0 + 5000)));
    expect(second.hosts[0]).toBe(first.hosts[0]);
    expect(second.hosts[1]).not.toBe(first.hosts[1]);
    expect(second.hosts[1]!.gpus[0]!.utilization).toBe(80);
    expect(second.hosts[1]!.gpus[0]!.points).toBe(first.hosts[1]!.gpus[0]!.points);
    const third = mergeFleet(second, parsed(fleetMsg(next, {}, FLEET_T0 + 10_000)));
    expect(third.hosts).toBe(second.hosts);
  });
});
