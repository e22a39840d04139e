/**
 * The stream's data, outside React: applies messages, keeps a capped history
 * per GPU and hands out immutable snapshots that share every part that did
 * not change (so memoised components can compare by reference).
 */
import type { ClientConfig, Event as LensEvent, Gpu, GpuChangeMsg, Message, Sample, Status } from '../api/types';
import type { FleetView, GpuEntry, GpuEvent, HistoryPoint, ModelSnapshot } from '../api/view';
import { mergeFleet } from './fleet';
import { memoryShare } from '../lib/share';

/**
 * A GPU's key, as the backend gives it: its uuid, or `index:N` when the source
 * has none (nvtop). `gpuAdded`/`gpuRemoved` carry this very string as `uuid`,
 * so a removal finds the card it means (docs/protocol.md).
 */
export const gpuKey = (gpu: Pick<Gpu, 'uuid' | 'id'>): string => gpu.uuid ?? `index:${gpu.id}`;

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const NO_IDS: ReadonlySet<string> = new Set();

/** Recent events kept for the page (the hello sends about as many). */
export const EVENTS_KEPT = 200;

/**
 * `events` with `event` applied: a finding's end (or any record with an id
 * already listed) replaces the one before in place; a new id goes last (the
 * list is oldest first); beyond `cap`, the oldest go.
 */
export function applyEvent(events: readonly LensEvent[], event: LensEvent, cap = EVENTS_KEPT): LensEvent[] {
  const at = events.findIndex((e) => e.id === event.id);
  const next = events.slice();
  if (at >= 0) next[at] = event;
  else next.push(event);
  if (next.length > cap) next.splice(0, next.length - cap);
  return next;
}

function sameProcesses(a: Gpu['processes'], b: Gpu['processes']): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!;
    const q = b[i]!;
    if (
      p.pid !== q.pid ||
      p.usedMemoryMiB !== q.usedMemoryMiB ||
      p.name !== q.name ||
      p.user !== q.user ||
      p.smUtilization !== q.smUtilization ||
      p.type !== q.type ||
      p.startTime !== q.startTime ||
      p.container !== q.container
    ) {
      return false;
    }
  }
  return true;
}

function sameStrings(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

/** Field-by-field equality, so an unchanged GPU keeps its object identity. */
function sameGpu(a: Gpu, b: Gpu): boolean {
  for (const key of Object.keys(b) as (keyof Gpu)[]) {
    if (key === 'processes' || key === 'clockEventReasons') continue;
    if (a[key] !== b[key]) return false;
  }
  return sameStrings(a.clockEventReasons, b.clockEventReasons) && sameProcesses(a.processes, b.processes);
}

function samePoints(a: readonly HistoryPoint[], b: readonly HistoryPoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.util !== b[i]!.util || a[i]!.mem !== b[i]!.mem) return false;
  }
  return true;
}

interface Track {
  gpu: Gpu;
  ring: HistoryPoint[];
  dirty: boolean;
  /** Last history array handed out, and when. */
  published: readonly HistoryPoint[];
  publishedAt: number;
}

export class StreamModel {
  private config_: ClientConfig | null = null;
  private status: Status | null = null;
  private latest: Sample | null = null;
  private order: string[] = [];
  private tracks = new Map<string, Track>();
  private lastEvent: GpuEvent | null = null;
  private serverError: ModelSnapshot['serverError'] = null;
  private findings: LensEvent[] = [];
  private events: LensEvent[] = [];
  private helloEventIds: ReadonlySet<string> = NO_IDS;
  private fleet: FleetView | null = null;
  private snap: ModelSnapshot | null = null;
  private changed = true;

  private readonly historyLength: number;
  private readonly chartIntervalMs: number;
  private readonly eventsKept: number;
  private pending = false;

  /**
   * @param historyLength samples kept per GPU for the sparklines
   * @param chartIntervalMs shortest time between two new history arrays for
   *   one GPU: numbers update with every sample, charts (the costly part of a
   *   render) at most this often. Every sample is still kept.
   * @param eventsKept recent events kept (the oldest go first)
   */
  constructor(historyLength = 120, chartIntervalMs = 0, eventsKept = EVENTS_KEPT) {
    this.historyLength = historyLength;
    this.chartIntervalMs = chartIntervalMs;
    this.eventsKept = eventsKept;
  }

  get config(): ClientConfig | null {
    return this.config_;
  }

  /** Some history is newer than what the last snapshot handed out. */
  get historyPending(): boolean {
    return this.pending;
  }

