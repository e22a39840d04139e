/**
 * The cost budget from the UI brief, measured rather than assumed: 8 GPUs
 * updating 4 times a second at 1440×900 must keep the main thread ≤ 15 % busy
 * and ≥ 55 frames per second. The page is the production build served by the
 * real backend, streaming over a real WebSocket an 8-GPU recording built from
 * the shipped H100 demo (recording.ts), since the demo itself has 2 GPUs.
 */
import { expect, test } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Backend, FRONTEND, freePort } from './backend';
import { PageGuard } from './guards';
import { writeMultiGpuRecording } from './recording';

const GPUS = Number(process.env.BENCH_GPUS ?? 8);
const RATE_HZ = Number(process.env.BENCH_RATE ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MAX_BUSY = Number(process.env.BENCH_MAX_BUSY ?? 0.15);
const MIN_FPS = Number(process.env.BENCH_MIN_FPS ?? 55);

let backend: Backend;
test.beforeAll(async () => {
  const recording = writeMultiGpuRecording(resolve(FRONTEND, `test-results/replay-${GPUS}gpu.jsonl`), GPUS);
  backend = new Backend(await freePort(), {
    REPLAY_FILE: recording,
    POLL_INTERVAL_MS: String(Math.round(1000 / RATE_HZ)),
  });
  await backend.start();
});
test.afterAll(async () => backend?.kill('SIGTERM'));

type Metrics = Record<string, number>;

test(`${GPUS} GPUs at ${RATE_HZ} updates/s stay within the main-thread budget`, async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  // Let the backend fill its backfill ring, as on a server that has been up a while.
  await page.waitForTimeout(3000);
  const started = Date.now();
  await page.goto(backend.url);
  await expect(page.getByTestId('gpu-card')).toHaveCount(GPUS);
  const firstNumbersMs = Date.now() - started;
  await page.waitForTimeout(2000); // entrance animations and fonts settle

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
  const read = async (): Promise<Metrics> =>
    Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));

  if (process.env.BENCH_TRACE) {
    // A Chrome trace to open in DevTools' Performance panel.
    const browser = page.context().browser()!;
    await browser.startTracing(page, { path: process.env.BENCH_TRACE, screenshots: false });
    await page.waitForTimeout(5000);
    await browser.stopTracing();
  }

  // Long tasks over the whole run.
  await page.evaluate(() => {
    const w = window as unknown as { __long: number[] };
    w.__long = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(e.duration);
    }).observe({ type: 'longtask' });
  });

  // Phase 1: main-thread busy time, with nothing else running in the page.
  const a0 = await read();
  await page.waitForTimeout(SECONDS * 1000);
  const a1 = await read();

  // Phase 2: frames per second, counted with a requestAnimationFrame loop
  // (which itself makes the browser produce every frame).
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number; __stop: boolean };
    w.__frames = 0;
    w.__stop = false;
    const tick = () => {
      w.__frames += 1;
      if (!w.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const b0 = await read();
  await page.waitForTimeout(5000);
  const b1 = await read();
  const counted = await page.evaluate(() => {
    const w = window as unknown as { __frames: number; __long: number[]; __stop: boolean };
    w.__stop = true;
    return { frames: w.__frames, long: w.__long };
  });

  const share = (x: Metrics, y: Metrics, k: string) =>
    Number((((y[k] ?? 0) - (x[k] ?? 0)) / (y.Timestamp! - x.Timestamp!)).toFixed(3));
  const result = {
    gpus: GPUS,
    rateHz: RATE_HZ,
    viewport: '1440x900',
    mainThreadBusy: share(a0, a1, 'TaskDuration'),
    scriptShare: share(a0, a1, 'ScriptDuration'),
    layoutShare: share(a0, a1, 'LayoutDuration'),
    styleShare: share(a0, a1, 'RecalcStyleDuration'),
    fps: Number((counted.frames / (b1.Timestamp! - b0.Timestamp!)).toFixed(1)),
    mainThreadBusyWhileCountingFrames: share(b0, b1, 'TaskDuration'),
    longTasks: counted.long.length,
    longestTaskMs: Math.round(Math.max(0, ...counted.long)),
    firstNumbersMs,
    heapMB: Number(((a1.JSHeapUsedSize ?? 0) / 1e6).toFixed(1)),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(resolve(FRONTEND, 'test-results'), { recursive: true });
  writeFileSync(resolve(FRONTEND, 'test-results/bench.json'), JSON.stringify(result, null, 2));

  expect(await guard.check(page)).toEqual([]);
  expect(result.mainThreadBusy).toBeLessThanOrEqual(MAX_BUSY);
  expect(result.fps).toBeGreaterThanOrEqual(MIN_FPS);
});
