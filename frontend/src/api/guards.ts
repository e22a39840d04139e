/**
 * Hand-written validation of every server message (no ajv, no eval: the page
 * runs under `script-src 'self'`). A message that does not match the schema
 * is rejected whole and counted by the caller; it never reaches a component.
 */
import type {
  ClientConfig,
  ErrorMsg,
  Gpu,
  GpuChangeMsg,
  HeartbeatMsg,
  HelloMsg,
  Message,
  Process,
  Sample,
  Status,
  StatusMsg,
  System,
} from './types';

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new Invalid(`${path}: expected ${what}`);
}

function obj(value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object');
  return value as Obj;
}

function arr(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array');
  return value;
}

function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'a number');
  return value;
}

function int(value: unknown, path: string): number {
  const n = num(value, path);
  if (!Number.isInteger(n)) fail(path, 'an integer');
  return n;
}

function str(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'a string');
  return value;
}

/** Optional-or-null number: missing becomes null ("not reported"). */
function numOrNull(value: unknown, path: string): number | null {
  return value === undefined || value === null ? null : num(value, path);
}

function strOrNull(value: unknown, path: string): string | null {
  return value === undefined || value === null ? null : str(value, path);
}

function stringMap(value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  const o = obj(value, path);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) out[k] = str(v, `${path}.${k}`);
  return out;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(path, allowed.join(' | '));
  }
  return value as T;
}

const PROCESS_TYPES = ['compute', 'graphics', 'compute+graphics'] as const;

function parseProcess(value: unknown, path: string): Process {
  const p = obj(value, path);
  return {
    pid: int(p.pid, `${path}.pid`),
    name: strOrNull(p.name, `${path}.name`),
    usedMemoryMiB: numOrNull(p.usedMemoryMiB, `${path}.usedMemoryMiB`),
    user: strOrNull(p.user, `${path}.user`),
    type:
      p.type === undefined || p.type === null
        ? null
        : oneOf(p.type, PROCESS_TYPES, `${path}.type`),
    smUtilization: numOrNull(p.smUtilization, `${path}.smUtilization`),
  };
}

const GPU_NUMBERS = [
  'utilization',
  'memoryUtilization',
  'memoryUsed',
  'memoryTotal',
  'memoryFree',
  'memoryReserved',
  'temperature',
  'temperatureSlowdown',
  'powerUsage',
  'powerLimit',
  'fanSpeed',
  'encoderUtilization',
  'decoderUtilization',
  'smClock',
  'memoryClock',
  'pstate',
  'eccErrorsUncorrected',
  'energyConsumed',
] as const;

type GpuNumberKey = (typeof GPU_NUMBERS)[number];

export function parseGpu(value: unknown, path = 'gpu'): Gpu {
  const g = obj(value, path);
  const numbers = {} as Record<GpuNumberKey, number | null>;
  for (const key of GPU_NUMBERS) numbers[key] = numOrNull(g[key], `${path}.${key}`);
  const reasons =
    g.clockEventReasons === undefined || g.clockEventReasons === null
      ? null
      : arr(g.clockEventReasons, `${path}.clockEventReasons`).map((r, i) =>
          str(r, `${path}.clockEventReasons[${i}]`),
        );
  return {
    id: int(g.id, `${path}.id`),
    name: str(g.name, `${path}.name`),
    uuid: strOrNull(g.uuid, `${path}.uuid`),
    pciBusId: strOrNull(g.pciBusId, `${path}.pciBusId`),
    driverVersion: strOrNull(g.driverVersion, `${path}.driverVersion`),
    cudaVersion: strOrNull(g.cudaVersion, `${path}.cudaVersion`),
    status: g.status === undefined ? 'ok' : oneOf(g.status, ['ok', 'failed'] as const, `${path}.status`),
    error: strOrNull(g.error, `${path}.error`),
    ...numbers,
    clockEventReasons: reasons,
    processes:
      g.processes === undefined
        ? []
        : arr(g.processes, `${path}.processes`).map((p, i) =>
            parseProcess(p, `${path}.processes[${i}]`),
          ),
  };
}

function parseSystem(value: unknown, path: string): System {
  const s = obj(value, path);
  const load = arr(s.loadAverage, `${path}.loadAverage`);
  if (load.length !== 3) fail(`${path}.loadAverage`, 'three numbers');
  return {
    cpuUsage: num(s.cpuUsage, `${path}.cpuUsage`),
    memoryUsage: num(s.memoryUsage, `${path}.memoryUsage`),
    loadAverage: [
      num(load[0], `${path}.loadAverage[0]`),
      num(load[1], `${path}.loadAverage[1]`),
      num(load[2], `${path}.loadAverage[2]`),
    ],
    uptime: num(s.uptime, `${path}.uptime`),
    diskUtilization: num(s.diskUtilization, `${path}.diskUtilization`),
    cpuCount: numOrNull(s.cpuCount, `${path}.cpuCount`),
    memoryUsed: numOrNull(s.memoryUsed, `${path}.memoryUsed`),
    memoryTotal: numOrNull(s.memoryTotal, `${path}.memoryTotal`),
  };
}

