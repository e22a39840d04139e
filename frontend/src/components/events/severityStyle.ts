import { Info, OctagonAlert, TriangleAlert } from 'lucide-react';
import type { Severity } from '../../api/types';

/** Severity in colour, icon and word (never colour alone); shared by the Findings strip and the Events view. */
export const SEVERITY_STYLE: Readonly<
  Record<Severity, { Icon: typeof Info; ink: string; card: string; chip: string; dot: string }>
> = {
  critical: {
    Icon: OctagonAlert,
    ink: 'text-hot-ink',
    card: 'border-hot/45 bg-hot/[0.06] shadow-[0_18px_50px_-28px_rgb(244_63_94/0.7)]',
    chip: 'border-hot/50 bg-hot/15 text-hot-ink',
    dot: 'bg-hot',
  },
  warning: {
    Icon: TriangleAlert,
    ink: 'text-warn-ink',
    card: 'border-warn/40 bg-warn/[0.04]',
    chip: 'border-warn/50 bg-warn/10 text-warn-ink',
    dot: 'bg-warn',
  },
  info: {
    Icon: Info,
    ink: 'text-cyan-ink',
    card: 'border-neon-cyan/30',
    chip: 'border-neon-cyan/40 bg-neon-cyan/10 text-cyan-ink',
    dot: 'bg-neon-cyan',
  },
};

