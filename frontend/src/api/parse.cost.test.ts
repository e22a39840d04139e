// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { helloMsg, telemetryMsg } from '../test/payloads';
import { parseMessage } from './parse';

/**
 * Telemetry arrives up to 5 times a second with 8 GPUs: what one frame costs
 * to parse and validate. Measured on the dev machine (2 cores, Node 20):
 * ≈ 18 µs per frame, of which JSON.parse alone is ≈ 14 µs. The bound below
 * only catches a validator gone badly wrong (say 10× slower), not noise.
 */
describe('parseMessage cost', () => {
  const eightGpus = telemetryMsg(1, (t) => {
    t.gpus = Array.from({ length: 8 }, (_, i) => ({ ...t.gpus[1]!, id: i, uuid: `GPU-${i}` }));
  });
  const frame = JSON.stringify(eightGpus);

  const perCall = (fn: () => unknown, n: number, warmUp = 500): number => {
    for (let i = 0; i < warmUp; i++) fn(); // let the JIT settle first
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - start) / n) * 1000;
  };

  it('stays far below a millisecond for an 8-GPU telemetry frame', () => {
    expect(parseMessage(frame).ok).toBe(true);
    const total = perCall(() => parseMessage(frame), 3000);
    const json = perCall(() => JSON.parse(frame), 3000);
    console.info(
      `parseMessage, 8-GPU telemetry (${frame.length} B): ${total.toFixed(1)} µs/frame ` +
        `(JSON.parse alone ${json.toFixed(1)} µs)`,
    );
    expect(total).toBeLessThan(500);
  });

  it('handles a full hello backfill (120 samples × 8 GPUs) in a few milliseconds', () => {
    const hello = JSON.stringify(helloMsg(Array.from({ length: 120 }, (_, i) => ({ ...eightGpus, seq: i + 1 }))));
    expect(parseMessage(hello).ok).toBe(true);
    expect(perCall(() => parseMessage(hello), 10, 5) / 1000).toBeLessThan(100);
  });
});
