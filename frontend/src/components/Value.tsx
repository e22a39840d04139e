import { DASH, NOT_REPORTED } from '../lib/format';

interface ValueProps {
  value: number | null;
  format: (value: number) => string;
  className?: string;
  /** What is missing, for the tooltip ("fan speed not reported"). */
  what?: string;
}

/** A live number, or an explicit "not reported" dash (never a fake 0). */
export function Value({ value, format, className = '', what }: ValueProps) {
  if (value === null) {
    const text = what ? `${what} ${NOT_REPORTED}` : NOT_REPORTED;
    return (
      <span className={`text-ink-3 ${className}`} title={text} aria-label={text} data-null="">
        {DASH}
      </span>
    );
  }
  return <span className={className}>{format(value)}</span>;
}
