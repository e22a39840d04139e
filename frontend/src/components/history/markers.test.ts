import { describe, expect, it } from 'vitest';
import type { Event as LensEvent } from '../../api/types';
import { cardMarkers, markerAt } from './markers';

const T = Date.UTC(2026, 11, 2, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const ev = (id: string, patch: Partial<LensEvent> = {}): LensEvent => ({
  id,
  kind: 'idleHolding',
  severity: 'warning',
  start: iso(T + 10 * 60_000),
  end: null,
  gpu: 'GPU-a',
  gpuIndex: 0,
  gpuName: 'H100',
  pid: 42,
  process: 'python',
  user: 'alice',
  container: null,
  summary: 'python holds 40 GiB at 0 % SM',
  action: 'Stop it.',
  value: 40,
  ...patch,
});
const CARDS = [
  { key: 'GPU-a', index: 0 },
  { key: 'GPU-b', index: 1 },
];
const FROM = T;
const TO = T + 3_600_000;

describe('cardMarkers', () => {
  it('runs an ongoing finding to the end of the range, clips one that began before it, and keeps an instant a line', () => {
    const m = cardMarkers(
      [
        ev('open'),
        ev('early', { start: iso(T - 600_000), end: iso(T + 300_000), severity: 'critical', kind: 'hot' }),
        ev('lost', { kind: 'gpuLost', start: iso(T + 1_200_000), end: iso(T + 1_200_000) }),
      ],
      CARDS,
      FROM,
      TO,
    ).get('GPU-a')!;
    const byId = Object.fromEntries(m.map((x) => [x.id, x]));
    expect(byId.open).toMatchObject({ fromMs: T + 600_000, toMs: TO, ongoing: true });
    expect(byId.early).toMatchObject({ fromMs: FROM, toMs: T + 300_000, ongoing: false });
    expect(byId.lost).toMatchObject({ fromMs: T + 1_200_000, toMs: null });
    expect(byId.open!.label).toMatch(/^Idle but holding 40 GiB \(warning\), \d\d:\d\d–ongoing: python holds 40 GiB at 0 % SM$/);
    // The critical one is drawn last (on top).
    expect(m.at(-1)!.id).toBe('early');
  });

  it('puts a GPU\'s events on its card only, one known by index on the card of that index, the host\'s on every card', () => {
    const m = cardMarkers(
      [
        ev('a'),
        ev('by-index', { gpu: 'index:1', gpuIndex: 1 }),
        ev('host', { kind: 'provider', gpu: null, gpuIndex: null, start: iso(T + 60_000), end: iso(T + 60_000) }),
        ev('elsewhere', { gpu: 'GPU-zzz', gpuIndex: 7 }),
        ev('outside', { start: iso(TO + 60_000) }),
        ev('broken', { start: 'yesterday' }),
      ],
      CARDS,
      FROM,
      TO,
    );
    expect(m.get('GPU-a')!.map((x) => x.id).sort()).toEqual(['a', 'host']);
    expect(m.get('GPU-b')!.map((x) => x.id).sort()).toEqual(['by-index', 'host']);
  });

  it('draws one marker per episode (the record with its end), none without events', () => {
    const m = cardMarkers([ev('x'), ev('x', { end: iso(T + 900_000) })], CARDS, FROM, TO).get('GPU-a')!;
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ toMs: T + 900_000, ongoing: false });
    expect(cardMarkers(null, CARDS, FROM, TO).size).toBe(0);
    expect(cardMarkers([], CARDS, FROM, TO).size).toBe(0);
  });

  it('finds the marker under the pointer: inside a span, or near a line', () => {
    const m = cardMarkers([ev('span'), ev('line', { kind: 'xid', start: iso(T + 120_000), end: iso(T + 120_000) })], CARDS, FROM, TO).get('GPU-a')!;
    expect(markerAt(m, T + 700_000, 60_000)?.id).toBe('span');
    expect(markerAt(m, T + 150_000, 60_000)?.id).toBe('line');
    expect(markerAt(m, T + 400_000, 60_000)).toBeNull();
  });
});
