import type { Severity } from '../../api/types';
import { SEVERITY_LABEL } from '../../lib/events';
import { SEVERITY_STYLE } from './severityStyle';

/** A severity as a chip: colour, icon and word. */
export function SeverityBadge({ severity, size = 'md' }: { severity: Severity; size?: 'sm' | 'md' }) {
  const s = SEVERITY_STYLE[severity];
  return (
    <span
      className={`inline-flex shrink-0 items-center gap-1.5 rounded-full border font-semibold uppercase tracking-wide ${s.chip} ${
        size === 'sm' ? 'px-2 py-0.5 text-[11px]' : 'px-2.5 py-1 text-xs'
      }`}
      data-severity={severity}
    >
      <s.Icon size={size === 'sm' ? 12 : 14} aria-hidden="true" />
      {SEVERITY_LABEL[severity]}
    </span>
  );
}
