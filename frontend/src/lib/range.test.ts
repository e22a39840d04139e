import { describe, expect, it } from 'vitest';
import {
  LIVE,
  describeRange,
  formatSpan,
  fromLocalInput,
  parseRange,
  rangeSearch,
  resolveRange,
  sameRange,
  toLocalInput,
  validateCustom,
} from './range';

describe('the range in the URL', () => {
  it('reads presets, custom spans in Unix seconds, and live for anything else', () => {
    expect(parseRange('')).toEqual(LIVE);
    expect(parseRange('?range=24h')).toEqual({ kind: 'preset', preset: '24h' });
    expect(parseRange('?range=30d&x=1')).toEqual({ kind: 'preset', preset: '30d' });
    expect(parseRange('?from=1796000000&to=1796086400')).toEqual({ kind: 'custom', from: 1796000000, to: 1796086400 });
    expect(parseRange('?from=1796000000.5&to=1796086400')).toEqual({ kind: 'custom', from: 1796000000.5, to: 1796086400 });
    for (const bad of [
      '?range=2h',
      '?range=',
      '?from=abc&to=1796086400',
      '?from=1796086400&to=1796000000', // backwards
      '?from=1796000000&to=1796000030', // under a minute
      '?from=1796000000',
      '?from=-5&to=100',
      '?from=1e9&to=2e9',
      '?from=0&to=1796000000', // over two years
    ]) {
      expect(parseRange(bad), bad).toEqual(LIVE);
    }
  });

  it('writes them back, keeping other parameters, and nothing at all for live', () => {
    expect(rangeSearch(LIVE)).toBe('');
    expect(rangeSearch(LIVE, '?range=24h')).toBe('');
    expect(rangeSearch({ kind: 'preset', preset: '7d' }, '?from=1&to=2&debug=1')).toBe('?debug=1&range=7d');
    expect(rangeSearch({ kind: 'custom', from: 1796000000.4, to: 1796086400.2 })).toBe('?from=1796000000&to=1796086401');
    for (const search of ['?range=1h', '?from=1796000000&to=1796086400']) {
      expect(rangeSearch(parseRange(search))).toBe(search);
    }
    expect(sameRange({ kind: 'preset', preset: '1h' }, parseRange('?range=1h'))).toBe(true);
    expect(sameRange(LIVE, parseRange('?range=1h'))).toBe(false);
  });

  it('resolves a preset to a span ending now', () => {
    const now = 1_796_200_000_500;
    expect(resolveRange({ kind: 'preset', preset: '24h' }, now)).toEqual({ from: 1_796_200_000 - 86_400, to: 1_796_200_000 });
    expect(resolveRange({ kind: 'custom', from: 5, to: 500 }, now)).toEqual({ from: 5, to: 500 });
    expect(resolveRange(LIVE, now)).toBeNull();
  });

  it('describes ranges and spans in words', () => {
    expect(describeRange(LIVE)).toBe('live');
    expect(describeRange({ kind: 'preset', preset: '1h' })).toBe('the last 1 hour');
    expect(describeRange({ kind: 'preset', preset: '7d' })).toBe('the last 7 days');
    expect(describeRange({ kind: 'custom', from: 1796000000, to: 1796086400 })).toMatch(/ to /);
    expect([formatSpan(30), formatSpan(120), formatSpan(3600), formatSpan(5 * 3600 + 1200), formatSpan(3 * 86400)]).toEqual([
      '30 s',
      '2 min',
      '1 h',
      '5 h 20 min',
      '3 d',
    ]);
  });
});

describe('the custom range form', () => {
  const now = new Date(2026, 11, 2, 21, 0).getTime();

  it('round-trips datetime-local values in local time', () => {
    const t = Math.floor(new Date(2026, 11, 1, 9, 30).getTime() / 1000);
    expect(toLocalInput(t)).toBe('2026-12-01T09:30');
    expect(fromLocalInput('2026-12-01T09:30')).toBe(t);
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('2026-02-31T10:00')).toBeNull();
  });

  it('accepts a span in the past and cuts an end in the future to now', () => {
    const ok = validateCustom('2026-12-01T09:00', '2026-12-01T15:00', now);
    expect(ok.ok && ok.range).toEqual({
      kind: 'custom',
      from: new Date(2026, 11, 1, 9).getTime() / 1000,
      to: new Date(2026, 11, 1, 15).getTime() / 1000,
    });
    const cut = validateCustom('2026-12-02T20:00', '2026-12-03T08:00', now);
    expect(cut.ok && cut.range).toMatchObject({ to: now / 1000 });
  });

  it('says which field is wrong and why', () => {
    expect(validateCustom('', '2026-12-01T15:00', now)).toEqual({ ok: false, field: 'from', error: 'Enter a start date and time.' });
    expect(validateCustom('2026-12-01T09:00', '', now)).toMatchObject({ field: 'to' });
    expect(validateCustom('2026-12-01T15:00', '2026-12-01T09:00', now)).toEqual({
      ok: false,
      field: 'to',
      error: 'The end must be after the start.',
    });
    expect(validateCustom('2026-12-03T09:00', '2026-12-04T09:00', now)).toMatchObject({ field: 'from', error: 'The start must be in the past.' });
    expect(validateCustom('2026-12-01T09:00', '2026-12-01T09:00', now)).toMatchObject({ field: 'to' });
    expect(validateCustom('2020-01-01T09:00', '2026-12-01T09:00', now)).toMatchObject({ error: 'Choose at most two years.' });
  });
});
