/**
 * The time range the page shows: live (the default), a preset ending now, or a
 * custom span. It lives in the URL so a link can be shared and back/forward
 * work: no parameter = live, `?range=24h`, or `?from=…&to=…` in Unix seconds.
 */

export const PRESETS = {
  '1h': 3600,
  '6h': 6 * 3600,
  '24h': 24 * 3600,
  '7d': 7 * 86_400,
  '30d': 30 * 86_400,
} as const;

export type Preset = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as Preset[];

export type TimeRange =
  | { readonly kind: 'live' }
  | { readonly kind: 'preset'; readonly preset: Preset }
  /** Unix seconds. */
  | { readonly kind: 'custom'; readonly from: number; readonly to: number };

export const LIVE: TimeRange = { kind: 'live' };

/** The shortest span a custom range (or a zoom) may have, s. */
export const MIN_SPAN_S = 60;
/** The longest one the page asks for (the store keeps two years at most). */
export const MAX_SPAN_S = 2 * 366 * 86_400;

const isPreset = (value: string | null): value is Preset => value !== null && Object.hasOwn(PRESETS, value);

function unixSeconds(raw: string | null): number | null {
  if (raw === null || !/^\d{1,12}(\.\d+)?$/.test(raw.trim())) return null;
  const value = Number(raw);
  return Number.isFinite(value) ? value : null;
}

/** The range a URL's query string asks for; anything it cannot read is live. */
export function parseRange(search: string): TimeRange {
  const params = new URLSearchParams(search);
  const preset = params.get('range');
  if (isPreset(preset)) return { kind: 'preset', preset };
  const from = unixSeconds(params.get('from'));
  const to = unixSeconds(params.get('to'));
  if (from !== null && to !== null && to - from >= MIN_SPAN_S && to - from <= MAX_SPAN_S) {
    return { kind: 'custom', from, to };
  }
  return LIVE;
}

/** The query string for `range`, keeping any other parameter of `search`. "" for live without others. */
export function rangeSearch(range: TimeRange, search = ''): string {
  const params = new URLSearchParams(search);
  params.delete('range');
  params.delete('from');
  params.delete('to');
  if (range.kind === 'preset') params.set('range', range.preset);
  if (range.kind === 'custom') {
    params.set('from', String(Math.floor(range.from)));
    params.set('to', String(Math.ceil(range.to)));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

export function sameRange(a: TimeRange, b: TimeRange): boolean {
  return rangeSearch(a) === rangeSearch(b);
}

/** [from, to] in Unix seconds; a preset ends at `nowMs`. Live has none. */
export function resolveRange(range: TimeRange, nowMs: number): { from: number; to: number } | null {
  if (range.kind === 'live') return null;
  if (range.kind === 'custom') return { from: range.from, to: range.to };
  const to = Math.floor(nowMs / 1000);
  return { from: to - PRESETS[range.preset], to };
}

/** "1 h", "24 h", "7 d" */
export function presetLabel(preset: Preset): string {
  return preset.replace(/(\d+)([hd])/, '$1 $2');
}

/** "1 hour", "7 days": for screen readers. */
export function presetWords(preset: Preset): string {
  const [, n, unit] = /^(\d+)([hd])$/.exec(preset)!;
  const word = unit === 'h' ? 'hour' : 'day';
  return `${n} ${word}${n === '1' ? '' : 's'}`;
}

const dateTime = (withYear: boolean) =>
  new Intl.DateTimeFormat(undefined, {
    month: 'short',
    day: 'numeric',
    ...(withYear ? { year: 'numeric' } : {}),
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });

/** "Dec 1, 21:00" (the year only when it is not this year's). */
export function formatMoment(unixS: number, nowMs = Date.now()): string {
  const withYear = new Date(unixS * 1000).getFullYear() !== new Date(nowMs).getFullYear();
  return dateTime(withYear).format(new Date(unixS * 1000));
}

/** "3 h 20 min", "2 d 5 h", "45 s" */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** What a person reads (and hears) for a range: "live", "the last 24 hours", "Dec 1, 21:00 to Dec 2, 03:00". */
export function describeRange(range: TimeRange, nowMs = Date.now()): string {
  if (range.kind === 'live') return 'live';
  if (range.kind === 'preset') return `the last ${presetWords(range.preset)}`;
  return `${formatMoment(range.from, nowMs)} to ${formatMoment(range.to, nowMs)}`;
}

/** `<input type="datetime-local">` value ("2026-12-02T21:05") for Unix seconds, in local time. */
export function toLocalInput(unixS: number): string {
  const d = new Date(unixS * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Unix seconds for a datetime-local value (local time); null when it is not one. */
export function fromLocalInput(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, Number.isNaN(s) ? 0 : s);
  if (date.getMonth() !== mo - 1 || date.getDate() !== d) return null; // Feb 31
  return Math.floor(date.getTime() / 1000);
}

/** A custom range from two datetime-local values, or what is wrong with them. */
export function validateCustom(
  fromValue: string,
  toValue: string,
  nowMs = Date.now(),
): { ok: true; range: TimeRange } | { ok: false; field: 'from' | 'to'; error: string } {
  const from = fromLocalInput(fromValue);
  const to = fromLocalInput(toValue);
  if (from === null) return { ok: false, field: 'from', error: 'Enter a start date and time.' };
  if (to === null) return { ok: false, field: 'to', error: 'Enter an end date and time.' };
  const now = Math.floor(nowMs / 1000);
  if (from >= now) return { ok: false, field: 'from', error: 'The start must be in the past.' };
  if (to <= from) return { ok: false, field: 'to', error: 'The end must be after the start.' };
  const end = Math.min(to, now);
  if (end - from < MIN_SPAN_S) return { ok: false, field: 'to', error: 'Choose at least one minute.' };
  if (end - from > MAX_SPAN_S) return { ok: false, field: 'from', error: 'Choose at most two years.' };
  return { ok: true, range: { kind: 'custom', from, to: end } };
}

// ---- the view --------------------------------------------------------------

/**
 * What the page shows, beside the range: the GPUs (live or their history), the
 * usage (who used them), the events, or the fleet (every host Prometheus
 * knows; fleet mode only). `?view=usage`; nothing for the GPUs.
 */
export const VIEWS = ['gpus', 'usage', 'events', 'fleet'] as const;
export type View = (typeof VIEWS)[number];

/** The view a URL's query string asks for; anything it cannot read is the GPUs. */
export function parseView(search: string): View {
  const value = new URLSearchParams(search).get('view');
  return (VIEWS as readonly string[]).includes(value ?? '') ? (value as View) : 'gpus';
}

/** The query string for `view`, keeping any other parameter of `search` (the range). */
export function viewSearch(view: View, search = ''): string {
  const params = new URLSearchParams(search);
  params.delete('view');
  if (view !== 'gpus') params.set('view', view);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The span the usage view counts for a range: live has none of its own, so it is the last 24 hours. */
export const USAGE_LIVE_RANGE: TimeRange = { kind: 'preset', preset: '24h' };
export function usageRange(range: TimeRange): TimeRange {
  return range.kind === 'live' ? USAGE_LIVE_RANGE : range;
}
