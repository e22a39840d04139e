import { vi } from 'vitest';

/** A stand-in for the browser's Notification API: records what is shown and when permission is asked. */
export function stubNotification(permission: NotificationPermission = 'default', answer: NotificationPermission = 'granted') {
  const shown: { title: string; options: NotificationOptions }[] = [];
  const requestPermission = vi.fn(async () => {
    Stub.permission = answer;
    return answer;
  });
  class Stub {
    static permission: NotificationPermission = permission;
    static requestPermission = requestPermission;
    onclick: (() => void) | null = null;
    constructor(title: string, options: NotificationOptions = {}) {
      shown.push({ title, options });
    }
    close() {}
  }
  vi.stubGlobal('Notification', Stub);
  return { shown, requestPermission, Stub };
}
