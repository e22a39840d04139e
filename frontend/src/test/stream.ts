import { vi } from 'vitest';
import { parseMessage } from '../api/parse';
import { StreamModel } from '../stream/model';
import type { GpuStream } from '../api/view';

/** The state useGpuStream would expose after these server messages. */
export function streamFrom(messages: unknown[], extra: Partial<GpuStream> = {}): GpuStream {
  const model = new StreamModel();
  for (const message of messages) {
    const parsed = parseMessage(JSON.stringify(message));
    if (!parsed.ok) throw new Error(parsed.error);
    model.apply(parsed.message, Date.now());
  }
  const now = Date.now();
  return {
    ...model.snapshot(),
    connection: 'live',
    access: 'ok',
    lastMessageAt: now,
    lastSampleAt: now,
    failures: 0,
    nextRetryAt: null,
    invalidMessages: 0,
    lastInvalid: null,
    reconnectNow: vi.fn(),
    ...extra,
  };
}
