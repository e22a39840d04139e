import { expect, test, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Backend, freePort, REPO } from './backend';
import { PageGuard } from './guards';

/**
 * The past view against the real backend: a store seeded with a week of the
 * demo's two GPUs and a 5-hour gap two days ago (bench/history.py --seed), the
 * replay provider streaming live on top of it.
 */
const SHOTS = resolve(REPO, 'docs/screenshots');
const GAP_HOURS = 5;

test.describe.configure({ mode: 'serial' });

let backend: Backend;
let dir: string;
let gap: [number, number];

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpulens-history-'));
  const out = execFileSync(
    resolve(REPO, '.venv/bin/python'),
    ['bench/history.py', '--seed', dir, '--days', '7', '--gap-hours', String(GAP_HOURS)],
    { cwd: REPO, encoding: 'utf8', timeout: 120_000 },
  );
  gap = (JSON.parse(out) as { gap: [number, number] }).gap;
  backend = new Backend(await freePort(), { HISTORY_PATH: join(dir, 'history.db') });
  await backend.start();
  mkdirSync(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await backend?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rangeButton = (page: Page, id: string) => page.getByTestId('range-control').locator(`[data-range="${id}"]`);
const historyCards = (page: Page) => page.getByTestId('history-card');
const search = (page: Page) => new URL(page.url()).search;

/** The past view is on screen with both GPUs and a chart of each metric with data. */
async function expectCharts(page: Page): Promise<void> {
  await expect(page.getByTestId('history-view')).toHaveAttribute('data-state', 'ok');
  await expect(historyCards(page)).toHaveCount(2);
  const charts = page.getByTestId('history-chart');
  await expect(charts).toHaveCount(8);
  for (const chart of await charts.all()) {
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(100);
    await expect(chart.locator('.history-mean path').first()).toHaveAttribute('d', /^M[\d.]+,[\d.]+L/);
    await expect(chart.locator('.history-band path').first()).toHaveAttribute('d', /Z/);
  }
}

/**
 * For one chart: each run of the mean line (an "M…" subpath) and the shaded
 * gaps, as x ranges in the chart's own pixels.
 */
async function runsAndGaps(chart: Locator): Promise<{ runs: [number, number][]; gaps: [number, number][] }> {
  return chart.evaluate((el) => {
    const xs = (d: string) => [...d.matchAll(/[ML]\s*(-?[\d.]+)[ ,](-?[\d.]+)/g)].map((m) => Number(m[1]));
    const span = (values: number[]): [number, number] => [Math.min(...values), Math.max(...values)];
    const line = el.querySelector('.history-mean path')?.getAttribute('d') ?? '';
    const runs = line
      .split('M')
      .filter(Boolean)
      .map((part) => span(xs(`M${part}`)));
    const gaps = [...el.querySelectorAll('.history-gap')].map((g) => {
      const box = (g as SVGGraphicsElement).getBBox();
      return [box.x, box.x + box.width] as [number, number];
    });
    return { runs, gaps };
  });
}

test('desktop: 24 h and 7 d of the past, the gap drawn as a gap, a shared crosshair, drag to zoom, back to live', async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  const chunks: string[] = [];
  page.on('request', (r) => {
    if (r.resourceType() === 'script') chunks.push(new URL(r.url()).pathname);
  });
  await page.goto(backend.url);
  await expect(page.getByTestId('gpu-card')).toHaveCount(2);
  await expect(rangeButton(page, 'live')).toHaveAttribute('aria-pressed', 'true');
  // The live view does not download the history's code (Recharts, its validator)...
  expect(chunks.some((c) => /HistoryPage/.test(c))).toBe(false);
  // ...until the pointer comes over the range control: then it starts, ahead of the click.
  await rangeButton(page, '1h').hover();
  await expect.poll(() => chunks.some((c) => /HistoryPage/.test(c))).toBe(true);
  await expect(rangeButton(page, 'live')).toHaveAttribute('aria-pressed', 'true');

  // 24 h
  await rangeButton(page, '24h').click();
  expect(search(page)).toBe('?range=24h');
  await expect(rangeButton(page, '24h')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('range-announcer')).toHaveText('Showing the history: the last 24 hours.');
  await expectCharts(page);
  expect(chunks.some((c) => /HistoryPage/.test(c))).toBe(true);
  await expect(page.getByTestId('gpu-card')).toHaveCount(0);
  await expect(page.getByTestId('history-gaps')).toHaveCount(0); // the gap is two days ago
  await expect(page.getByRole('img', { name: /^GPU 0 utilization, the last 24 hours: mean \d+ %, max \d+ %/ })).toBeVisible();

  // The crosshair: pointing at one chart shows that moment's values on all eight.
  const overlay = page.getByTestId('chart-overlay').first();
  const box = (await overlay.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.62, box.y + box.height / 2);
  const readouts = page.getByTestId('chart-readout');
  await expect(readouts.first()).toHaveText(/^\w{3}, .*\d\d:\d\d/);
  const moment = (await readouts.first().textContent())!.replace(/\d\d:\d\d.*$/, '');
  for (const r of await readouts.all()) await expect(r).toContainText(moment);
  await page.screenshot({ path: resolve(SHOTS, 'history-24h-desktop.png') });
  await page.mouse.move(5, 5);

  // 7 d: the 5-hour gap two days ago is a gap in every chart, where it should be, never bridged.
  await rangeButton(page, '7d').click();
  expect(search(page)).toBe('?range=7d');
  await expectCharts(page);
  await expect(page.getByTestId('history-span')).toContainText('one point per 20 min');
  const utilization = page.getByTestId('history-chart').first();
  for (const chart of await page.getByTestId('history-chart').all()) {
    expect(Number(await chart.getAttribute('data-gaps'))).toBeGreaterThanOrEqual(1);
  }
  const { runs, gaps } = await runsAndGaps(utilization);
  expect(runs.length).toBeGreaterThanOrEqual(2);
  expect(gaps.length).toBeGreaterThanOrEqual(1);
  // The seeded gap: find the shaded span nearest where it should be (its share of the week).
  const plot = (await utilization.getByTestId('chart-overlay').boundingBox())!;
  const svg = (await utilization.locator('svg.recharts-surface').boundingBox())!;
  const grid = page.getByTestId('history-grid');
  const view = { from: Number(await grid.getAttribute('data-from')), to: Number(await grid.getAttribute('data-to')) };
  const xAt = (t: number) => plot.x - svg.x + ((t - view.from) / (view.to - view.from)) * plot.width;
  const [g0, g1] = [xAt(gap[0]), xAt(gap[1])];
  const seeded = gaps.find(([a, b]) => Math.abs(a - g0) < 6 && Math.abs(b - g1) < 6);
  expect(seeded, `a shaded gap near ${g0.toFixed(1)}–${g1.toFixed(1)} px, got ${JSON.stringify(gaps)}`).toBeDefined();
  for (const [a, b] of runs) {
    // No run of the line starts before the gap and ends after it.
    expect(a < seeded![0] && b > seeded![1], `a line across the gap: ${a}–${b}`).toBe(false);
  }
  await expect(page.getByRole('img', { name: /^GPU 0 utilization, the last 7 days: .*one gap without data/ })).toBeVisible();
  await expect(page.getByTestId('history-gaps')).toContainText('Hatched: no data.');
  await page.screenshot({ path: resolve(SHOTS, 'history-7d-desktop.png') });

  // Export CSV: the range on screen, as a file.
  const href = (await page.getByTestId('export-csv').getAttribute('href'))!;
  expect(href).toMatch(/^\/api\/history\?gpu=gpus&from=[\d.]+&to=[\d.]+&metrics=utilization%2CmemoryUsed/);
  const csv = await page.request.get(`${backend.url}${href}`);
  expect(csv.status()).toBe(200);
  expect(csv.headers()['content-type']).toContain('text/csv');
  expect(csv.headers()['content-disposition']).toMatch(/attachment; filename="gpulens-history-\d+-\d+\.csv"/);
  expect((await csv.text()).split('\n')[0]).toBe('time,series,name,metric,unit,min,mean,max');

  // Drag across 30 %–60 % of a chart: the range becomes that span, in the URL.
  const o = (await page.getByTestId('chart-overlay').first().boundingBox())!;
  await page.mouse.move(o.x + o.width * 0.3, o.y + o.height / 2);
  await page.mouse.down();
  await page.mouse.move(o.x + o.width * 0.45, o.y + o.height / 2, { steps: 4 });
  await expect(page.getByTestId('zoom-selection')).toBeVisible();
  await page.mouse.move(o.x + o.width * 0.6, o.y + o.height / 2, { steps: 4 });
  await page.mouse.up();
  await expect.poll(() => search(page)).toMatch(/^\?from=\d+&to=\d+$/);
  const zoomed = new URLSearchParams(search(page));
  const zoomSpan = Number(zoomed.get('to')) - Number(zoomed.get('from'));
  expect(zoomSpan).toBeGreaterThan(0.27 * 7 * 86_400);
  expect(zoomSpan).toBeLessThan(0.33 * 7 * 86_400);
  await expect(rangeButton(page, 'custom')).toHaveAttribute('aria-pressed', 'true');
  await expectCharts(page);
  await expect(page.getByTestId('history-span')).not.toContainText('one point per 20 min');

  // Back returns to the week; Live is one click away and brings the live cards back.
  await page.goBack();
  await expect.poll(() => search(page)).toBe('?range=7d');
  await expect(rangeButton(page, '7d')).toHaveAttribute('aria-pressed', 'true');
  await expectCharts(page);
  await rangeButton(page, 'live').click();
  expect(search(page)).toBe('');
  await expect(page.getByTestId('gpu-card')).toHaveCount(2);
  await expect(page.getByTestId('history-view')).toHaveCount(0);
  await expect(page.getByTestId('range-announcer')).toHaveText('Showing live data.');
  expect(await guard.check(page)).toEqual([]);
});