export function parseTelemetry(value: unknown, path = 'telemetry'): Sample {
  const t = obj(value, path);
  if (t.type !== undefined && t.type !== 'telemetry') fail(`${path}.type`, '"telemetry"');
  return {
    type: 'telemetry',
    seq: int(t.seq, `${path}.seq`),
    timestamp: str(t.timestamp, `${path}.timestamp`),
    source: strOrNull(t.source, `${path}.source`),
    gpus: arr(t.gpus, `${path}.gpus`).map((g, i) => parseGpu(g, `${path}.gpus[${i}]`)),
    system: parseSystem(t.system, `${path}.system`),
    unavailable: stringMap(t.unavailable, `${path}.unavailable`),
  };
}

function parseStatus(value: unknown, path: string): Status {
  const s = obj(value, path);
  return {
    state: oneOf(s.state, ['ok', 'degraded', 'unavailable'] as const, `${path}.state`),
    provider: strOrNull(s.provider, `${path}.provider`),
    reason: strOrNull(s.reason, `${path}.reason`),
    unavailable: stringMap(s.unavailable, `${path}.unavailable`),
  };
}

function parseConfig(value: unknown, path: string): ClientConfig {
  const c = obj(value, path);
  const thresholds = obj(c.temperatureThresholds, `${path}.temperatureThresholds`);
  const temperatureThresholds = {
    warn: num(thresholds.warn, `${path}.temperatureThresholds.warn`),
    hot: num(thresholds.hot, `${path}.temperatureThresholds.hot`),
  };
  return {
    pollIntervalMs: num(c.pollIntervalMs, `${path}.pollIntervalMs`),
    wsBacklog: num(c.wsBacklog, `${path}.wsBacklog`),
    heartbeatIntervalMs: num(c.heartbeatIntervalMs, `${path}.heartbeatIntervalMs`),
    maxRate: num(c.maxRate, `${path}.maxRate`),
    hostname: str(c.hostname, `${path}.hostname`),
    version: str(c.version, `${path}.version`),
    temperatureThresholds,
    busyUtilization: num(c.busyUtilization, `${path}.busyUtilization`),
  };
}

function parseHello(o: Obj): HelloMsg {
  return {
    type: 'hello',
    config: parseConfig(o.config, 'hello.config'),
    status: parseStatus(o.status, 'hello.status'),
    backfill: arr(o.backfill, 'hello.backfill').map((t, i) =>
      parseTelemetry(t, `hello.backfill[${i}]`),
    ),
  };
}

function parseGpuChange(o: Obj, type: 'gpuAdded' | 'gpuRemoved'): GpuChangeMsg {
  return {
    type,
    seq: int(o.seq, `${type}.seq`),
    timestamp: str(o.timestamp, `${type}.timestamp`),
    uuid: str(o.uuid, `${type}.uuid`),
    id: int(o.id, `${type}.id`),
    name: str(o.name, `${type}.name`),
  };
}

function parseStatusMsg(o: Obj): StatusMsg {
  return {
    type: 'status',
    timestamp: str(o.timestamp, 'status.timestamp'),
    status: parseStatus(o.status, 'status.status'),
  };
}

function parseHeartbeat(o: Obj): HeartbeatMsg {
  return {
    type: 'heartbeat',
    timestamp: str(o.timestamp, 'heartbeat.timestamp'),
    seq: int(o.seq, 'heartbeat.seq'),
  };
}

function parseError(o: Obj): ErrorMsg {
  return {
    type: 'error',
    code: str(o.code, 'error.code'),
    message: str(o.message, 'error.message'),
  };
}

export type ParseResult = { ok: true; message: Message } | { ok: false; error: string };

/** Parse one WebSocket text frame. Never throws. */
export function parseMessage(raw: unknown): ParseResult {
  if (typeof raw !== 'string') return { ok: false, error: 'frame: expected text' };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame: not JSON' };
  }
  try {
    const o = obj(data, 'message');
    switch (o.type) {
      case 'telemetry':
        return { ok: true, message: parseTelemetry(o) };
      case 'hello':
        return { ok: true, message: parseHello(o) };
      case 'gpuAdded':
      case 'gpuRemoved':
        return { ok: true, message: parseGpuChange(o, o.type) };
      case 'status':
        return { ok: true, message: parseStatusMsg(o) };
      case 'heartbeat':
        return { ok: true, message: parseHeartbeat(o) };
      case 'error':
        return { ok: true, message: parseError(o) };
      default:
        return { ok: false, error: `message.type: unknown ${JSON.stringify(o.type)}` };
    }
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    throw err;
  }
}
