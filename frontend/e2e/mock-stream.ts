/**
 * Synthetic /ws/gpu traffic built from the real recorded H100 frames
 * (src/test/fixtures/replay-frames.json), for N GPUs. Used by the
 * performance benchmark and the visual checks through page.routeWebSocket;
 * the functional e2e run talks to the real backend instead.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Json = Record<string, unknown>;

const framesFile = fileURLToPath(new URL('../src/test/fixtures/replay-frames.json', import.meta.url));
const FRAMES = (JSON.parse(readFileSync(framesFile, 'utf8')) as { frames: Json[][] }).frames;

export const HOSTNAME = 'dgx-lab-07';

export function config(pollIntervalMs = 250): Json {
  return {
    pollIntervalMs,
    wsBacklog: 120,
    heartbeatIntervalMs: 5000,
    maxRate: 5,
    hostname: HOSTNAME,
    version: '0.1.0',
    gradientPresets: {},
    temperatureThresholds: { warn: 70, hot: 85 },
  };
}

/** GPU list for tick `tick`: the two recorded GPUs, repeated with other ids and phase offsets. */
export function gpusAt(tick: number, count: number): Json[] {
  const out: Json[] = [];
  for (let i = 0; i < count; i++) {
    const frame = FRAMES[(tick + i * 7) % FRAMES.length]!;
    const base = frame[i % 2]!;
    const hex = (0x1000 + i).toString(16);
    out.push({
      ...base,
      id: i,
      uuid: `GPU-${hex}beeae4-c99f-cf9b-c3b0-1e4e8d6b${hex}`,
      pciBusId: `00000000:${(0x18 + i * 0x10).toString(16).padStart(2, '0')}:00.0`,
    });
  }
  return out;
}

export function telemetry(seq: number, count: number, source = 'nvml', t = Date.now()): Json {
  return {
    type: 'telemetry',
    seq,
    timestamp: new Date(t).toISOString(),
    source,
    gpus: gpusAt(seq, count),
    system: {
      cpuUsage: 18 + (seq % 7),
      memoryUsage: 41.3,
      loadAverage: [3.12, 2.87, 2.4],
      uptime: 86_400 * 3 + 3600 * 5 + seq,
      diskUtilization: 62.5,
      cpuCount: 64,
      memoryUsed: 210_000,
      memoryTotal: 515_000,
    },
    unavailable: {},
  };
}

export function hello(count: number, backfill = 120, source = 'nvml', pollIntervalMs = 250): Json {
  const now = Date.now();
  return {
    type: 'hello',
    config: config(pollIntervalMs),
    status: { state: 'ok', provider: source, reason: null, unavailable: {} },
    backfill: Array.from({ length: backfill }, (_, i) =>
      telemetry(i, count, source, now - (backfill - i) * pollIntervalMs),
    ),
  };
}
