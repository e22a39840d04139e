import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getNotifySettings, NOTIFY_STORAGE_KEY, resetNotifySettingsForTests, setNotifySettings } from '../lib/notify';
import { at, eventRecord } from '../test/events';
import { stubNotification } from '../test/notification';
import { EventNotifications, NotificationsMenu } from './NotificationsMenu';

beforeEach(() => {
  localStorage.clear();
  resetNotifySettingsForTests();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('NotificationsMenu', () => {
  it('asks for permission only from the click that turns notifications on, then keeps the choice', async () => {
    const { requestPermission } = stubNotification('default', 'granted');
    render(<NotificationsMenu />);
    const bell = screen.getByRole('button', { name: 'Notifications: off' });
    const user = userEvent.setup();
    await user.click(bell);
    expect(requestPermission).not.toHaveBeenCalled(); // opening the menu asks nothing
    const dialog = screen.getByRole('dialog', { name: 'Browser notifications' });
    expect(screen.getByRole('checkbox', { name: /critical/i })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: /warning/i })).not.toBeChecked();

    await user.click(screen.getByRole('switch', { name: /notify me/i }));
    expect(requestPermission).toHaveBeenCalledTimes(1);
    expect(screen.getByRole('switch')).toHaveAttribute('aria-checked', 'true');
    expect(JSON.parse(localStorage.getItem(NOTIFY_STORAGE_KEY)!)).toEqual({ enabled: true, severities: ['critical'] });

    await user.click(screen.getByRole('checkbox', { name: /warning/i }));
    expect(getNotifySettings().severities).toEqual(['critical', 'warning']);
    expect(bell).toHaveAccessibleName('Notifications: on, critical, warning');

    await user.keyboard('{Escape}');
    expect(dialog).not.toBeInTheDocument();
    expect(bell).toHaveFocus();
  });

  it('never asks on load', () => {
    const { requestPermission } = stubNotification('default');
    render(<NotificationsMenu />);
    expect(requestPermission).not.toHaveBeenCalled();
  });

  it('explains a refusal, and where to undo it', async () => {
    const { requestPermission } = stubNotification('default', 'denied');
    render(<NotificationsMenu />);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: /notifications/i }));
    await user.click(screen.getByRole('switch'));
    expect(requestPermission).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('notify-denied')).toHaveTextContent('blocked for this site');
    expect(screen.getByRole('switch')).toHaveAttribute('aria-checked', 'false');
    expect(screen.getByRole('switch')).toBeDisabled();
    expect(getNotifySettings().enabled).toBe(false);
  });

  it('says when the browser has no notifications at all', async () => {
    vi.stubGlobal('Notification', undefined);
    render(<NotificationsMenu />);
    await userEvent.click(screen.getByRole('button', { name: /notifications/i }));
    expect(screen.getByTestId('notify-unsupported')).toHaveTextContent('HTTPS');
    expect(screen.queryByRole('switch')).toBeNull();
  });
});

describe('EventNotifications', () => {
  it('shows one notification per new event, none for the backfill, none twice', () => {
    const { shown } = stubNotification('granted');
    setNotifySettings({ enabled: true, severities: ['critical'] });
    const old = eventRecord({ id: 'old', severity: 'critical', ...at(0) });
    const { rerender } = render(<EventNotifications events={[]} />);
    // The hello: backfill.
    rerender(<EventNotifications events={[old]} helloEventIds={new Set(['old'])} />);
    expect(shown).toHaveLength(0);
    const lost = eventRecord({ id: 'lost', kind: 'gpuLost', severity: 'critical', ...at(1000) });
    const events = [old, lost];
    rerender(<EventNotifications events={events} helloEventIds={new Set(['old'])} />);
    expect(shown.map((n) => n.options.tag)).toEqual(['lost']);
    expect(shown[0]!.title).toBe('Critical · GPU lost');
    // Its end, and a re-render with the same list: nothing more.
    rerender(<EventNotifications events={[old, { ...lost, ...at(1000, 9000) }]} helloEventIds={new Set(['old'])} />);
    act(() => setNotifySettings({ enabled: true, severities: ['critical', 'info'] }));
    expect(shown).toHaveLength(1);
  });
});
