/** Findings and events as the backend sends them, and the messages that carry them. */
import type { Event as LensEvent } from '../api/types';
import { configMsg, T0 } from './payloads';

type Json = Record<string, unknown>;

export const GPU0 = 'GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46';
export const GPU1 = 'GPU-8bdc187f-8a0f-5d33-899a-e5e718bf488d';

const iso = (ms: number) => new Date(ms).toISOString();

/** A complete event record (every field the server sends), `idle holding` on GPU 1 by default. */
export function eventRecord(overrides: Partial<LensEvent> = {}): LensEvent {
  return {
    id: 'idleHolding:GPU-8bdc:4242:1',
    kind: 'idleHolding',
    severity: 'warning',
    start: iso(T0),
    end: null,
    gpu: GPU1,
    gpuIndex: 1,
    gpuName: 'NVIDIA H100 80GB HBM3',
    pid: 4242,
    process: 'python3',
    user: 'alice',
    container: '3f2a9c1b7d4e',
    summary: 'python3 (pid 4242) holds 40.0 GiB on GPU 1 with 0 % SM for 12 min.',
    action: 'Ask alice to stop the idle job or free its memory.',
    value: 40,
    ...overrides,
  };
}

/** `start`/`end` as ms offsets from T0 (null = ongoing). */
export function at(startMs: number, endMs: number | null = null): Pick<LensEvent, 'start' | 'end'> {
  return { start: iso(T0 + startMs), end: endMs === null ? null : iso(T0 + endMs) };
}

export const findingsMsg = (findings: LensEvent[], timestamp = iso(T0)): Json => ({ type: 'findings', timestamp, findings });
export const eventMsg = (event: LensEvent): Json => ({ type: 'event', event });

/** A hello with findings and recent events (no samples unless given). */
export function helloWithEvents(findings: LensEvent[], events: (LensEvent | Json)[], backfill: Json[] = []): Json {
  return {
    type: 'hello',
    config: configMsg(),
    status: { state: 'ok', provider: 'replay', reason: null, unavailable: {} },
    backfill,
    findings,
    events,
  };
}

/** A GET /api/events answer (newest first). */
export function eventsPage(
  events: LensEvent[],
  { next = null, total = events.length, from = T0 / 1000 - 86_400, to = T0 / 1000 + 3600 }: { next?: string | null; total?: number; from?: number; to?: number } = {},
): Json {
  return { from, to, events, next, total, status: { state: 'ok', reason: null } };
}
