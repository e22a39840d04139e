import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO } from './backend';
import { FleetLabProcess, type LabInfo } from './fleet-lab';
import { PageGuard } from './guards';

/**
 * The Fleet view against a real lab (tests/integration/fleet_lab.py): a real
 * Prometheus (Debian package) scraping three `gpulens serve` in replay (alpha,
 * beta, gamma, each with its gpulens_url label) and one static endpoint in
 * dcgm-exporter's format (delta), read by a fourth gpulens, the fleet server,
 * which serves this page. The view shows all four hosts; a stopped host is
 * marked down (or stale) within a generous deadline (1 s scrapes, 1 s
 * refreshes: the state is asserted, not the time), its last-known GPUs greyed,
 * never zeros, while the other three stay up.
 */
const SHOTS = resolve(REPO, 'docs/screenshots');

test.describe.configure({ mode: 'serial' });

const lab = new FleetLabProcess();
let info: LabInfo;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  info = await lab.start();
  mkdirSync(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await lab.stop();
});

const host = (page: Page, name: string) =>
  page.getByTestId('fleet-host').filter({ has: page.getByTestId('fleet-host-name').getByText(name, { exact: true }) });

async function open(page: Page, width: number): Promise<PageGuard> {
  const guard = await PageGuard.install(page);
  await page.setViewportSize({ width, height: width < 640 ? 812 : 900 });
  await page.goto(`${info.fleet}/?view=fleet`);
  await expect(page.getByTestId('fleet-view')).toBeVisible({ timeout: 30_000 });
  return guard;
}

for (const [label, width] of [
  ['desktop', 1440],
  ['mobile', 375],
] as const) {
  test(`${label}: the Fleet view shows all four hosts, gpulens and dcgm-exporter alike`, async ({ page }) => {
    const guard = await open(page, width);
    await expect(page.getByRole('group', { name: 'View' }).getByRole('button', { name: 'Fleet' })).toHaveAttribute(
      'aria-pressed',
      'true',
    );
    for (const name of ['alpha', 'beta', 'gamma', 'delta']) {
      await expect(host(page, name)).toHaveCount(1, { timeout: 30_000 });
      await expect(host(page, name)).toHaveAttribute('data-state', 'up', { timeout: 30_000 });
    }
    await expect(host(page, 'delta').getByText('dcgm-exporter')).toBeVisible();
    // A host's GPU rows are drawn once it comes near the screen (at 375 px delta is below it).
    await host(page, 'delta').scrollIntoViewIfNeeded();
    await expect(host(page, 'delta').getByTestId('gpu-row')).toHaveCount(2);
    await host(page, 'alpha').scrollIntoViewIfNeeded();
    await expect(host(page, 'alpha').getByTestId('gpu-row')).toHaveCount(2);
    // A gpulens host links to its own page (its gpulens_url label); the dcgm-exporter one does not.
    await expect(host(page, 'alpha').getByTestId('fleet-host-link')).toHaveAttribute(
      'href',
      new RegExp(`^${info.hosts.alpha}/?$`),
    );
    await expect(host(page, 'delta').getByTestId('fleet-host-link')).toHaveCount(0);
    await expect(page.getByTestId('fleet-status')).toHaveAttribute('data-state', 'ok');
    await expect(page.getByTestId('fleet-hosts')).toContainText('4');
    // The filter: one host by name.
    await page.getByTestId('fleet-filter').fill('gam');
    await expect(page.getByTestId('fleet-host')).toHaveCount(1);
    await page.getByTestId('fleet-filter').fill('');
    await expect(page.getByTestId('fleet-host')).toHaveCount(4);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.getByTestId('fleet-filter').blur();
    if (width < 640) {
      // The phone's first screen is the hero: show the hosts instead.
      await page.getByTestId('fleet-status').evaluate((el) => {
        el.scrollIntoView();
        window.scrollBy(0, -(document.querySelector('header')?.getBoundingClientRect().height ?? 0) - 12);
      });
    } else {
      await page.evaluate(() => window.scrollTo(0, 0));
    }
    await page.screenshot({ path: resolve(SHOTS, `fleet-${label}.png`) });
    expect(await guard.check(page)).toEqual([]);
  });
}

test('a stopped host is marked down, its GPUs as last known, the others stay up', async ({ page }) => {
  const guard = await open(page, 1440);
  const beta = host(page, 'beta');
  await expect(beta).toHaveAttribute('data-state', 'up', { timeout: 30_000 });
  lab.send('stop beta');
  expect(await lab.nextLine(30_000)).toEqual({ stopped: 'beta' });
  // Two 1 s scrape intervals plus a 1 s fleet refresh; the deadline is generous on purpose
  // (shared CI cores): the state is what is checked, not the time.
  await expect(beta).toHaveAttribute('data-state', /^(down|stale)$/, { timeout: 20_000 });
  await expect(beta.getByTestId('fleet-host-state')).toContainText(/down|stale/i);
  await beta.scrollIntoViewIfNeeded();
  const rows = beta.getByTestId('gpu-row');
  await expect(rows).toHaveCount(2);
  // Last known, greyed: numbers, never zeros or blanks.
  for (const row of await rows.all()) {
    await expect(row).toHaveAttribute('data-dimmed', '');
    await expect(row.getByTestId('row-util')).toHaveText(/\d+\s*%/);
    await expect(row.getByTestId('row-temp')).toHaveText(/[1-9]\d*/);
    await expect(row.getByTestId('row-power')).toHaveText(/[1-9]\d*/);
  }
  const fleet = (await (await fetch(`${info.fleet}/api/fleet`)).json()) as {
    hosts: { host: string; state: string; gpus: { temperature: number | null; memoryUsed: number | null }[] }[];
  };
  const betaNow = fleet.hosts.find((h) => h.host === 'beta');
  expect(betaNow?.state).toMatch(/^(down|stale)$/);
  for (const gpu of betaNow?.gpus ?? []) {
    expect(gpu.temperature).toBeGreaterThan(0);
    expect(gpu.memoryUsed).not.toBeNull();
  }
  await expect(page.getByTestId('fleet-hosts-down')).toContainText('1');
  for (const name of ['alpha', 'gamma', 'delta']) await expect(host(page, name)).toHaveAttribute('data-state', 'up');
  await page.screenshot({ path: test.info().outputPath('fleet-beta-down.png') });
  expect(await guard.check(page)).toEqual([]);
});
