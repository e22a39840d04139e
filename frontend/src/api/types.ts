/**
 * The shapes the UI works with: the generated wire types (protocol.gen.ts)
 * with every optional field filled in. The server always sends every field,
 * but the schema marks defaulted ones optional; the generated validators
 * (protocol.validate.gen.js, called by parse.ts) fill a missing field with
 * its schema default (`null` for a reading, [] or {} for a list or map) so
 * components only ever deal with `value | null`.
 */
import type {
  ClientConfig,
  ErrorMessage,
  Event as WireEvent,
  FleetGpu as WireFleetGpu,
  FleetHost as WireFleetHost,
  FleetStatus as WireFleetStatus,
  FleetTotals,
  GpuChange,
  GpuInfo,
  Heartbeat,
  ProcessInfo,
  ProviderStatus,
  SystemInfo,
  Telemetry,
  TemperatureThresholds,
} from './protocol.gen';

type Filled<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

export type { ClientConfig, TemperatureThresholds };
export type Process = Filled<ProcessInfo>;
export type Gpu = Omit<Filled<GpuInfo>, 'processes'> & { processes: Process[] };
export type System = Filled<SystemInfo>;
export type Status = Filled<ProviderStatus>;
export type Sample = Omit<Filled<Telemetry>, 'gpus' | 'system'> & { gpus: Gpu[]; system: System };

/**
 * A finding's episode (`end` null while it holds, set when it ended; the start
 * and the end share `id`) or an instant change (gpuAdded, gpuRemoved, provider:
 * `end` == `start`). Named for the protocol; where the DOM's `Event` is also
 * needed, import it as another name.
 */
export type Event = Filled<WireEvent>;
export type Severity = Event['severity'];
export type EventKind = Event['kind'];

export type HelloMsg = {
  type: 'hello';
  config: ClientConfig;
  status: Status;
  backfill: Sample[];
  /** Findings active now. */
  findings: Event[];
  /** The most recent events, oldest first. */
  events: Event[];
};
export type TelemetryMsg = Sample;
export type GpuChangeMsg = GpuChange;
export type StatusMsg = { type: 'status'; timestamp: string; status: Status };
export type HeartbeatMsg = Filled<Heartbeat>;
export type ErrorMsg = Filled<ErrorMessage>;
/** The active findings, whenever the set changes (empty = all well). */
export type FindingsMsg = { type: 'findings'; timestamp: string; findings: Event[] };
/** A finding started (end null) or ended (same id, end set), or an instant change. */
export type EventMsg = { type: 'event'; event: Event };

/** Fleet mode (config.fleet): every host and GPU Prometheus knows, after the hello and whenever it changes. */
export type FleetStatus = Filled<WireFleetStatus>;
export type FleetGpu = Filled<WireFleetGpu>;
export type FleetHost = Omit<Filled<WireFleetHost>, 'gpus'> & { gpus: FleetGpu[] };
export type { FleetTotals };
export type FleetMsg = { type: 'fleet'; timestamp: string; status: FleetStatus; hosts: FleetHost[]; totals: FleetTotals };

export type Message =
  | HelloMsg
  | TelemetryMsg
  | GpuChangeMsg
  | StatusMsg
  | HeartbeatMsg
  | ErrorMsg
  | FindingsMsg
  | EventMsg
  | FleetMsg;
