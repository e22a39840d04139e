interface MeterProps {
  /** 0–100, or null when not reported. */
  value: number | null;
  tone?: 'brand' | 'cool' | 'ok' | 'warn' | 'hot';
  className?: string;
}

const TONE: Record<NonNullable<MeterProps['tone']>, string> = {
  brand: 'bg-brand',
  cool: 'bg-cool',
  ok: 'bg-ok',
  warn: 'bg-warn',
  hot: 'bg-hot',
};

/** A thin horizontal bar. Decorative: the number next to it carries the meaning. */
export function Meter({ value, tone = 'brand', className = '' }: MeterProps) {
  const width = value === null ? 0 : Math.max(0, Math.min(100, value));
  return (
    <div aria-hidden="true" className={`h-1.5 w-full overflow-hidden rounded-full bg-white/[0.08] ${className}`}>
      {value !== null && (
        <div
          className={`h-full rounded-full ${TONE[tone]}`}
          style={{ width: `${width}%`, backgroundSize: width > 0 ? `${(100 / width) * 100}% 100%` : undefined }}
        />
      )}
    </div>
  );
}
