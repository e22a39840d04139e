import { useEffect, useState, useSyncExternalStore } from 'react';
import type { GpuStream } from '../api/view';
import { GpuStreamClient, type GpuStreamOptions } from './client';

/** `ws(s)://<this host>/ws/gpu`: same origin, so the backend's Origin check passes. */
export function defaultStreamUrl(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws/gpu`;
}

export type UseGpuStreamOptions = Partial<GpuStreamOptions>;

/**
 * Live GPU telemetry. Components get plain data and the connection state;
 * only this hook (through GpuStreamClient) touches the socket. Re-renders at
 * most every `renderIntervalMs` (200 ms = 5/s), whatever the message rate.
 * `access` says when the server refused the stream (4401/4429): it is not
 * retried until `reconnectNow` (after a sign-in); `requireSignIn` is for
 * signing out.
 */
export function useGpuStream(options: UseGpuStreamOptions = {}): GpuStream & { requireSignIn: () => void } {
  // Options are read once, when the page mounts.
  const [client] = useState(
    () => new GpuStreamClient({ ...options, url: options.url ?? defaultStreamUrl() }),
  );
  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);
  const state = useSyncExternalStore(client.subscribe, client.getSnapshot);
  return { ...state, reconnectNow: client.reconnectNow, requireSignIn: client.requireSignIn };
}
