import { BarChart3, Cpu, ListTree, Network, type LucideIcon } from 'lucide-react';
import { memo, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { View } from '../lib/range';

export interface SegmentOption<T extends string> {
  value: T;
  label: string;
  /** The tooltip, and what a screen reader hears after the label. */
  title?: string;
  Icon?: LucideIcon;
}

interface SegmentedProps<T extends string> {
  options: readonly SegmentOption<T>[];
  value: T;
  onChange: (value: T) => void;
  /** The group's accessible name ("View", "Group by"). */
  label: string;
  testId?: string;
  /** Extra classes for each button (width rules at small sizes). */
  buttonClass?: string;
  className?: string;
}

const base =
  'relative inline-flex h-9 min-w-0 flex-1 items-center justify-center gap-1.5 whitespace-nowrap rounded-lg px-2.5 text-sm font-semibold outline-offset-1 transition-colors duration-150 motion-reduce:transition-none sm:flex-none sm:px-3';
const on = 'bg-gradient-to-r from-neon-violet/80 to-neon-fuchsia/60 text-white shadow-[0_0_18px_-6px_rgb(217_70_239_/_0.8)] ring-1 ring-white/25';
const off = 'text-ink-2 hover:bg-white/[0.07] hover:text-ink';

/**
 * One choice out of a few, as a group of toggle buttons (aria-pressed), the
 * same control as the range's. One tab stop: the arrow keys, Home and End move
 * between the buttons, Enter or Space chooses.
 */
export function Segmented<T extends string>({ options, value, onChange, label, testId, buttonClass = '', className = '' }: SegmentedProps<T>) {
  const [focus, setFocus] = useState<T>(value);
  const buttons = useRef(new Map<T, HTMLButtonElement>());
  // The tab stop follows the value when it changes from elsewhere (back/forward).
  const [seen, setSeen] = useState(value);
  if (seen !== value) {
    setSeen(value);
    setFocus(value);
  }
  const tabStop = options.some((o) => o.value === focus) ? focus : value;

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const n = options.length;
    const i = options.findIndex((o) => o.value === tabStop);
    const next =
      event.key === 'ArrowRight' || event.key === 'ArrowDown'
        ? (i + 1) % n
        : event.key === 'ArrowLeft' || event.key === 'ArrowUp'
          ? (i - 1 + n) % n
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? n - 1
              : null;
    if (next === null) return;
    event.preventDefault();
    const target = options[next]!.value;
    setFocus(target);
    buttons.current.get(target)?.focus();
  };

  return (
    <div
      role="group"
      aria-label={label}
      className={`flex w-full items-center gap-0.5 rounded-xl border border-line bg-white/[0.04] p-1 sm:inline-flex sm:w-auto ${className}`}
      onKeyDown={onKeyDown}
      data-testid={testId}
    >
      {options.map((option) => {
        const pressed = option.value === value;
        const Icon = option.Icon;
        return (
          <button
            key={option.value}
            ref={(el) => {
              if (el) buttons.current.set(option.value, el);
              else buttons.current.delete(option.value);
            }}
            type="button"
            className={`${base} ${pressed ? on : off} ${buttonClass}`}
            aria-pressed={pressed}
            tabIndex={option.value === tabStop ? 0 : -1}
            title={option.title}
            data-value={option.value}
            onFocus={() => setFocus(option.value)}
            onClick={() => {
              if (!pressed) onChange(option.value);
            }}
          >
            {Icon && <Icon size={15} aria-hidden="true" className="shrink-0" />}
            <span>{option.label}</span>
          </button>
        );
      })}
    </div>
  );
}

const VIEW_OPTIONS: readonly SegmentOption<View>[] = [
  { value: 'gpus', label: 'GPUs', title: 'The GPUs: live, or their history over the range', Icon: Cpu },
  { value: 'usage', label: 'Usage', title: 'Who used the GPUs over the range: GPU-hours and GiB-hours', Icon: BarChart3 },
  { value: 'events', label: 'Events', title: 'What happened: findings and GPU changes over the range', Icon: ListTree },
];
/** Fleet mode only (config.fleet): every host and GPU the server's Prometheus knows. */
const FLEET_OPTION: SegmentOption<View> = { value: 'fleet', label: 'Fleet', title: 'Every host and GPU Prometheus knows', Icon: Network };
const WITH_FLEET: readonly SegmentOption<View>[] = [...VIEW_OPTIONS, FLEET_OPTION];

const SAID: Record<View, string> = {
  gpus: 'Showing the GPUs.',
  usage: 'Showing the usage.',
  events: 'Showing the events.',
  fleet: 'Showing the fleet.',
};

interface ViewSwitchProps {
  view: View;
  onChange: (view: View) => void;
  /** The server is in fleet mode (config.fleet): a fourth choice, Fleet. */
  fleet?: boolean;
}

/** GPUs · Usage · Events (· Fleet) in the top bar; a change is announced to screen readers. */
function ViewSwitchImpl({ view, onChange, fleet = false }: ViewSwitchProps) {
  const [message, setMessage] = useState('');
  const previous = useRef(view);
  useEffect(() => {
    if (previous.current === view) return;
    previous.current = view;
    setMessage(SAID[view]);
  }, [view]);
  return (
    <>
      <Segmented options={fleet ? WITH_FLEET : VIEW_OPTIONS} value={view} onChange={onChange} label="View" testId="view-switch" />
      <div role="status" aria-live="polite" aria-atomic="true" className="sr-only" data-testid="view-announcer">
        {message}
      </div>
    </>
  );
}

export const ViewSwitch = memo(ViewSwitchImpl);

/** For the top bar (TopNav), from App: the view and how to change it; no switch without it. */
export interface ViewSwitchValue {
  view: View;
  onChange: (view: View) => void;
  /** Fleet mode is on (config.fleet): the switch offers the Fleet view. */
  fleet?: boolean;
}
