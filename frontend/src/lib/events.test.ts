import { describe, expect, it } from 'vitest';
import { at, eventRecord } from '../test/events';
import { T0 } from '../test/payloads';
import {
  bySeverity,
  eventDuration,
  eventGpu,
  eventTitle,
  eventWho,
  groupByDay,
  isNews,
  mergeEvents,
  relativeTime,
} from './events';

describe('event words', () => {
  it('titles each kind, with its number where it has one', () => {
    expect(eventTitle({ kind: 'idleHolding', value: 40 })).toBe('Idle but holding 40 GiB');
    expect(eventTitle({ kind: 'idleHolding', value: 2.5 })).toBe('Idle but holding 2.5 GiB');
    expect(eventTitle({ kind: 'idleHolding', value: null })).toBe('Idle but holding memory');
    expect(eventTitle({ kind: 'unownedMemory', value: 20 })).toBe('Memory nobody owns');
    expect(eventTitle({ kind: 'xid', value: 79 })).toBe('XID 79');
    expect(eventTitle({ kind: 'gpuLost', value: null })).toBe('GPU lost');
    expect(eventTitle({ kind: 'eccErrors', value: 3 })).toBe('ECC errors');
  });

  it('says the GPU and who, leaving out what is unknown', () => {
    const e = eventRecord();
    expect(eventGpu(e)).toBe('GPU 1 · H100 80GB HBM3');
    expect(eventWho(e)).toEqual(['alice', 'python3', 'pid 4242', 'container 3f2a9c1b7d4e']);
    expect(eventGpu({ gpu: null, gpuIndex: null, gpuName: null })).toBeNull();
    expect(eventWho({ user: null, process: null, pid: null, container: null })).toEqual([]);
  });

  it('tells ongoing, ended and instant apart', () => {
    expect(eventDuration(at(0))).toBe('ongoing');
    expect(eventDuration(at(0, 28 * 60_000))).toBe('28 min');
    expect(eventDuration(at(0, 0))).toBeNull();
    expect(isNews(at(0))).toBe(true);
    expect(isNews(at(0, 0))).toBe(true);
    expect(isNews(at(0, 1000))).toBe(false);
    expect(relativeTime(T0, T0 + 10_000)).toBe('just now');
    expect(relativeTime(T0, T0 + 12 * 60_000)).toBe('12 min ago');
  });

  it('orders the most severe first, then the newest', () => {
    const list = [
      eventRecord({ id: 'w-old', severity: 'warning', ...at(0) }),
      eventRecord({ id: 'i', severity: 'info', ...at(5000) }),
      eventRecord({ id: 'c', severity: 'critical', ...at(0) }),
      eventRecord({ id: 'w-new', severity: 'warning', ...at(9000) }),
    ];
    expect(list.sort(bySeverity).map((e) => e.id)).toEqual(['c', 'w-new', 'w-old', 'i']);
  });
});

describe('mergeEvents', () => {
  const stored = [eventRecord({ id: 'b', ...at(5000) }), eventRecord({ id: 'a', ...at(1000) })];

  it('keeps one row per id, the stream winning, newest first', () => {
    const ended = eventRecord({ id: 'b', ...at(5000, 9000) });
    const fresh = eventRecord({ id: 'c', ...at(20_000) });
    const merged = mergeEvents(stored, [ended, fresh], { complete: true });
    expect(merged.map((e) => e.id)).toEqual(['c', 'b', 'a']);
    expect(merged[1]!.end).toBe(ended.end);
  });

  it('leaves out a live event older than the pages loaded while older pages remain', () => {
    const old = eventRecord({ id: 'z', ...at(0) });
    expect(mergeEvents(stored, [old], { complete: false }).map((e) => e.id)).toEqual(['b', 'a']);
    expect(mergeEvents(stored, [old], { complete: true }).map((e) => e.id)).toEqual(['b', 'a', 'z']);
  });
});

describe('groupByDay', () => {
  it('groups by local day, today and yesterday by name', () => {
    const now = new Date(2026, 11, 2, 15, 0).getTime();
    const e = (id: string, d: Date) => eventRecord({ id, start: d.toISOString() });
    const groups = groupByDay(
      [
        e('t2', new Date(2026, 11, 2, 14, 0)),
        e('t1', new Date(2026, 11, 2, 1, 0)),
        e('y', new Date(2026, 11, 1, 23, 0)),
        e('o', new Date(2026, 10, 28, 9, 0)),
      ],
      now,
    );
    expect(groups.map((g) => [g.label, g.events.map((x) => x.id)])).toEqual([
      ['Today', ['t2', 't1']],
      ['Yesterday', ['y']],
      [expect.stringMatching(/Nov.*28|28.*Nov/), ['o']],
    ]);
  });
});
