import { describe, expect, it, vi } from 'vitest';
import { at, eventRecord } from '../test/events';
import {
  DEFAULT_NOTIFY,
  EventNotifier,
  loadNotifySettings,
  notificationText,
  NOTIFY_STORAGE_KEY,
  saveNotifySettings,
  type NotifySettings,
} from './notify';

const on: NotifySettings = { enabled: true, severities: ['critical', 'warning'] };
const none: ReadonlySet<string> = new Set();
const crit = (id: string, startMs = 0, extra = {}) => eventRecord({ id, severity: 'critical', kind: 'xid', value: 79, ...at(startMs), ...extra });

describe('notification settings', () => {
  it('are off, critical only, until chosen; unreadable storage is the default', () => {
    localStorage.clear();
    expect(loadNotifySettings()).toEqual(DEFAULT_NOTIFY);
    expect(DEFAULT_NOTIFY).toEqual({ enabled: false, severities: ['critical'] });
    localStorage.setItem(NOTIFY_STORAGE_KEY, '{nope');
    expect(loadNotifySettings()).toEqual(DEFAULT_NOTIFY);
    localStorage.setItem(NOTIFY_STORAGE_KEY, JSON.stringify({ enabled: true, severities: ['info', 'bogus', 'critical'] }));
    expect(loadNotifySettings()).toEqual({ enabled: true, severities: ['critical', 'info'] });
  });

  it('round-trip through localStorage', () => {
    saveNotifySettings(on);
    expect(loadNotifySettings()).toEqual(on);
    localStorage.clear();
  });
});

describe('EventNotifier', () => {
  const setup = () => {
    const show = vi.fn();
    return { show, notifier: new EventNotifier(10_000) };
  };

  it('never notifies what was there when it first looked, nor the hello backfill', () => {
    const { show, notifier } = setup();
    notifier.update([crit('a')], none, on, 'granted', show, 0);
    // A reconnect's hello brings an event missed while away: backfill, not news.
    const missed = crit('b', 5000);
    notifier.update([crit('a'), missed], new Set(['a', 'b']), on, 'granted', show, 1000);
    expect(show).not.toHaveBeenCalled();
  });

  it('notifies a new start of a chosen severity once, tagged with its id; never its end, never twice', () => {
    const { show, notifier } = setup();
    notifier.update([], none, on, 'granted', show, 0);
    const e = crit('x1', 1000, { gpuIndex: 1 });
    expect(notifier.update([e], none, on, 'granted', show, 1000)).toEqual([e]);
    expect(show).toHaveBeenCalledTimes(1);
    const [title, options] = show.mock.calls[0]!;
    expect(title).toBe('Critical · XID 79');
    expect(options).toMatchObject({ tag: 'x1' });
    expect(options.body).toContain('GPU 1 · H100 80GB HBM3');
    // The same list again, and then the end of the same id: nothing more.
    notifier.update([e], none, on, 'granted', show, 60_000);
    notifier.update([{ ...e, ...at(1000, 50_000) }], none, on, 'granted', show, 120_000);
    expect(show).toHaveBeenCalledTimes(1);
    // An end of a finding never seen starting is not news either.
    notifier.update([crit('y', 0, at(0, 9000))], none, on, 'granted', show, 200_000);
    expect(show).toHaveBeenCalledTimes(1);
  });

  it('says an instant change (a GPU removed) when its severity is chosen', () => {
    const { show, notifier } = setup();
    notifier.update([], none, on, 'granted', show, 0);
    notifier.update([eventRecord({ id: 'rm', kind: 'gpuRemoved', severity: 'warning', ...at(0, 0) })], none, on, 'granted', show, 0);
    expect(show).toHaveBeenCalledWith('Warning · GPU removed', expect.objectContaining({ tag: 'rm' }));
  });

  it('keeps quiet when off, without permission, or for a severity not chosen', () => {
    const { show, notifier } = setup();
    notifier.update([], none, on, 'granted', show, 0);
    notifier.update([crit('a')], none, { ...on, enabled: false }, 'granted', show, 0);
    notifier.update([crit('b')], none, on, 'denied', show, 0);
    notifier.update([eventRecord({ id: 'i', severity: 'info' })], none, on, 'granted', show, 0);
    expect(show).not.toHaveBeenCalled();
  });

  it('holds back a second one for the same kind and GPU within 10 s', () => {
    const { show, notifier } = setup();
    notifier.update([], none, on, 'granted', show, 0);
    const list = [crit('a', 0)];
    notifier.update(list, none, on, 'granted', show, 0);
    list.push(crit('b', 1)); // same kind, same GPU, 5 s later
    notifier.update(list, none, on, 'granted', show, 5000);
    list.push(crit('c', 2, { gpu: 'GPU-other' })); // another GPU: its own slot
    notifier.update(list, none, on, 'granted', show, 6000);
    list.push(crit('d', 3)); // 10 s after the first
    notifier.update(list, none, on, 'granted', show, 10_000);
    expect(show.mock.calls.map((c) => (c[1] as NotificationOptions).tag)).toEqual(['a', 'c', 'd']);
  });

  it('words a notification from the event', () => {
    const text = notificationText(eventRecord());
    expect(text.title).toBe('Warning · Idle but holding 40 GiB');
    expect(text.body).toBe(
      'GPU 1 · H100 80GB HBM3 — alice · python3 · pid 4242 · container 3f2a9c1b7d4e\npython3 (pid 4242) holds 40.0 GiB on GPU 1 with 0 % SM for 12 min.',
    );
  });
});
