import { useEffect, useRef, useState } from 'react';
import type { ConnectionState, Event as LensEvent, GpuEvent } from '../api/view';
import { eventGpu, eventTitle } from '../lib/events';

const NO_FINDINGS: readonly LensEvent[] = [];

/** "Critical finding: Idle but holding 40 GiB on GPU 1 · H100 80GB HBM3." */
function sayFindings(findings: readonly LensEvent[]): string {
  const parts = findings.map((f) => {
    const gpu = eventGpu(f);
    return `${eventTitle(f)}${gpu === null ? '' : ` on ${gpu}`}`;
  });
  return `Critical finding${parts.length === 1 ? '' : 's'}: ${parts.join('; ')}.`;
}

const SAY: Record<ConnectionState, string> = {
  connecting: 'Connecting to the GPU telemetry stream.',
  live: 'Live: GPU telemetry connected.',
  reconnecting: 'Connection lost. Reconnecting.',
  offline: 'Backend unreachable. Use the Reconnect button to try again.',
};

/**
 * The page's only live region (polite). It speaks when the connection state
 * changes, a GPU appears or disappears, or a critical finding starts — never
 * on ordinary updates.
 */
export function LiveRegion({
  connection,
  lastEvent,
  findings = NO_FINDINGS,
}: {
  connection: ConnectionState;
  lastEvent: GpuEvent | null;
  /** The active findings: a critical one not seen before is said once. */
  findings?: readonly LensEvent[];
}) {
  const [message, setMessage] = useState('');
  const prevConnection = useRef<ConnectionState>(connection);
  const prevEvent = useRef<GpuEvent | null>(lastEvent);
  const saidFindings = useRef<ReadonlySet<string>>(new Set(findings.map((f) => f.id)));

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

  useEffect(() => {
    const fresh = findings.filter((f) => f.severity === 'critical' && !saidFindings.current.has(f.id));
    // Only the active ones are remembered: a finding that ends and comes back is news again.
    saidFindings.current = new Set(findings.map((f) => f.id));
    if (fresh.length > 0) setMessage(sayFindings(fresh));
  }, [findings]);

  return (
    <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="live-region">
      {message}
    </div>
  );
}
