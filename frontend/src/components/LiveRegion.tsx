import { useEffect, useRef, useState } from 'react';
import type { ConnectionState, GpuEvent } from '../api/view';

const SAY: Record<ConnectionState, string> = {
  connecting: 'Connecting to the GPU telemetry stream.',
  live: 'Live: GPU telemetry connected.',
  reconnecting: 'Connection lost. Reconnecting.',
  offline: 'Backend unreachable. Use the Reconnect button to try again.',
};

/**
 * The page's only live region (polite). It speaks when the connection state
 * changes or a GPU appears or disappears — never on ordinary updates.
 */
export function LiveRegion({ connection, lastEvent }: { connection: ConnectionState; lastEvent: GpuEvent | null }) {
  const [message, setMessage] = useState('');
  const prevConnection = useRef<ConnectionState>(connection);
  const prevEvent = useRef<GpuEvent | null>(lastEvent);

  useEffect(() => {
    if (prevConnection.current === connection) return;
    prevConnection.current = connection;
    setMessage(SAY[connection]);
  }, [connection]);

  useEffect(() => {
    if (lastEvent === null || prevEvent.current === lastEvent) return;
    prevEvent.current = lastEvent;
    setMessage(`GPU ${lastEvent.id} (${lastEvent.name}) ${lastEvent.kind === 'gpuAdded' ? 'added' : 'removed'}.`);
  }, [lastEvent]);

  return (
    <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="live-region">
      {message}
    </div>
  );
}
