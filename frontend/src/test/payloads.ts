/** Real payloads (from `gpulens snapshot`, replay and nvtop providers) and builders around them. */
import noSource from './fixtures/telemetry-no-source.json';
import nvtop from './fixtures/telemetry-nvtop.json';
import replay from './fixtures/telemetry-replay.json';
import type { ClientConfig, Gpu, Sample } from '../api/types';
import { parseMessage } from '../api/parse';

type Json = Record<string, unknown>;

const clone = <T>(value: T): T => structuredClone(value);

export const rawReplay = (): Json => clone(replay) as Json;
export const rawNvtop = (): Json => clone(nvtop) as Json;
export const rawNoSource = (): Json => clone(noSource) as Json;

export const T0 = Date.parse('2026-11-28T04:00:00.000Z');

/** A replay telemetry message with `seq` and a timestamp 250 ms × seq after T0. */
export function telemetryMsg(seq: number, mutate?: (t: Json & { gpus: Json[] }) => void): Json {
  const t = rawReplay() as Json & { gpus: Json[] };
  t.seq = seq;
  t.timestamp = new Date(T0 + seq * 250).toISOString();
  mutate?.(t);
  return t;
}

export function configMsg(overrides: Json = {}): Json {
  return {
    pollIntervalMs: 250,
    wsBacklog: 120,
    heartbeatIntervalMs: 1000,
    maxRate: 5,
    hostname: 'gpu-box',
    version: '0.1.0',
    temperatureThresholds: { warn: 70, hot: 85 },
    busyUtilization: 10,
    ...overrides,
  };
}

export function helloMsg(backfill: Json[] = [], config: Json = {}, source = 'replay'): Json {
  return {
    type: 'hello',
    config: configMsg(config),
    status: { state: 'ok', provider: source, reason: null, unavailable: {} },
    backfill,
  };
}

/** A telemetry payload as the page gets it: validated, optional fields filled in. */
export function sample(raw: Json): Sample {
  const parsed = parseMessage(JSON.stringify(raw));
  if (!parsed.ok) throw new Error(parsed.error);
  if (parsed.message.type !== 'telemetry') throw new Error(`not telemetry: ${parsed.message.type}`);
  return parsed.message;
}

/** hello.config as the page gets it (`configMsg` with overrides, validated). */
export function clientConfig(overrides: Json = {}): ClientConfig {
  const parsed = parseMessage(JSON.stringify(helloMsg([], overrides)));
  if (!parsed.ok || parsed.message.type !== 'hello') throw new Error(parsed.ok ? 'not hello' : parsed.error);
  return parsed.message.config;
}

export const replaySample = (): Sample => sample(rawReplay());
export const nvtopSample = (): Sample => sample(rawNvtop());

/** GPU 1 of the replay fixture (busy, two processes), with overrides. */
export function replayGpu(overrides: Partial<Gpu> = {}, index = 1): Gpu {
  const gpu = replaySample().gpus[index];
  if (gpu === undefined) throw new Error(`the replay fixture has no GPU ${index}`);
  return { ...gpu, ...overrides };
}
