/**
 * Owns the WebSocket: connect, validate, reconnect with jittered backoff,
 * detect a dead link, and publish snapshots at most every `renderIntervalMs`.
 * Framework-free; `useGpuStream` adapts it to React.
 */
import { parseMessage } from '../api/parse';
import type { AccessState, ConnectionState, GpuStreamState } from '../api/view';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { StreamModel } from './model';

export type WebSocketLike = Pick<WebSocket, 'close' | 'readyState'> & {
  onopen: ((ev: Event) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
};

export type WebSocketFactory = new (url: string) => WebSocketLike;

export interface GpuStreamOptions {
  url: string;
  WebSocketImpl?: WebSocketFactory;
  backoff?: BackoffOptions;
  /** Returns [0, 1); drives the jitter. */
  random?: () => number;
  /** Shortest time between two published snapshots (5 renders/s = 200). */
  renderIntervalMs?: number;
  historyLength?: number;
  /** Shortest time between two sparkline redraws of one GPU (numbers update every render). */
  chartIntervalMs?: number;
  /** Failed attempts in a row after which the state is `offline`. */
  offlineAfter?: number;
  /** Dead link: no message for this many heartbeat periods. */
  deadLinkFactor?: number;
  /** Heartbeat period assumed until hello.config says otherwise. */
  defaultHeartbeatMs?: number;
}

const DEAD_LINK_CLOSE = 4000;
/**
 * The server's close codes for access (issue 17): no (valid) credentials, and
 * too many wrong attempts from this address. Retrying cannot help with either,
 * so the client stops until the page signs in and calls `reconnectNow`.
 */
export const CLOSE_SIGN_IN = 4401;
export const CLOSE_TOO_MANY_ATTEMPTS = 4429;

export class GpuStreamClient {
  private readonly opts: Required<Omit<GpuStreamOptions, 'WebSocketImpl'>> & {
    WebSocketImpl: WebSocketFactory;
  };
  private model: StreamModel;
  private socket: WebSocketLike | null = null;
  private listeners = new Set<() => void>();
  private state: GpuStreamState;
  private running = false;
  private everLive = false;

  private connection: ConnectionState = 'connecting';
  private access: AccessState = 'ok';
  private failures = 0;
  private nextRetryAt: number | null = null;
  private lastMessageAt: number | null = null;
  private lastSampleAt: number | null = null;
  private invalidMessages = 0;
  private lastInvalid: string | null = null;

  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFlushAt = -Infinity;
  private flushDueAt = 0;
  private flushWhenVisible = false;

  constructor(options: GpuStreamOptions) {
    this.opts = {
      WebSocketImpl: options.WebSocketImpl ?? (globalThis.WebSocket as unknown as WebSocketFactory),
      backoff: DEFAULT_BACKOFF,
      random: Math.random,
      renderIntervalMs: 200,
      historyLength: 120,
      chartIntervalMs: 1000,
      offlineAfter: 3,
      deadLinkFactor: 2.5,
      defaultHeartbeatMs: 5000,
      ...stripUndefined(options),
      url: options.url,
    };
    this.model = new StreamModel(this.opts.historyLength, this.opts.chartIntervalMs);
    this.state = this.compose();
  }

  // --- public ------------------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): GpuStreamState => this.state;

  start(): void {
    if (this.running) return;
    this.running = true;
    if (typeof document !== 'undefined') {
      document.addEventListener('visibilitychange', this.onVisibility);
    }
    if (typeof window !== 'undefined') window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop(): void {
    this.running = false;
    if (typeof document !== 'undefined') {
      document.removeEventListener('visibilitychange', this.onVisibility);
    }
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline);
    this.dropSocket(1000, 'page closed');
    this.clearTimer('retryTimer');
    this.clearTimer('watchdog');
    this.clearTimer('flushTimer');
  }

  /** Skip the backoff wait and try now (the "Reconnect" button). */
  reconnectNow = (): void => {
    if (!this.running) return;
    // After a sign-in too: the cookie the browser now has goes with the new handshake.
    if (this.access !== 'ok') {
      this.access = 'ok';
      // The prompt goes at once, not after the render throttle.
      this.clearTimer('flushTimer');
      this.flush();
    }
    this.clearTimer('retryTimer');
    this.dropSocket(1000, 'reconnect requested');
    this.connect(true);
  };

  /**
   * Signed out: drop the stream and what it showed, and wait for a sign-in
   * (`reconnectNow`) before connecting again.
   */
  requireSignIn = (): void => {
    this.dropSocket(1000, 'signed out');
    this.model = new StreamModel(this.opts.historyLength, this.opts.chartIntervalMs);
    this.everLive = false;
    this.failures = 0;
    this.lastMessageAt = this.lastSampleAt = null;
    this.connection = 'connecting';
    this.holdForAccess('signin');
  };

  // --- socket ------------------------------------------------------------------

  private connect(manual = false): void {
    this.nextRetryAt = null;
    // An automatic retry leaves "offline" as it is (no flicker, no chatter in
    // the live region); a click on Reconnect shows that something happens.
    if (manual || (this.connection !== 'live' && this.connection !== 'offline')) {
      this.setConnection(this.everLive ? 'reconnecting' : 'connecting');
    }
    let socket: WebSocketLike;
    try {
      socket = new this.opts.WebSocketImpl(this.opts.url);
    } catch {
      this.linkLost();
      return;
    }
    this.socket = socket;
    socket.onmessage = (ev) => {
      if (this.socket === socket) this.onFrame(ev.data);
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      if (ev.code === CLOSE_SIGN_IN) this.holdForAccess('signin');
      else if (ev.code === CLOSE_TOO_MANY_ATTEMPTS) this.holdForAccess('throttled');
      else this.linkLost();
    };
    socket.onerror = () => {
      /* a close event follows */
    };
    this.armWatchdog();
  }

  private onFrame(data: unknown): void {
    const now = Date.now();
    this.lastMessageAt = now;
    this.armWatchdog();
    const result = parseMessage(data);
    if (!result.ok) {
      this.invalidMessages += 1;
      this.lastInvalid = result.error;
      this.scheduleFlush();
      return;
    }
    const message = result.message;
    if (message.type === 'telemetry' || (message.type === 'hello' && message.backfill.length > 0)) {
      this.lastSampleAt = now;
    }
    this.model.apply(message, now);
    if (message.type !== 'error' && this.connection !== 'live') {
      this.everLive = true;
      this.failures = 0;
      this.setConnection('live');
    }
    this.scheduleFlush();
  }

  /** The socket closed, failed to open, or went silent: back off and retry. */
  private linkLost(): void {
    this.dropSocket(DEAD_LINK_CLOSE, 'link lost');
    this.clearTimer('watchdog');
    if (!this.running) return;
    this.failures += 1;
    const delay = backoffDelay(this.failures, this.opts.backoff, this.opts.random);
    this.nextRetryAt = Date.now() + delay;
    this.setConnection(
      this.failures >= this.opts.offlineAfter
        ? 'offline'
        : this.everLive
          ? 'reconnecting'
          : 'connecting',
    );
    this.clearTimer('retryTimer');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** The server refused the stream: no retry loop, just the state the page shows a prompt for. */
  private holdForAccess(access: Exclude<AccessState, 'ok'>): void {
    this.dropSocket(1000, 'access refused');
    this.clearTimer('watchdog');
    this.clearTimer('retryTimer');
    this.nextRetryAt = null;
    this.access = access;
    this.clearTimer('flushTimer');
    this.flush();
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      /* already closed */
    }
  }

  private armWatchdog(): void {
    this.clearTimer('watchdog');
    const heartbeat = this.model.config?.heartbeatIntervalMs ?? this.opts.defaultHeartbeatMs;
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      this.linkLost();
    }, heartbeat * this.opts.deadLinkFactor);
  }

  // --- publishing --------------------------------------------------------------

  private setConnection(next: ConnectionState): void {
    if (this.connection === next) {
      this.scheduleFlush();
      return;
    }
    this.connection = next;
    // A change of connection state (e.g. the first data arriving) is shown at once: it is
    // rare, and waiting out the render throttle here only delays the first numbers.
    this.clearTimer('flushTimer');
    this.flush();
  }

  private scheduleFlush(minWait = 0): void {
    const now = Date.now();
    const wait = Math.max(minWait, this.lastFlushAt + this.opts.renderIntervalMs - now);
    // An earlier flush already planned covers this one; a later one (the chart catch-up) is brought forward.
    if (this.flushTimer !== null && this.flushDueAt <= now + wait) return;
    this.clearTimer('flushTimer');
    this.flushDueAt = now + wait;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, wait);
  }

  private flush(): void {
    if (typeof document !== 'undefined' && document.hidden) {
      // Nobody sees it: keep the data current, render when the tab is shown.
      this.flushWhenVisible = true;
      return;
    }
    this.lastFlushAt = Date.now();
    const next = this.compose();
    if (!sameState(next, this.state)) {
      this.state = next;
      for (const listener of this.listeners) listener();
    }
    // Charts held back by chartIntervalMs still get their last samples when the stream pauses.
    if (this.model.historyPending) this.scheduleFlush(this.opts.chartIntervalMs);
  }

  private compose(): GpuStreamState {
    return {
      ...this.model.snapshot(Date.now()),
      connection: this.connection,
      access: this.access,
      lastMessageAt: this.lastMessageAt,
      lastSampleAt: this.lastSampleAt,
      failures: this.failures,
      nextRetryAt: this.nextRetryAt,
      invalidMessages: this.invalidMessages,
      lastInvalid: this.lastInvalid,
    };
  }

  private onVisibility = (): void => {
    if (!document.hidden && this.flushWhenVisible) {
      this.flushWhenVisible = false;
      this.scheduleFlush();
    }
  };

  private onOnline = (): void => {
    // Waiting for a sign-in: the network coming back changes nothing.
    if (this.connection !== 'live' && this.access === 'ok') this.reconnectNow();
  };

  private clearTimer(name: 'retryTimer' | 'watchdog' | 'flushTimer'): void {
    const timer = this[name];
    if (timer !== null) clearTimeout(timer);
    this[name] = null;
  }
}

function sameState(a: GpuStreamState, b: GpuStreamState): boolean {
  for (const key of Object.keys(a) as (keyof GpuStreamState)[]) if (a[key] !== b[key]) return false;
  return true;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