for (const range of ['24h', '7d'] as const) {
  test(`mobile 375 px, reduced motion: ${range} opens from its link, one column, nothing wider than the screen`, async ({ page }) => {
    const guard = await PageGuard.install(page);
    await page.setViewportSize({ width: 375, height: 812 });
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await page.goto(`${backend.url}/?range=${range}`);
    await expect(rangeButton(page, range)).toHaveAttribute('aria-pressed', 'true');
    await expectCharts(page);
    const lefts = await historyCards(page).evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
    expect(new Set(lefts).size).toBe(1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // Every range button is on screen and big enough to tap.
    for (const b of await page.getByTestId('range-control').getByRole('button').all()) {
      const r = (await b.boundingBox())!;
      expect(r.x).toBeGreaterThanOrEqual(0);
      expect(r.x + r.width).toBeLessThanOrEqual(375);
      expect(r.height).toBeGreaterThanOrEqual(36);
      expect(r.width).toBeGreaterThanOrEqual(36);
    }
    await page.screenshot({ path: resolve(SHOTS, `history-${range}-mobile.png`) });
    expect(await guard.check(page)).toEqual([]);
  });
}

test('keyboard: the range control is one tab stop, arrows move, Enter chooses', async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(backend.url);
  await expect(page.getByTestId('gpu-card')).toHaveCount(2);
  await rangeButton(page, 'live').focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(rangeButton(page, '6h')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect.poll(() => search(page)).toBe('?range=6h');
  await expectCharts(page);
  await page.keyboard.press('Home');
  await page.keyboard.press('Space');
  await expect.poll(() => search(page)).toBe('');
  await expect(page.getByTestId('gpu-card')).toHaveCount(2);
  expect(await guard.check(page)).toEqual([]);
});

test('history off: the past view says so, live stays one click away', async ({ page }) => {
  const off = new Backend(await freePort(), { HISTORY: 'off' });
  await off.start();
  try {
    const guard = await PageGuard.install(page);
    // The browser logs the 404 of the fetch as a failed resource: expected here.
    guard.allow(/Failed to load resource: the server responded with a status of 404/);
    await page.goto(`${off.url}/?range=24h`);
    await expect(page.getByTestId('history-off')).toContainText('History is off');
    await expect(page.getByTestId('history-off')).toContainText('HISTORY=off');
    await page.getByTestId('history-off').getByRole('button', { name: 'Back to live' }).click();
    await expect(page.getByTestId('gpu-card')).toHaveCount(2);
    expect(await guard.check(page)).toEqual([]);
  } finally {
    await off.kill('SIGTERM');
  }
});
