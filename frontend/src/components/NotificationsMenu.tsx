import { Bell, BellOff, BellRing, Check } from 'lucide-react';
import { useCallback, useEffect, useId, useRef, useState, useSyncExternalStore } from 'react';
import type { Event as LensEvent, Severity } from '../api/types';
import { SEVERITIES, SEVERITY_LABEL } from '../lib/events';
import {
  EventNotifier,
  getNotifySettings,
  notifyPermission,
  requestNotifyPermission,
  setNotifySettings,
  showBrowserNotification,
  subscribeNotifySettings,
  type NotifyPermission,
  type NotifySettings,
  type ShowNotification,
} from '../lib/notify';

const useNotifySettings = (): NotifySettings =>
  useSyncExternalStore(subscribeNotifySettings, getNotifySettings, getNotifySettings);

const SEVERITY_HINT: Record<Severity, string> = {
  critical: 'GPU lost, XID and ECC errors, overheating',
  warning: 'idle memory, throttling, dead holders',
  info: 'GPUs added or removed, source changes',
};

/**
 * The bell in the top bar: turns browser notifications for new events on or
 * off and chooses their severities (critical only by default). The browser's
 * permission is asked from the click that turns them on, never before.
 */
export function NotificationsMenu({ className = '' }: { className?: string }) {
  const settings = useNotifySettings();
  const [permission, setPermission] = useState<NotifyPermission>(notifyPermission);
  const [asking, setAsking] = useState(false);
  const [open, setOpen] = useState(false);
  const id = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const on = settings.enabled && permission === 'granted';

  const close = useCallback((refocus: boolean) => {
    setOpen(false);
    if (refocus) buttonRef.current?.focus();
  }, []);

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close(true);
    };
    const onPointer = (e: PointerEvent) => {
      if (e.target instanceof Node && !rootRef.current?.contains(e.target)) close(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open, close]);

  const toggleMenu = () => {
    // The browser may have changed it (site settings) since: read it again.
    setPermission(notifyPermission());
    setOpen((o) => !o);
  };

  const toggleEnabled = async () => {
    if (settings.enabled) {
      setNotifySettings({ ...settings, enabled: false });
      return;
    }
    let p = notifyPermission();
    if (p === 'default') {
      setAsking(true);
      p = await requestNotifyPermission(); // from this click, and only here
      setAsking(false);
    }
    setPermission(p);
    if (p === 'granted') {
      setNotifySettings({
        enabled: true,
        severities: settings.severities.length > 0 ? settings.severities : ['critical'],
      });
    }
  };

  const toggleSeverity = (severity: Severity) => {
    const chosen = settings.severities.includes(severity)
      ? settings.severities.filter((s) => s !== severity)
      : SEVERITIES.filter((s) => s === severity || settings.severities.includes(s));
    setNotifySettings({ ...settings, severities: chosen });
  };

  const Icon = on ? BellRing : permission === 'denied' || permission === 'unsupported' ? BellOff : Bell;
  const state = on ? `on, ${settings.severities.map((s) => SEVERITY_LABEL[s].toLowerCase()).join(', ') || 'no severity chosen'}` : 'off';

  return (
    <div ref={rootRef} className={`relative ${className}`}>
      <button
        ref={buttonRef}
        type="button"
        className={`inline-flex size-9 items-center justify-center rounded-full border transition-colors ${
          on ? 'border-neon-fuchsia/50 bg-neon-fuchsia/15 text-fuchsia-ink' : 'border-line-strong bg-white/5 text-ink-2 hover:bg-white/10'
        }`}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? `${id}-menu` : undefined}
        aria-label={`Notifications: ${state}`}
        title={`Browser notifications: ${state}`}
        onClick={toggleMenu}
        data-testid="notifications-button"
      >
        <Icon size={17} aria-hidden="true" />
      </button>
      {open && (
        <div
          id={`${id}-menu`}
          role="dialog"
          aria-labelledby={`${id}-title`}
          className="glass absolute right-0 top-full z-30 mt-2 flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-3 rounded-2xl bg-canvas-2/95 p-4 text-sm text-ink-2 shadow-2xl"
          data-testid="notifications-menu"
        >
          <h2 id={`${id}-title`} className="font-display text-base font-semibold text-ink">
            Browser notifications
          </h2>
          {permission === 'unsupported' ? (
            <p data-testid="notify-unsupported">
              This browser cannot show notifications here. They need a current browser and the page served over
              HTTPS (or from localhost).
            </p>
          ) : (
            <>
              <button
                type="button"
                role="switch"
                aria-checked={on}
                disabled={asking || (permission === 'denied' && !settings.enabled)}
                onClick={() => void toggleEnabled()}
                className="flex items-center justify-between gap-3 rounded-xl border border-line-strong bg-white/5 px-3 py-2 text-left font-semibold text-ink transition-colors hover:bg-white/10 disabled:cursor-not-allowed disabled:opacity-60"
                data-testid="notify-switch"
              >
                <span>{asking ? 'Waiting for the browser…' : 'Notify me of new events'}</span>
                <span
                  aria-hidden="true"
                  className={`relative h-5 w-9 shrink-0 rounded-full transition-colors ${on ? 'bg-brand' : 'bg-white/15'}`}
                >
                  <span
                    className={`absolute top-0.5 size-4 rounded-full bg-white transition-[left] ${on ? 'left-[1.125rem]' : 'left-0.5'}`}
                  />
                </span>
              </button>
              {permission === 'denied' && (
                <p className="rounded-xl border border-warn/40 bg-warn/10 px-3 py-2 text-warn-ink" data-testid="notify-denied">
                  Notifications are blocked for this site. Allow them in the browser&rsquo;s site settings (the icon
                  beside the address), then open this menu again.
                </p>
              )}
              <fieldset className="flex flex-col gap-1.5">
                <legend className="label mb-1.5">Notify for</legend>
                {SEVERITIES.map((s) => {
                  const checked = settings.severities.includes(s);
                  return (
                    <label
                      key={s}
                      className="flex cursor-pointer items-start gap-2.5 rounded-lg px-1 py-1"
                    >
                      <input
                        type="checkbox"
                        className="peer sr-only"
                        checked={checked}
                        onChange={() => toggleSeverity(s)}
                      />
                      <span
                        aria-hidden="true"
                        className={`mt-0.5 inline-flex size-4 shrink-0 items-center justify-center rounded border peer-focus-visible:outline-2 peer-focus-visible:outline-offset-2 peer-focus-visible:outline-cyan-ink ${
                          checked ? 'border-neon-fuchsia bg-neon-fuchsia/30 text-ink' : 'border-line-strong'
                        }`}
                      >
                        {checked && <Check size={12} />}
                      </span>
                      <span>
                        <span className="font-semibold text-ink">{SEVERITY_LABEL[s]}</span>
                        <span className="block text-xs text-ink-3">{SEVERITY_HINT[s]}</span>
                      </span>
                    </label>
                  );
                })}
              </fieldset>
              <p className="text-xs text-ink-3">
                One notification per new event while this page is open; at most one every 10 s for the same kind on
                the same GPU.
              </p>
            </>
          )}
        </div>
      )}
    </div>
  );
}

const NO_IDS: ReadonlySet<string> = new Set();

/**
 * Renders nothing: watches the stream's events and shows a browser
 * notification for each new one of a chosen severity (see lib/notify.ts).
 * Mounted once on the page, whether or not the bell is.
 */
export function EventNotifications({
  events,
  helloEventIds = NO_IDS,
  show = showBrowserNotification,
}: {
  events: readonly LensEvent[];
  /** The ids the last hello brought (backfill: never notified). */
  helloEventIds?: ReadonlySet<string>;
  /** Tests: where notifications go. */
  show?: ShowNotification;
}) {
  const settings = useNotifySettings();
  const [notifier] = useState(() => new EventNotifier());
  useEffect(() => {
    notifier.update(events, helloEventIds, settings, notifyPermission(), show);
  }, [notifier, events, helloEventIds, settings, show]);
  return null;
}
