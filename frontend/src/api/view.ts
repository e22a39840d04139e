/**
 * What the page renders: the state the stream (src/stream) hands to the
 * components. Defined here, beside the protocol types it is made of, so that
 * components depend on data shapes only, never on the stream's code (the
 * import boundaries in eslint.config.js keep it that way).
 */
import type { ClientConfig, Event, EventKind, FleetGpu, FleetHost, FleetStatus, FleetTotals, Gpu, Severity, Status, System } from './types';

export type { Event, EventKind, Severity };

export interface HistoryPoint {
  /** Sample time, ms since the epoch. */
  readonly t: number;
  /** GPU utilization, %; null = not reported. */
  readonly util: number | null;
  /** Memory used as a share of total, % (`memoryShare`); null = not reported. */
  readonly mem: number | null;
}

export interface GpuEntry {
  /** Stable key: `gpuKey(gpu)`, the same one `gpuAdded`/`gpuRemoved` carry as `uuid`. */
  readonly key: string;
  readonly gpu: Gpu;
  readonly history: readonly HistoryPoint[];
}

export interface GpuEvent {
  readonly kind: 'gpuAdded' | 'gpuRemoved';
  readonly key: string;
  readonly id: number;
  readonly name: string;
  readonly at: number;
}

/** A fleet GPU with its sparkline as history points (one every 30 s, the server's sparkline step). */
export interface FleetGpuView extends FleetGpu {
  readonly points: readonly HistoryPoint[];
}

/** A fleet host; the same object from one fleet message to the next while nothing in it changed. */
export interface FleetHostView extends Omit<FleetHost, 'gpus'> {
  readonly gpus: readonly FleetGpuView[];
}

/** The latest fleet message, as the page shows it (null until one came, or when fleet mode is off). */
export interface FleetView {
  readonly timestamp: string;
  readonly status: FleetStatus;
  readonly hosts: readonly FleetHostView[];
  readonly totals: FleetTotals;
}

export interface ModelSnapshot {
  /** hello.config: null until the first hello. */
  readonly config: ClientConfig | null;
  readonly status: Status | null;
  /** The latest sample's fields (its GPU list is `gpus`). */
  readonly seq: number | null;
  readonly source: string | null;
  readonly system: System | null;
  readonly unavailable: Readonly<Record<string, string>>;
  /** False until the first sample (hello backfill or telemetry) arrived. */
  readonly hasSample: boolean;
  readonly gpus: readonly GpuEntry[];
  readonly lastEvent: GpuEvent | null;
  readonly serverError: { readonly code: string; readonly message: string } | null;
  /** The findings active now (hello, then each `findings` message); empty = all well. */
  readonly findings: Event[];
  /**
   * Recent events, oldest first (hello, then each `event` message; a finding's
   * end replaces its start), at most a couple of hundred.
   */
  readonly events: Event[];
  /** The ids the last hello brought: backfill, never news (no notification for them). */
  readonly helloEventIds: ReadonlySet<string>;
  /** The latest fleet message (fleet mode only); null until one came. */
  readonly fleet: FleetView | null;
}

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/**
 * Whether the server lets this page in (issue 17): 'ok' (open, or signed in),
 * 'signin' (the stream closed with 4401, or an /api answer was 401: the page
 * asks for the access token and stops retrying until then), 'throttled' (4429
 * or 429: too many wrong attempts from this address; sign in again later).
 */
export type AccessState = 'ok' | 'signin' | 'throttled';

export interface GpuStreamState extends ModelSnapshot {
  readonly connection: ConnectionState;
  /** 'signin' / 'throttled': the server refused the stream; no reconnect until `reconnectNow`. */
  readonly access: AccessState;
  /** When the last message of any kind (telemetry, heartbeat…) arrived, ms since the epoch. */
  readonly lastMessageAt: number | null;
  /** When the last telemetry sample arrived, ms since the epoch. */
  readonly lastSampleAt: number | null;
  /** Failed attempts since the link was last live. */
  readonly failures: number;
  /** When the next automatic attempt is due, ms since the epoch. */
  readonly nextRetryAt: number | null;
  /** Frames that failed validation (protocol drift), and why the last one did. */
  readonly invalidMessages: number;
  readonly lastInvalid: string | null;
}

/** What `useGpuStream` returns: the state, and the Reconnect button's action. */
export type GpuStream = GpuStreamState & { reconnectNow: () => void };
