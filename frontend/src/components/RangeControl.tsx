import { CalendarRange, X } from 'lucide-react';
import { memo, useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import {
  LIVE,
  PRESET_NAMES,
  describeRange,
  presetLabel,
  presetWords,
  resolveRange,
  sameRange,
  toLocalInput,
  validateCustom,
  type TimeRange,
} from '../lib/range';

interface RangeControlProps {
  range: TimeRange;
  onChange: (range: TimeRange) => void;
}

interface Segment {
  id: string;
  range: TimeRange | null;
  label: string;
  title: string;
}

const SEGMENTS: readonly Segment[] = [
  { id: 'live', range: LIVE, label: 'Live', title: 'Live: the last two minutes, as they happen' },
  ...PRESET_NAMES.map((p) => ({
    id: p,
    range: { kind: 'preset', preset: p } as const,
    label: presetLabel(p),
    title: `The last ${presetWords(p)}`,
  })),
  { id: 'custom', range: null, label: 'Custom', title: 'A custom range: from a date and time to another' },
];

const base =
  'relative inline-flex h-9 min-w-0 flex-1 items-center justify-center gap-1.5 whitespace-nowrap rounded-lg px-2 text-sm font-semibold outline-offset-1 transition-colors duration-150 sm:flex-none sm:px-3';
const on = 'bg-gradient-to-r from-neon-violet/80 to-neon-fuchsia/60 text-white shadow-[0_0_18px_-6px_rgb(217_70_239_/_0.8)] ring-1 ring-white/25';
const off = 'text-ink-2 hover:bg-white/[0.07] hover:text-ink';

/**
 * Live · 1 h · 6 h · 24 h · 7 d · 30 d · Custom, as one group of toggle buttons
 * (aria-pressed). One tab stop: the arrow keys, Home and End move between the
 * buttons, Enter or Space chooses. Custom opens a small form with two
 * datetime-local fields, checked before they are used. Every change of range
 * is announced to screen readers.
 */
function RangeControlImpl({ range, onChange }: RangeControlProps) {
  const activeId = range.kind === 'live' ? 'live' : range.kind === 'preset' ? range.preset : 'custom';
  const [focusId, setFocusId] = useState(activeId);
  const [open, setOpen] = useState(false);
  const buttons = useRef(new Map<string, HTMLButtonElement>());
  const wrapper = useRef<HTMLDivElement>(null);
  const formId = useId();

  // The tab stop follows the range when it changes from elsewhere (back/forward, a zoom).
  const [seenActive, setSeenActive] = useState(activeId);
  if (seenActive !== activeId) {
    setSeenActive(activeId);
    setFocusId(activeId);
  }

  const choose = (segment: Segment) => {
    if (segment.range === null) {
      setOpen((o) => !o);
      return;
    }
    setOpen(false);
    if (!sameRange(segment.range, range)) onChange(segment.range);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const i = SEGMENTS.findIndex((s) => s.id === focusId);
    const next =
      event.key === 'ArrowRight' || event.key === 'ArrowDown'
        ? (i + 1) % SEGMENTS.length
        : event.key === 'ArrowLeft' || event.key === 'ArrowUp'
          ? (i - 1 + SEGMENTS.length) % SEGMENTS.length
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? SEGMENTS.length - 1
              : null;
    if (next === null) return;
    event.preventDefault();
    const id = SEGMENTS[next]!.id;
    setFocusId(id);
    buttons.current.get(id)?.focus();
  };

  // Click outside or Escape closes the custom form.
  useEffect(() => {
    if (!open) return;
    const away = (event: PointerEvent) => {
      if (!wrapper.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [open]);

  return (
    <div ref={wrapper} className="relative w-full sm:w-auto">
      <div
        role="group"
        aria-label="Time range"
        className="flex w-full items-center gap-0.5 rounded-xl border border-line bg-white/[0.04] p-1 sm:inline-flex sm:w-auto"
        onKeyDown={onKeyDown}
        data-testid="range-control"
      >
        {SEGMENTS.map((segment) => {
          const pressed = segment.id === activeId;
          const custom = segment.range === null;
          return (
            <button
              key={segment.id}
              ref={(el) => {
                if (el) buttons.current.set(segment.id, el);
                else buttons.current.delete(segment.id);
              }}
              type="button"
              className={`${base} ${pressed ? on : off} ${custom ? 'max-w-12 sm:max-w-none' : ''}`}
              aria-pressed={pressed}
              aria-expanded={custom ? open : undefined}
              aria-controls={custom && open ? formId : undefined}
              tabIndex={segment.id === focusId ? 0 : -1}
              title={segment.title}
              data-range={segment.id}
              onFocus={() => setFocusId(segment.id)}
              onClick={() => choose(segment)}
            >
              {segment.id === 'live' && (
                <span
                  className={`size-1.5 shrink-0 rounded-full ${pressed ? 'bg-white' : 'bg-ok'}`}
                  aria-hidden="true"
                />
              )}
              {custom ? (
                <>
                  <CalendarRange size={15} aria-hidden="true" className="shrink-0" />
                  <span className="sr-only sm:not-sr-only">{segment.label}</span>
                </>
              ) : (
                <span className="num">{segment.label}</span>
              )}
            </button>
          );
        })}
      </div>
      {open && (
        <CustomRangeForm
          id={formId}
          range={range}
          onCancel={() => {
            setOpen(false);
            buttons.current.get('custom')?.focus();
          }}
          onApply={(next) => {
            setOpen(false);
            onChange(next);
          }}
        />
      )}
      <RangeAnnouncer range={range} />
    </div>
  );
}

function CustomRangeForm({
  id,
  range,
  onApply,
  onCancel,
}: {
  id: string;
  range: TimeRange;
  onApply: (range: TimeRange) => void;
  onCancel: () => void;
}) {
  const [initial] = useState(() => resolveRange(range, Date.now()) ?? resolveRange({ kind: 'preset', preset: '24h' }, Date.now())!);
  const [from, setFrom] = useState(() => toLocalInput(initial.from));
  const [to, setTo] = useState(() => toLocalInput(initial.to));
  const [error, setError] = useState<{ field: 'from' | 'to'; error: string } | null>(null);
  const first = useRef<HTMLInputElement>(null);
  const errorId = `${id}-error`;

  useEffect(() => first.current?.focus(), []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const checked = validateCustom(from, to);
    if (!checked.ok) {
      setError({ field: checked.field, error: checked.error });
      return;
    }
    setError(null);
    onApply(checked.range);
  };

  const input =
    'num mt-1 block w-full rounded-lg border bg-canvas-2/80 px-3 py-2 text-base text-ink [color-scheme:dark] sm:text-sm';
  return (
    <form
      id={id}
      role="dialog"
      aria-label="Custom time range"
      // Opaque: inside the sticky bar's backdrop-filter a glass panel cannot blur the page under it.
      className="absolute right-0 top-full z-30 mt-2 w-full rounded-2xl border border-line-strong bg-[#10172b] p-4 shadow-[0_24px_60px_-12px_rgb(0_0_0_/_0.85)] sm:w-[22rem]"
      onSubmit={submit}
      onKeyDown={(event) => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          onCancel();
        }
      }}
      noValidate
      data-testid="custom-range"
    >
      <div className="mb-3 flex items-center justify-between">
        <h2 className="font-display text-base font-semibold">Custom range</h2>
        <button type="button" className="rounded-md p-1 text-ink-3 hover:text-ink" onClick={onCancel} aria-label="Close">
          <X size={16} aria-hidden="true" />
        </button>
      </div>
      <div className="grid gap-3">
        <label className="label block">
          From
          <input
            ref={first}
            type="datetime-local"
            required
            value={from}
            onChange={(e) => setFrom(e.target.value)}
            aria-invalid={error?.field === 'from'}
            aria-describedby={error?.field === 'from' ? errorId : undefined}
            className={`${input} ${error?.field === 'from' ? 'border-hot' : 'border-line-strong'}`}
            data-testid="custom-from"
          />
        </label>
        <label className="label block">
          To
          <input
            type="datetime-local"
            required
            value={to}
            onChange={(e) => setTo(e.target.value)}
            aria-invalid={error?.field === 'to'}
            aria-describedby={error?.field === 'to' ? errorId : undefined}
            className={`${input} ${error?.field === 'to' ? 'border-hot' : 'border-line-strong'}`}
            data-testid="custom-to"
          />
        </label>
      </div>
      {error && (
        <p id={errorId} role="alert" className="mt-3 text-sm text-hot-ink">
          {error.error}
        </p>
      )}
      <div className="mt-4 flex justify-end gap-2">
        <button type="button" onClick={onCancel} className="rounded-lg px-3 py-2 text-sm font-semibold text-ink-2 hover:bg-white/[0.07]">
          Cancel
        </button>
        <button type="submit" className={`rounded-lg px-4 py-2 text-sm ${on} font-semibold`}>
          Show range
        </button>
      </div>
    </form>
  );
}

/** Says the new range once it changed (never on the first render). */
function RangeAnnouncer({ range }: { range: TimeRange }) {
  const [message, setMessage] = useState('');
  const previous = useRef(range);
  useEffect(() => {
    if (sameRange(previous.current, range)) return;
    previous.current = range;
    setMessage(range.kind === 'live' ? 'Showing live data.' : `Showing the history: ${describeRange(range)}.`);
  }, [range]);
  return (
    <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="range-announcer">
      {message}
    </div>
  );
}

export const RangeControl = memo(RangeControlImpl);
