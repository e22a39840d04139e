import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Backend, freePort, REPO } from './backend';
import { PageGuard } from './guards';

/**
 * The compact density of the single-host page, against the real backend
 * replaying an 8-GPU machine: the shipped demo's two H100s copied into eight
 * (distinct ids, UUIDs and PCI bus ids; each copy of the pair an eighth of the
 * trace further on, so no two of the eight move in step). In compact density all
 * eight rows fit one 1440×900 screen under the hero and the system strip, the
 * choice survives a reload, and at 375 px nothing is wider than the screen.
 */
const SHOTS = resolve(REPO, 'docs/screenshots');
const COPIES = 4;

test.describe.configure({ mode: 'serial' });

let backend: Backend;
let dir: string;

interface RecordedGpu {
  id: number;
  uuid: string | null;
  pciBusId: string | null;
  processes: { pid: number }[];
}

function eightGpuRecording(path: string): void {
  const demo = gunzipSync(readFileSync(resolve(REPO, 'src/gpulens/data/demo-h100x2.jsonl.gz'))).toString('utf8');
  const [head = '{}', ...frames] = demo.split('\n').filter(Boolean);
  const header = JSON.parse(head) as { description?: string };
  const records = frames.map((line) => JSON.parse(line) as { t: number; gpus: RecordedGpu[] });
  const n = records.length;
  const out = [
    JSON.stringify({
      ...header,
      description: `${header.description ?? ''}; copied into 8 GPUs (distinct ids, UUIDs, PCI bus ids, each pair an eighth of the trace further on) for the compact-density browser test`,
    }),
  ];
  records.forEach((record, i) => {
    const gpus: RecordedGpu[] = [];
    for (let k = 0; k < COPIES; k += 1) {
      const source = records[(i + Math.round((k * n) / (2 * COPIES))) % n]!;
      for (const gpu of source.gpus) {
        const id = k * source.gpus.length + gpu.id;
        const copy = structuredClone(gpu);
        copy.id = id;
        copy.uuid = gpu.uuid === null ? null : `${gpu.uuid.slice(0, -2)}${String(id).padStart(2, '0')}`;
        copy.pciBusId = `00000000:${(0x10 + id).toString(16).padStart(2, '0')}:00.0`;
        copy.processes = gpu.processes.map((p) => ({ ...p, pid: p.pid + k * 10_000 }));
        gpus.push(copy);
      }
    }
    out.push(JSON.stringify({ ...record, gpus }));
  });
  writeFileSync(path, `${out.join('\n')}\n`);
}

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpulens-density-'));
  eightGpuRecording(join(dir, 'h100x8.jsonl'));
  backend = new Backend(await freePort(), { REPLAY_FILE: join(dir, 'h100x8.jsonl') });
  await backend.start();
  mkdirSync(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await backend?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(page: Page, width: number, height: number): Promise<PageGuard> {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width, height });
  await page.goto(`${backend.url}/`);
  return guard;
}

test('desktop: compact density fits all 8 GPUs on one 1440×900 screen, and survives a reload', async ({ page }) => {
  const guard = await open(page, 1440, 900);
  await expect(page.getByTestId('gpu-card')).toHaveCount(8);
  const density = page.getByRole('group', { name: 'Density' });
  await expect(density.getByRole('button', { name: /Comfortable/ })).toHaveAttribute('aria-pressed', 'true');
  await density.getByRole('button', { name: /Compact/ }).click();
  const rows = page.getByTestId('gpu-row');
  await expect(rows).toHaveCount(8);
  await expect(page.getByTestId('gpu-card')).toHaveCount(0);

  const fits = async () => {
    for (const row of await rows.all()) {
      const box = await row.boundingBox();
      expect(box, 'row laid out').not.toBeNull();
      expect(box!.y, 'row starts on screen').toBeGreaterThanOrEqual(0);
      expect(box!.y + box!.height, 'row ends on the 900 px screen').toBeLessThanOrEqual(900);
    }
    await expect(page.getByTestId('status-sentence')).toBeInViewport();
    await expect(page.getByTestId('system-strip')).toBeInViewport();
  };
  await fits();
  // The numbers are readable across the room: utilization at 20 px or more.
  const size = await rows
    .first()
    .getByTestId('row-util')
    .evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  expect(size).toBeGreaterThanOrEqual(20);
  await expect(rows.first()).toContainText('H100');
  // Let the replay move on so the rows show busy and idle GPUs with their owners.
  await expect(page.locator('[data-testid="gpu-row"][data-state="busy"]').first()).toBeVisible({ timeout: 20_000 });
  await page.screenshot({ path: resolve(SHOTS, 'compact-8gpu-desktop.png') });

  await page.reload();
  await expect(page.getByTestId('gpu-row')).toHaveCount(8);
  await expect(page.getByRole('group', { name: 'Density' }).getByRole('button', { name: /Compact/ })).toHaveAttribute(
    'aria-pressed',
    'true',
  );
  await fits();
  expect(await guard.check(page)).toEqual([]);
});

test('mobile: at 375 px each GPU is two lines and nothing is wider than the screen', async ({ page }) => {
  const guard = await open(page, 375, 812);
  await page.evaluate(() => localStorage.setItem('gpulens.density', 'compact'));
  await page.reload();
  const rows = page.getByTestId('gpu-row');
  await expect(rows).toHaveCount(8);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  for (const row of await rows.all()) {
    const box = await row.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(375);
    // Two lines: taller than one, not more than ~two lines of 20 px numbers with padding.
    expect(box!.height).toBeLessThanOrEqual(80);
  }
  await expect(page.locator('[data-testid="gpu-row"][data-state="busy"]').first()).toBeVisible({ timeout: 20_000 });
  await page.getByRole('region', { name: 'GPUs' }).evaluate((el) => {
    el.scrollIntoView();
    window.scrollBy(0, -(document.querySelector('header')?.getBoundingClientRect().height ?? 0) - 12);
  });
  await page.screenshot({ path: resolve(SHOTS, 'compact-8gpu-mobile.png') });
  expect(await guard.check(page)).toEqual([]);
});
