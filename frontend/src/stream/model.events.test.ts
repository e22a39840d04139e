import { describe, expect, it } from 'vitest';
import { parseMessage } from '../api/parse';
import type { Message } from '../api/types';
import { at, eventMsg, eventRecord, findingsMsg, helloWithEvents } from '../test/events';
import { helloMsg, telemetryMsg } from '../test/payloads';
import { applyEvent, StreamModel } from './model';

const msg = (value: unknown): Message => {
  const r = parseMessage(JSON.stringify(value));
  if (!r.ok) throw new Error(r.error);
  return r.message;
};

const hot = eventRecord({ id: 'hot:1', kind: 'hot', severity: 'critical', ...at(0), value: 87 });
const idle = eventRecord({ id: 'idle:1', ...at(1000) });

describe('StreamModel: findings and events', () => {
  it('starts with none, and a hello without them (an older backend) leaves none', () => {
    const model = new StreamModel();
    expect(model.snapshot()).toMatchObject({ findings: [], events: [] });
    model.apply(msg(helloMsg([telemetryMsg(1)])), 0);
    const snap = model.snapshot();
    expect(snap.findings).toEqual([]);
    expect(snap.events).toEqual([]);
    expect(snap.helloEventIds.size).toBe(0);
  });

  it('takes the active findings and the recent events from the hello, filled in', () => {
    const model = new StreamModel();
    const sparse = { id: 'gpuAdded:0', kind: 'gpuAdded', severity: 'info', start: at(500).start, summary: 'GPU 0 added', action: 'Nothing to do.' };
    model.apply(msg({ ...helloWithEvents([hot], [hot, sparse]) }), 0);
    const snap = model.snapshot();
    expect(snap.findings).toEqual([hot]);
    expect(snap.events.map((e) => e.id)).toEqual(['hot:1', 'gpuAdded:0']);
    // Optional fields the frame left out are null, never undefined.
    expect(snap.events[1]).toMatchObject({ end: null, gpu: null, pid: null, user: null, value: null });
    expect([...snap.helloEventIds]).toEqual(['hot:1', 'gpuAdded:0']);
  });

  it('replaces the findings with each findings message; an empty one means all is well', () => {
    const model = new StreamModel();
    model.apply(msg(helloWithEvents([], [])), 0);
    model.apply(msg(findingsMsg([hot, idle])), 0);
    expect(model.snapshot().findings.map((f) => f.id)).toEqual(['hot:1', 'idle:1']);
    model.apply(msg(findingsMsg([idle])), 0);
    expect(model.snapshot().findings.map((f) => f.id)).toEqual(['idle:1']);
    model.apply(msg(findingsMsg([])), 0);
    expect(model.snapshot().findings).toEqual([]);
  });

  it('appends a started event and lets its end replace it in place (same id), oldest first', () => {
    const model = new StreamModel();
    model.apply(msg(helloWithEvents([], [hot])), 0);
    model.apply(msg(eventMsg(idle)), 0);
    const added = eventRecord({ id: 'gpuAdded:2', kind: 'gpuAdded', severity: 'info', ...at(2000, 2000) });
    model.apply(msg(eventMsg(added)), 0);
    const ended = { ...idle, end: at(0, 90_000).end };
    model.apply(msg(eventMsg(ended)), 0);
    const snap = model.snapshot();
    expect(snap.events.map((e) => e.id)).toEqual(['hot:1', 'idle:1', 'gpuAdded:2']);
    expect(snap.events[1]!.end).toBe(ended.end);
    // Events that came in the stream are not the hello's backfill.
    expect(snap.helloEventIds.has('idle:1')).toBe(false);
  });

  it('keeps the list capped, dropping the oldest', () => {
    const model = new StreamModel(120, 0, 5);
    model.apply(msg(helloWithEvents([], [hot])), 0);
    for (let i = 0; i < 8; i++) model.apply(msg(eventMsg(eventRecord({ id: `e${i}`, ...at(i * 1000) }))), 0);
    expect(model.snapshot().events.map((e) => e.id)).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
    // The default keeps a couple of hundred.
    let list = [hot];
    for (let i = 0; i < 300; i++) list = applyEvent(list, eventRecord({ id: `x${i}` }));
    expect(list).toHaveLength(200);
    expect(list[0]!.id).toBe('x100');
  });

  it('a new hello (a reconnect) replaces the events and findings whole', () => {
    const model = new StreamModel();
    model.apply(msg(helloWithEvents([hot], [hot])), 0);
    model.apply(msg(eventMsg(idle)), 0);
    model.apply(msg(helloWithEvents([], [idle])), 0);
    const snap = model.snapshot();
    expect(snap.findings).toEqual([]);
    expect(snap.events.map((e) => e.id)).toEqual(['idle:1']);
    expect([...snap.helloEventIds]).toEqual(['idle:1']);
  });

  it('keeps the identity of the lists while nothing about them changed', () => {
    const model = new StreamModel();
    model.apply(msg(helloWithEvents([hot], [hot], [telemetryMsg(1)])), 0);
    const a = model.snapshot();
    model.apply(msg(telemetryMsg(2)), 0);
    const b = model.snapshot();
    expect(b).not.toBe(a);
    expect(b.findings).toBe(a.findings);
    expect(b.events).toBe(a.events);
    model.apply(msg(eventMsg(idle)), 0);
    expect(model.snapshot().events).not.toBe(a.events);
    expect(model.snapshot().findings).toBe(a.findings);
  });
});
