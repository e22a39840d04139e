import { CircleAlert, CircleCheck, CircleHelp, TriangleAlert } from 'lucide-react';
import { memo } from 'react';
import type { FleetStatus } from '../../api/fleet.gen';
import { fleetStatusLine, type StatusTone } from '../../lib/fleet';

const TONE: Record<StatusTone, { cls: string; Icon: typeof CircleCheck }> = {
  ok: { cls: 'border-line bg-white/[0.03] text-ink-2', Icon: CircleCheck },
  warn: { cls: 'border-warn/50 bg-warn/10 text-warn-ink', Icon: TriangleAlert },
  hot: { cls: 'border-hot/50 bg-hot/10 text-hot-ink', Icon: CircleAlert },
  unknown: { cls: 'border-line bg-white/[0.03] text-ink-2', Icon: CircleHelp },
};

/** What Prometheus's last answer was: one quiet line when all is well, a coloured one saying what is wrong when not. */
function FleetStatusLineImpl({ status, nowS }: { status: FleetStatus; nowS: number }) {
  const { tone, text } = fleetStatusLine(status, nowS);
  const t = TONE[tone];
  return (
    <p
      role="status"
      aria-live="polite"
      className={`flex items-start gap-2 rounded-xl border px-3 py-2 text-sm wrap-anywhere ${t.cls}`}
      data-testid="fleet-status"
      data-state={status.state}
    >
      <t.Icon size={16} aria-hidden="true" className="mt-0.5 shrink-0" />
      <span>{text}</span>
    </p>
  );
}

export const FleetStatusLine = memo(FleetStatusLineImpl);
