/**
 * Opt-in browser notifications for new events (the Notification API).
 *
 * - The settings (on/off, which severities) live in localStorage; off until a
 *   person turns them on, then critical only unless they choose more.
 * - The permission is asked only from a click (`requestPermission` is called by
 *   the menu's handler), never on load.
 * - `EventNotifier` decides what is news: a finding's start or an instant
 *   change that came in the stream — never the hello's backfill, never what was
 *   already there when it first looked, never one id twice — and holds back a
 *   second notification for the same kind and GPU within `minIntervalMs`.
 */
import type { Event as LensEvent, Severity } from '../api/types';
import { eventGpu, eventTitle, eventWho, isNews, SEVERITIES, SEVERITY_LABEL } from './events';

export interface NotifySettings {
  readonly enabled: boolean;
  readonly severities: readonly Severity[];
}

export const DEFAULT_NOTIFY: NotifySettings = Object.freeze({ enabled: false, severities: Object.freeze(['critical'] as Severity[]) });

export const NOTIFY_STORAGE_KEY = 'gpulens.notifications';

/** Shortest time between two notifications for the same kind on the same GPU. */
export const NOTIFY_MIN_INTERVAL_MS = 10_000;

export type NotifyPermission = 'unsupported' | 'default' | 'granted' | 'denied';

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // blocked (privacy settings): settings then last as long as the page
  }
}

/** The stored settings; anything unreadable is the default. */
export function loadNotifySettings(store: Storage | null = storage()): NotifySettings {
  try {
    const raw = store?.getItem(NOTIFY_STORAGE_KEY);
    if (raw === null || raw === undefined) return DEFAULT_NOTIFY;
    const data: unknown = JSON.parse(raw);
    if (typeof data !== 'object' || data === null) return DEFAULT_NOTIFY;
    const { enabled, severities } = data as { enabled?: unknown; severities?: unknown };
    const chosen = Array.isArray(severities)
      ? SEVERITIES.filter((s) => (severities as unknown[]).includes(s))
      : DEFAULT_NOTIFY.severities;
    return { enabled: enabled === true, severities: chosen };
  } catch {
    return DEFAULT_NOTIFY;
  }
}

export function saveNotifySettings(settings: NotifySettings, store: Storage | null = storage()): void {
  try {
    store?.setItem(NOTIFY_STORAGE_KEY, JSON.stringify({ enabled: settings.enabled, severities: settings.severities }));
  } catch {
    /* full or blocked: the choice holds for this page */
  }
}

// --- one shared copy of the settings, for useSyncExternalStore -----------------

let current: NotifySettings | null = null;
const listeners = new Set<() => void>();

export function getNotifySettings(): NotifySettings {
  current ??= loadNotifySettings();
  return current;
}

export function setNotifySettings(next: NotifySettings): void {
  current = next;
  saveNotifySettings(next);
  for (const listener of [...listeners]) listener();
}

export function subscribeNotifySettings(listener: () => void): () => void {
  listeners.add(listener);
  // Another tab changed them.
  const onStorage = (e: StorageEvent) => {
    if (e.key !== NOTIFY_STORAGE_KEY) return;
    current = loadNotifySettings();
    listener();
  };
  if (typeof window !== 'undefined') window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    if (typeof window !== 'undefined') window.removeEventListener('storage', onStorage);
  };
}

/** Tests: forget the shared copy (the next read loads from storage). */
export function resetNotifySettingsForTests(): void {
  current = null;
}

// --- the browser's permission ----------------------------------------------------

type NotificationCtor = typeof Notification;

const notificationApi = (): NotificationCtor | null =>
  typeof globalThis.Notification === 'function' ? globalThis.Notification : null;

/** What the browser allows now. `unsupported`: no Notification API (an old browser, or a page not served over HTTPS). */
export function notifyPermission(): NotifyPermission {
  const api = notificationApi();
  if (api === null) return 'unsupported';
  const p = api.permission;
  return p === 'granted' || p === 'denied' ? p : 'default';
}

/** Ask the browser. Call only from a click handler: browsers ignore (or punish) asking on load. */
export async function requestNotifyPermission(): Promise<NotifyPermission> {
  const api = notificationApi();
  if (api === null) return 'unsupported';
  if (api.permission === 'granted' || api.permission === 'denied') return api.permission;
  try {
    // Old Safari takes a callback and returns nothing.
    const answer = await new Promise<NotificationPermission>((resolve) => {
      const promise = api.requestPermission(resolve) as Promise<NotificationPermission> | undefined;
      promise?.then(resolve, () => resolve(api.permission));
    });
    return answer === 'granted' || answer === 'denied' ? answer : 'default';
  } catch {
    return notifyPermission();
  }
}

// --- what to say, and when ---------------------------------------------------------

/** "Critical · Idle but holding 40 GiB" and "GPU 1 · H100 — alice · python3 · pid 4242\n<summary>". */
export function notificationText(event: LensEvent): { title: string; body: string } {
  const where = [eventGpu(event), eventWho(event).join(' · ') || null].filter((x) => x !== null).join(' — ');
  return {
    title: `${SEVERITY_LABEL[event.severity]} · ${eventTitle(event)}`,
    body: [where, event.summary].filter((x) => x !== '').join('\n'),
  };
}

export type ShowNotification = (title: string, options: NotificationOptions) => void;

/** `new Notification(…)`; a click brings the dashboard's tab forward. Never throws (Chrome on Android wants a service worker). */
export const showBrowserNotification: ShowNotification = (title, options) => {
  const api = notificationApi();
  if (api === null) return;
  try {
    const n = new api(title, options);
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    /* not allowed here: nothing to show */
  }
};

/** Ids remembered: far more than the stream keeps, so an id is never news twice. */
const SEEN_MAX = 5000;

export class EventNotifier {
  private seen = new Set<string>();
  private primed = false;
  private lastShown = new Map<string, number>();
  private readonly minIntervalMs: number;

  constructor(minIntervalMs = NOTIFY_MIN_INTERVAL_MS) {
    this.minIntervalMs = minIntervalMs;
  }

  /**
   * Look at the stream's recent events (and the ids its last hello brought);
   * notify what is new and chosen. Returns the events it notified.
   */
  update(
    events: readonly LensEvent[],
    helloIds: ReadonlySet<string>,
    settings: NotifySettings,
    permission: NotifyPermission,
    show: ShowNotification = showBrowserNotification,
    nowMs = Date.now(),
  ): LensEvent[] {
    const fired: LensEvent[] = [];
    const first = !this.primed;
    this.primed = true;
    for (const event of events) {
      if (this.seen.has(event.id)) continue;
      this.remember(event.id);
      // What was there when the page first looked, and what a hello brought, happened before: not news.
      if (first || helloIds.has(event.id) || !isNews(event)) continue;
      if (!settings.enabled || permission !== 'granted' || !settings.severities.includes(event.severity)) continue;
      const slot = `${event.kind}|${event.gpu ?? ''}`;
      const last = this.lastShown.get(slot);
      if (last !== undefined && nowMs - last < this.minIntervalMs) continue;
      this.lastShown.set(slot, nowMs);
      const { title, body } = notificationText(event);
      show(title, { body, tag: event.id });
      fired.push(event);
    }
    return fired;
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_MAX) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}
