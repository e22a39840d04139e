import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseView, viewSearch } from '../lib/range';
import { useRange } from './useRange';
import { useView } from './useView';

beforeEach(() => window.history.replaceState(null, '', '/'));
afterEach(() => window.history.replaceState(null, '', '/'));

describe('parseView / viewSearch', () => {
  it('reads gpus, usage and events; anything else is the GPUs', () => {
    expect(parseView('')).toBe('gpus');
    expect(parseView('?view=usage')).toBe('usage');
    expect(parseView('?range=7d&view=events')).toBe('events');
    expect(parseView('?view=nope')).toBe('gpus');
    expect(parseView('?view=')).toBe('gpus');
  });

  it('keeps the range beside the view, and writes nothing for the GPUs', () => {
    expect(viewSearch('usage', '?range=7d')).toBe('?range=7d&view=usage');
    expect(viewSearch('gpus', '?range=7d&view=usage')).toBe('?range=7d');
    expect(viewSearch('gpus', '?view=events')).toBe('');
  });
});

describe('useView', () => {
  it('opens on the view of the link', () => {
    window.history.replaceState(null, '', '/?view=usage&range=30d');
    const { result } = renderHook(() => useView());
    expect(result.current[0]).toBe('usage');
  });

  it('keeps the view in the URL: each choice is a history entry, back and forward walk through them', async () => {
    const { result } = renderHook(() => ({ view: useView(), range: useRange() }));
    expect(result.current.view[0]).toBe('gpus');
    act(() => result.current.view[1]('usage'));
    expect(window.location.search).toBe('?view=usage');
    expect(result.current.view[0]).toBe('usage');
    // A range chosen in the usage view keeps the view, and the other way round.
    act(() => result.current.range[1]({ kind: 'preset', preset: '7d' }));
    expect(window.location.search).toBe('?view=usage&range=7d');
    act(() => result.current.view[1]('events'));
    expect(window.location.search).toBe('?range=7d&view=events');
    expect(result.current.range[0]).toEqual({ kind: 'preset', preset: '7d' });
    const before = window.history.length;
    act(() => result.current.view[1]('events')); // the same view: no new entry
    expect(window.history.length).toBe(before);

    act(() => window.history.back());
    await waitFor(() => expect(result.current.view[0]).toBe('usage'));
    expect(result.current.range[0]).toEqual({ kind: 'preset', preset: '7d' });
    act(() => window.history.back());
    await waitFor(() => expect(result.current.range[0]).toEqual({ kind: 'live' }));
    expect(result.current.view[0]).toBe('usage');
    act(() => window.history.back());
    await waitFor(() => expect(result.current.view[0]).toBe('gpus'));
    act(() => window.history.forward());
    await waitFor(() => expect(result.current.view[0]).toBe('usage'));
  });
});
