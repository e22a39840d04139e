import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Backend, freePort, REPO } from './backend';
import { PageGuard } from './guards';

const SHOTS = resolve(REPO, 'docs/screenshots');

test.describe.configure({ mode: 'serial' });

let backend: Backend;

test.beforeAll(async () => {
  backend = new Backend(await freePort());
  await backend.start();
  mkdirSync(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await backend?.kill('SIGTERM');
});

const cards = (page: Page) => page.getByTestId('gpu-card');

/** What moves from sample to sample: the numbers and the chart paths of every card. */
async function liveSignature(page: Page): Promise<{ numbers: string; paths: string }> {
  return page.evaluate(() => {
    const all = [...document.querySelectorAll('[data-testid="gpu-card"]')];
    return {
      numbers: all.map((c) => c.querySelector('[role="group"]')?.textContent ?? '').join('|') +
        (document.querySelector('[data-testid="status-sentence"]')?.textContent ?? ''),
      paths: all.map((c) => [...c.querySelectorAll('[role="img"] svg path')].map((p) => p.getAttribute('d')).join()).join('|'),
    };
  });
}

test('desktop: both demo GPUs stream live, with changing numbers and sparklines, under the CSP', async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  const response = await page.goto(backend.url);
  expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");

  await expect(cards(page)).toHaveCount(2);
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('source-pill')).toContainText('REPLAY');
  await expect(page.getByTestId('replay-banner')).toContainText('recorded demo data');
  await expect(page.getByTestId('status-sentence')).toContainText('2 GPUs');
  await expect(cards(page).first()).toContainText('H100 80GB HBM3');
  await expect(page.getByRole('region', { name: 'Host system' })).toBeVisible();

  // Both sparklines have a screen-reader summary and a line drawn across their whole width.
  for (const name of [/^Utilization over the last \d+ s/, /^Memory used over the last \d+ s/]) {
    const chart = cards(page).first().getByRole('img', { name });
    await expect(chart).toBeVisible();
    const line = chart.locator('path.spark-line');
    await expect(line).toBeVisible();
    const [box, drawn] = [await chart.boundingBox(), await line.boundingBox()];
    expect(drawn!.width).toBeGreaterThan(box!.width * 0.9);
    expect(drawn!.x).toBeGreaterThanOrEqual(box!.x);
    expect(drawn!.x + drawn!.width).toBeLessThanOrEqual(box!.x + box!.width + 0.5);
  }

  // Numbers and charts move on their own (4 samples a second, max 5 renders a second).
  const before = await liveSignature(page);
  await expect
    .poll(async () => {
      const now = await liveSignature(page);
      return now.numbers !== before.numbers && now.paths !== before.paths;
    }, { timeout: 10_000 })
    .toBe(true);

  // Every frame of the real backend passes the validators generated from its schema.
  await expect(page.getByText(/malformed messages? ignored/)).toHaveCount(0);

  await page.waitForTimeout(600); // let the entrance finish
  await page.screenshot({ path: resolve(SHOTS, 'dashboard-desktop.png') });
  expect(await guard.check(page)).toEqual([]);
});

test('backend killed: unreachable state with Reconnect; restarted on the same port: data back without a reload', async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.goto(backend.url);
  await expect(cards(page)).toHaveCount(2);
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'live');
  // A marker that a reload would wipe.
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

  // The browser logs each refused WebSocket attempt while the backend is down: expected here only.
  const refused = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws\/gpu' failed/;
  guard.allow(refused);
  await backend.kill('SIGKILL');

  const banner = page.getByTestId('connection-banner');
  await expect(banner).toContainText('Backend unreachable', { timeout: 20_000 });
  await expect(banner).toContainText(/last sample \d+ s ago/);
  await expect(banner.getByRole('button', { name: 'Reconnect' })).toBeVisible();
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'offline');
  await expect(cards(page)).toHaveCount(2); // the last numbers stay, dimmed
  await expect(page.getByTestId('live-region')).toContainText('Backend unreachable');

  // The Reconnect button works (and fails again while the backend is still down).
  await banner.getByRole('button', { name: 'Reconnect' }).click();
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'offline', { timeout: 10_000 });

  await backend.start();
  // No click: the backoff finds it on its own (at most 15 s + jitter).
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  guard.disallow(refused);
  await expect(banner).toHaveCount(0);
  await expect(cards(page)).toHaveCount(2);
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

  const before = await liveSignature(page);
  await expect.poll(async () => (await liveSignature(page)).numbers !== before.numbers, { timeout: 10_000 }).toBe(true);
  expect(await guard.check(page)).toEqual([]);
});

test('mobile 375 px with reduced motion: one column, no sideways scroll, no animation', async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width: 375, height: 812 });
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.goto(backend.url);
  await expect(cards(page)).toHaveCount(2);
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'live');

  // Reduced motion: cards are fully there at once, no entrance transform, no hover transition.
  const style = await cards(page).first().evaluate((el) => {
    const cs = getComputedStyle(el);
    return { opacity: cs.opacity, transform: cs.transform, transition: cs.transitionDuration };
  });
  expect(style.opacity).toBe('1');
  expect(style.transform === 'none' || style.transform === 'matrix(1, 0, 0, 1, 0, 0)').toBe(true);
  expect(style.transition.split(',').every((d) => parseFloat(d) <= 0.001)).toBe(true);

  // Single column and nothing wider than the screen.
  const boxes = await cards(page).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().left));
  expect(new Set(boxes.map(Math.round)).size).toBe(1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);

  await page.screenshot({ path: resolve(SHOTS, 'dashboard-mobile.png') });
  expect(await guard.check(page)).toEqual([]);
});

test('keyboard: every control is reachable and shows a focus ring', async ({ page }) => {
  const guard = await PageGuard.install(page);
  await page.goto(backend.url);
  await expect(cards(page)).toHaveCount(2);
  await page.keyboard.press('Tab');
  const focused = page.locator(':focus');
  await expect(focused).toHaveAttribute('href', '/');
  const outline = await focused.evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe('none');
  expect(await guard.check(page)).toEqual([]);
});