  /** Apply one message. Returns true when the visible data changed. */
  apply(message: Message, now: number): boolean {
    switch (message.type) {
      case 'hello':
        this.config_ = message.config;
        this.status = message.status;
        this.serverError = null;
        this.tracks.clear();
        this.order = [];
        this.latest = null;
        for (const sample of message.backfill) this.addSample(sample);
        this.findings = message.findings;
        // The hello's events are the whole recent list (after a reconnect too): what is missed in between is in it.
        this.events = message.events.slice(-this.eventsKept);
        this.helloEventIds = new Set(this.events.map((e) => e.id));
        // Fleet mode off (or turned off across a restart): no fleet. On: the last one stays until the next comes.
        if (message.config.fleet !== true) this.fleet = null;
        break;
      case 'fleet':
        this.fleet = mergeFleet(this.fleet, message);
        break;
      case 'findings':
        this.findings = message.findings;
        break;
      case 'event':
        this.events = applyEvent(this.events, message.event, this.eventsKept);
        break;
      case 'telemetry':
        if (this.latest !== null && message.seq <= this.latest.seq) {
          // Duplicate of a backfilled sample (or out of order): nothing new.
          return false;
        }
        this.addSample(message);
        break;
      case 'gpuAdded':
      case 'gpuRemoved':
        this.gpuChange(message, now);
        break;
      case 'status':
        this.status = message.status;
        break;
      case 'error':
        this.serverError = { code: message.code, message: message.message };
        break;
      case 'heartbeat':
        return false;
    }
    this.changed = true;
    return true;
  }

  private gpuChange(message: GpuChangeMsg, now: number): void {
    const key = message.uuid; // already gpuKey() form: the uuid, or `index:N`
    this.lastEvent = { kind: message.type, key, id: message.id, name: message.name, at: now };
    if (message.type === 'gpuRemoved') {
      this.tracks.delete(key);
      this.order = this.order.filter((k) => k !== key);
    }
    // gpuAdded: the card appears with the next telemetry, which carries its data.
  }

  private addSample(sample: Sample): void {
    const t = Date.parse(sample.timestamp);
    const seen = new Set<string>();
    const order: string[] = [];
    for (const gpu of sample.gpus) {
      const key = gpuKey(gpu);
      if (seen.has(key)) continue; // defensive: never two cards with one key
      seen.add(key);
      order.push(key);
      const point: HistoryPoint = { t, util: gpu.utilization, mem: memoryShare(gpu) };
      const track = this.tracks.get(key);
      if (track === undefined) {
        this.tracks.set(key, { gpu, ring: [point], dirty: true, published: [], publishedAt: -Infinity });
        continue;
      }
      if (!sameGpu(track.gpu, gpu)) track.gpu = gpu;
      track.ring.push(point);
      if (track.ring.length > this.historyLength) {
        track.ring.splice(0, track.ring.length - this.historyLength);
      }
      track.dirty = true;
    }
    for (const key of this.tracks.keys()) if (!seen.has(key)) this.tracks.delete(key);
    this.order = order;
    this.latest = sample;
  }

  /**
   * An immutable view; parts that did not change keep their identity.
   * `now` (ms) paces the history arrays; without it every history is current.
   */
  snapshot(now?: number): ModelSnapshot {
    if (this.snap !== null && !this.changed && !this.pending) return this.snap;
    const prev = new Map((this.snap?.gpus ?? []).map((e) => [e.key, e]));
    const gpus: GpuEntry[] = [];
    let pending = false;
    let published = false;
    for (const key of this.order) {
      const track = this.tracks.get(key);
      if (track === undefined) continue;
      if (track.dirty) {
        const due =
          now === undefined || track.published.length === 0 || now - track.publishedAt >= this.chartIntervalMs;
        if (due) {
          const next = track.ring.slice();
          // A flat line that merely moved in time looks the same: keep the old array.
          if (!samePoints(track.published, next)) {
            track.published = next;
            published = true;
          }
          track.publishedAt = now ?? 0;
          track.dirty = false;
        } else {
          pending = true;
        }
      }
      const old = prev.get(key);
      gpus.push(
        old !== undefined && old.gpu === track.gpu && old.history === track.published
          ? old
          : { key, gpu: track.gpu, history: track.published },
      );
    }
    this.pending = pending;
    if (this.snap !== null && !this.changed && !published) return this.snap;
    const latest = this.latest;
    this.snap = {
      config: this.config_,
      status: this.status,
      seq: latest?.seq ?? null,
      source: latest?.source ?? null,
      system: latest?.system ?? null,
      unavailable: latest?.unavailable ?? EMPTY,
      hasSample: latest !== null,
      gpus,
      lastEvent: this.lastEvent,
      serverError: this.serverError,
      findings: this.findings,
      events: this.events,
      helloEventIds: this.helloEventIds,
      fleet: this.fleet,
    };
    this.changed = false;
    return this.snap;
  }
}
