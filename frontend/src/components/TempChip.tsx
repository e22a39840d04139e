import { Flame, Thermometer } from 'lucide-react';
import type { TempLevel } from '../lib/thresholds';
import { TEMP_LABEL } from '../lib/thresholds';

const STYLE: Record<TempLevel, string> = {
  ok: 'border-ok/40 bg-ok/10 text-ok-ink',
  warn: 'border-warn/50 bg-warn/10 text-warn-ink',
  hot: 'border-hot/60 bg-hot/15 text-hot-ink',
  unknown: 'border-unknown/50 bg-unknown/10 text-unknown-ink',
};

interface TempChipProps {
  temperature: number | null;
  level: TempLevel;
}

/** Temperature with a word (OK / WARM / HOT), never colour alone. */
export function TempChip({ temperature, level }: TempChipProps) {
  const Icon = level === 'hot' ? Flame : Thermometer;
  const label =
    temperature === null
      ? 'Temperature not reported'
      : `Temperature ${temperature} °C, ${TEMP_LABEL[level].toLowerCase()}`;
  return (
    <span
      role="img"
      aria-label={label}
      title={label}
      className={`inline-flex shrink-0 items-center gap-1.5 rounded-full border px-2.5 py-1 text-sm font-semibold ${STYLE[level]}`}
    >
      <Icon size={15} aria-hidden="true" />
      <span className="num">{temperature === null ? '—' : `${temperature} °C`}</span>
      <span className="text-[0.6875rem] tracking-wider opacity-90">{TEMP_LABEL[level]}</span>
    </span>
  );
}
