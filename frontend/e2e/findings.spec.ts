import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Backend, freePort, REPO } from './backend';
import { PageGuard } from './guards';

/**
 * Who used the GPUs, what is wasting them, what went wrong — against the real
 * backend: a store seeded with a week of the demo's two GPUs (their jobs through
 * the real accounting, their findings through the real detector, one XID a day
 * ago: bench/history.py --seed), and a replay in which a notebook holds 12 GiB
 * of GPU 1 at 0 % SM, so the live detector reports it within seconds.
 */
const SHOTS = resolve(REPO, 'docs/screenshots');
const HOLDER = { pid: 7001, name: 'python3', usedMemoryMiB: 12_288, user: 'erin', type: 'compute', smUtilization: 0, startTime: 1_764_700_000, container: null };

test.describe.configure({ mode: 'serial' });

let backend: Backend;
let dir: string;

/**
 * The shipped demo with the idle notebook added to GPU 1 in every frame (memory counted).
 * NVML reports an SM % for the processes that ran in the period: GPU 1's own jobs get
 * their share of its utilization, so only the notebook is idle.
 */
function idleHolderRecording(path: string): void {
  const demo = gunzipSync(readFileSync(resolve(REPO, 'src/gpulens/data/demo-h100x2.jsonl.gz'))).toString('utf8');
  const lines = demo
    .split('\n')
    .filter(Boolean)
    .map((line, i) => {
      const record = JSON.parse(line) as {
        gpus?: { id: number; utilization: number | null; memoryUsed: number | null; memoryFree: number | null; processes: { smUtilization: number | null }[] }[];
        description?: string;
      };
      if (i === 0) return JSON.stringify({ ...record, description: `${record.description ?? ''}; a notebook holds 12 GiB of GPU 1 at 0 % SM (browser tests)` });
      for (const gpu of record.gpus ?? []) {
        if (gpu.id !== 1) continue;
        const share = Math.round((gpu.utilization ?? 0) / Math.max(1, gpu.processes.length));
        for (const p of gpu.processes) p.smUtilization ??= share;
        gpu.processes = [...gpu.processes, HOLDER];
        if (gpu.memoryUsed !== null) gpu.memoryUsed += HOLDER.usedMemoryMiB;
        if (gpu.memoryFree !== null) gpu.memoryFree -= HOLDER.usedMemoryMiB;
      }
      return JSON.stringify(record);
    });
  writeFileSync(path, `${lines.join('\n')}\n`);
}

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpulens-findings-'));
  execFileSync(resolve(REPO, '.venv/bin/python'), ['bench/history.py', '--seed', dir, '--days', '7', '--gap-hours', '5'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 120_000,
  });
  idleHolderRecording(join(dir, 'idle-holder.jsonl'));
  backend = new Backend(await freePort(), {
    HISTORY_PATH: join(dir, 'history.db'),
    REPLAY_FILE: join(dir, 'idle-holder.jsonl'),
    IDLE_HOLDING_S: '2',
    FINDING_CLEAR_S: '120',
  });
  await backend.start();
  mkdirSync(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await backend?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(page: Page, width: number, search = ''): Promise<PageGuard> {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width, height: width < 640 ? 812 : 900 });
  await page.goto(`${backend.url}/${search}`);
  return guard;
}

for (const [label, width] of [
  ['desktop', 1440],
  ['mobile', 375],
] as const) {
  test(`${label}: the Findings strip names the idle holder, who and what to do`, async ({ page }) => {
    const guard = await open(page, width);
    await expect(page.getByTestId('gpu-card')).toHaveCount(2);
    const strip = page.getByTestId('findings-strip');
    await expect(strip).toBeVisible({ timeout: 15_000 });
    const card = strip.getByTestId('finding-card').filter({ hasText: 'Idle but holding' });
    await expect(card).toHaveCount(1);
    await expect(card).toHaveAttribute('data-severity', 'warning');
    await expect(card).toContainText('erin');
    await expect(card).toContainText('pid 7001');
    await expect(card).toContainText('GPU 1');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: resolve(SHOTS, `findings-${label}.png`) });
    expect(await guard.check(page)).toEqual([]);
  });

  test(`${label}: the Usage view shows the week's GPU-hours per user`, async ({ page }) => {
    const guard = await open(page, width, '?range=7d&view=usage');
    const view = page.getByTestId('usage-view');
    await expect(view).toHaveAttribute('data-state', 'ok', { timeout: 15_000 });
    const table = page.getByTestId('usage-table');
    const cell = async (user: string, column: number): Promise<number> => {
      const row = table.locator(`tr[data-key="${user}"]`);
      await expect(row).toHaveCount(1);
      return Number((await row.locator('td').nth(column).textContent())?.replace(/[^\d.]/g, ''));
    };
    // The four who ran jobs used the GPUs; erin's notebook only held memory (0 % SM).
    for (const user of ['alice', 'bob', 'carol', 'dmitri']) expect(await cell(user, 0), `${user}'s GPU-hours`).toBeGreaterThan(0);
    expect(await cell('erin', 0), "erin's GPU-hours").toBe(0);
    expect(await cell('erin', 1), "erin's GiB-hours").toBeGreaterThan(0);
    await expect(page.getByTestId('usage-chart')).toHaveCount(2); // GPU-hours and GiB-hours
    for (const chart of await page.getByTestId('usage-chart').all()) await expect(chart).toBeVisible();
    await expect(page.getByTestId('usage-hero')).toContainText(/GPU-hours/i);
    await expect(page.getByTestId('usage-csv')).toHaveAttribute('href', /format=csv/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: resolve(SHOTS, `usage-7d-${label}.png`), fullPage: label === 'desktop' });
    expect(await guard.check(page)).toEqual([]);
  });
}

test('desktop: events are markers on the week\'s charts and a timeline with the XID', async ({ page }) => {
  const guard = await open(page, 1440, '?range=7d');
  await expect(page.getByTestId('history-view')).toHaveAttribute('data-state', 'ok', { timeout: 15_000 });
  const charts = page.getByTestId('history-chart');
  await expect(charts).toHaveCount(8);
  await expect.poll(async () => Number(await charts.nth(4).getAttribute('data-markers'))).toBeGreaterThan(0);
  await expect(page.locator('.event-marker').first()).toBeAttached();
  await expect(page.getByRole('img', { name: /XID/ }).first()).toBeAttached();
  await page.screenshot({ path: resolve(SHOTS, 'history-7d-markers-desktop.png') });

  await page.getByTestId('view-switch').getByRole('button', { name: /Events/ }).click();
  await expect(page).toHaveURL(/view=events/);
  const items = page.getByTestId('event-item');
  await expect(items.first()).toBeVisible({ timeout: 15_000 });
  await expect(items.filter({ hasText: /XID 13/ })).toHaveCount(1);
  await expect(items.filter({ hasText: /Idle but holding|idle/i }).first()).toBeVisible();
  await page.screenshot({ path: resolve(SHOTS, 'events-7d-desktop.png') });
  expect(await guard.check(page)).toEqual([]);
});

test('mobile: the Events view at 375 px', async ({ page }) => {
  const guard = await open(page, 375, '?range=7d&view=events');
  await expect(page.getByTestId('event-item').first()).toBeVisible({ timeout: 15_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: resolve(SHOTS, 'events-7d-mobile.png') });
  expect(await guard.check(page)).toEqual([]);
});
