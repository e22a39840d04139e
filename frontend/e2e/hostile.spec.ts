import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, freePort } from './backend';
import { PageGuard } from './guards';
import { HOSTILE_NAMES, LONG_ERROR, writeHostileRecording } from './recording';

/**
 * Whatever a process calls itself reaches the page as text: the real backend
 * replays a recording whose process names are long paths and markup, and a
 * failed GPU whose error is one long unbroken word.
 */
test.describe.configure({ mode: 'serial' });

let backend: Backend;
let dir: string;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpulens-hostile-'));
  const file = writeHostileRecording(join(dir, 'hostile.jsonl'));
  backend = new Backend(await freePort(), { REPLAY_FILE: file });
  await backend.start();
});

test.afterAll(async () => {
  await backend?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function check(page: Page, width: number, height: number): Promise<void> {
  const guard = await PageGuard.install(page);
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.setViewportSize({ width, height });
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.goto(backend.url);
  const cards = page.getByTestId('gpu-card');
  await expect(cards).toHaveCount(3);
  const table = cards.first().getByRole('table');

  // Not paths: shown whole, as text.
  for (const [where, name] of [
    [table, HOSTILE_NAMES.script],
    [table, HOSTILE_NAMES.img],
    [cards.nth(2), HOSTILE_NAMES.quoted],
  ] as const) {
    const cell = where.getByRole('cell', { name, exact: true });
    await expect(cell).toHaveText(name);
    await expect(cell).toHaveAttribute('title', name);
  }
  // Paths: the last part in the cell, the whole path on hover and for screen readers.
  const conda = table.getByRole('cell', { name: HOSTILE_NAMES.condaPython, exact: true });
  await expect(conda.locator('[aria-hidden="true"]')).toHaveText('python3.11');
  await expect(conda).toHaveAttribute('title', HOSTILE_NAMES.condaPython);
  await expect(cards.first()).toContainText('+1 more');

  // Nothing was parsed as markup, nothing ran.
  expect(await page.locator('main script, main img').count()).toBe(0);
  expect(dialogs).toEqual([]);

  // Long names are cut with an ellipsis inside their cell.
  const deep = table.getByRole('cell', { name: HOSTILE_NAMES.deepPath, exact: true });
  const cut = await deep.evaluate((el) => ({
    overflow: getComputedStyle(el).textOverflow,
    inside: el.getBoundingClientRect().right <= el.closest('table')!.getBoundingClientRect().right + 0.5,
  }));
  expect(cut).toEqual({ overflow: 'ellipsis', inside: true });
  const unbroken = table.getByRole('cell', { name: HOSTILE_NAMES.unbroken, exact: true });
  expect(await unbroken.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);

  // The failed GPU's long error wraps inside its card.
  const failed = cards.nth(1);
  await expect(failed).toHaveAttribute('data-status', 'failed');
  const error = failed.getByTestId('gpu-error');
  await expect(error).toContainText(LONG_ERROR.slice(0, 120));
  const fits = await error.evaluate((el) => {
    const card = el.closest('[data-testid="gpu-card"]')!.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    return box.right <= card.right + 0.5 && el.scrollWidth <= el.clientWidth;
  });
  expect(fits).toBe(true);

  // And the page never scrolls sideways.
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
  if (process.env.HOSTILE_SHOTS) {
    await page.screenshot({ path: join(process.env.HOSTILE_SHOTS, `hostile-${width}.png`), fullPage: true });
  }
  expect(await guard.check(page)).toEqual([]);
}

test('desktop 1440 px: long and hostile process names and a long GPU error are text, in their boxes', async ({ page }) => {
  await check(page, 1440, 900);
});

test('mobile 375 px: the same, and no sideways scroll', async ({ page }) => {
  await check(page, 375, 812);
});
