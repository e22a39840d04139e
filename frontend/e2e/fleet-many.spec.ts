import { expect, test, type Page } from '@playwright/test';
import { FleetLabProcess, type LabInfo } from './fleet-lab';
import { PageGuard } from './guards';

/**
 * A large fleet, windowed (issue 16): the lab of fleet.spec.ts with 30 more
 * dcgm-exporter hosts (rack-00 … rack-29), 34 hosts in all, in a real
 * Chromium with real layout. Only the hosts near the screen are in the page,
 * placed one below the other without overlapping (their measured heights, at
 * 1440 and 375 px), and scrolling, the filter and the sort reach every host.
 */
const RACKS = 30;
const HOSTS = RACKS + 4;

test.describe.configure({ mode: 'serial' });

const lab = new FleetLabProcess(['--racks', String(RACKS)]);
let info: LabInfo;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  info = await lab.start();
});

test.afterAll(async () => {
  await lab.stop();
});

const names = (page: Page) => page.getByTestId('fleet-host-name').allTextContents();

/**
 * The placed hosts' boxes, top to bottom: none overlaps the next, and the gap between them is the
 * list's. A host is placed by its estimated height until the browser has laid it out and the
 * ResizeObserver reports its size (a frame or two): the check waits for that.
 */
async function expectStacked(page: Page): Promise<void> {
  await expect(async () => {
    const boxes = await page
      .getByTestId('fleet-host')
      .evaluateAll((els) => els.map((el) => el.getBoundingClientRect()).map((r) => ({ top: r.top, bottom: r.bottom })));
    expect(boxes.length).toBeGreaterThan(1);
    for (let i = 1; i < boxes.length; i++) {
      expect(boxes[i]!.top - boxes[i - 1]!.bottom).toBeGreaterThanOrEqual(11.5);
      expect(boxes[i]!.top - boxes[i - 1]!.bottom).toBeLessThanOrEqual(12.5);
    }
  }).toPass({ timeout: 5_000 });
}

for (const [label, width] of [
  ['desktop', 1440],
  ['mobile', 375],
] as const) {
  test(`${label}: ${HOSTS} hosts, windowed: scroll, filter and sort reach every host`, async ({ page }) => {
    const guard = await PageGuard.install(page);
    await page.setViewportSize({ width, height: width < 640 ? 812 : 900 });
    await page.goto(`${info.fleet}/?view=fleet`);
    await expect(page.getByTestId('fleet-count')).toHaveText(`${HOSTS} hosts`, { timeout: 60_000 });
    await expect(page.getByTestId('fleet-window')).toBeVisible();
    // Only the hosts near the screen are in the page, in name order, drawn in full.
    const first = await names(page);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(HOSTS);
    expect(first[0]).toBe('alpha');
    await expect(page.getByTestId('fleet-host').first().getByTestId('gpu-row')).toHaveCount(2);
    await expectStacked(page);

    // To the bottom: the last hosts come in, the first go out; still stacked.
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await expect(page.getByTestId('fleet-host-name').getByText('rack-29', { exact: true })).toBeVisible();
    await expect(page.getByTestId('fleet-host-name').getByText('alpha', { exact: true })).toHaveCount(0);
    await expectStacked(page);
    // The list is as tall as its hosts: the last one ends where the page's content does.
    const gap = await page.evaluate(() => {
      const list = document.querySelector('[data-testid="fleet-window"]')!.getBoundingClientRect();
      const sections = [...document.querySelectorAll('[data-testid="fleet-host"]')];
      return list.bottom - sections.at(-1)!.getBoundingClientRect().bottom;
    });
    expect(Math.abs(gap)).toBeLessThanOrEqual(1);

    // The filter finds a host that is not drawn; the sort orders all of them.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.getByTestId('fleet-filter').fill('rack-17');
    await expect(page.getByTestId('fleet-count')).toContainText(`1 of ${HOSTS} hosts`);
    expect(await names(page)).toEqual(['rack-17']);
    await page.getByTestId('fleet-filter').fill('');
    await page.getByTestId('fleet-sort').getByRole('button', { name: 'GPUs', exact: true }).click();
    await expect(page.getByTestId('fleet-host-name').first()).toHaveText(/^(alpha|beta|gamma|delta|rack-\d\d)$/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await guard.check(page)).toEqual([]);
  });
}
