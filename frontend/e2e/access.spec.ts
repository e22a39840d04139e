import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Backend, freePort, REPO } from './backend';
import { PageGuard } from './guards';

/**
 * Issue 17 in the browser, against the real `gpulens serve` with ACCESS_TOKEN_FILE
 * (a 0600 file) and 127.0.0.1 as a trusted proxy (for "Signed in as <user>"):
 * the prompt, a wrong token, the right one, the cookie across a reload, sign
 * out, too many attempts; the token never in a URL or the page's storage.
 */

const SHOTS = resolve(REPO, 'docs/screenshots');
const TOKEN = randomBytes(24).toString('base64url'); // 32 printable characters, no spaces
const WRONG = 'this-is-not-the-token-0123';
const REFUSED_401 = /Failed to load resource: the server responded with a status of 401/;
const REFUSED_429 = /Failed to load resource: the server responded with a status of 429/;

test.describe.configure({ mode: 'serial' });

let backend: Backend;
let dir: string;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpulens-access-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // whatever the umask
  backend = new Backend(await freePort(), { ACCESS_TOKEN_FILE: file, TRUSTED_PROXIES: '127.0.0.1' });
  await backend.start();
  mkdirSync(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await backend?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every URL the page asked for or went to, and every request body that carried the token. */
function watch(page: Page) {
  const urls: string[] = [];
  const carriers: string[] = [];
  page.on('framenavigated', (frame) => urls.push(frame.url()));
  page.on('request', (req) => {
    urls.push(req.url());
    if ((req.postData() ?? '').includes(TOKEN)) carriers.push(`${req.method()} ${new URL(req.url()).pathname}`);
    for (const [name, value] of Object.entries(req.headers())) {
      if (value.includes(TOKEN)) carriers.push(`header ${name}`);
    }
  });
  page.on('websocket', (ws) => urls.push(ws.url()));
  return { urls, carriers };
}

/** Marks the page if the token prompt ever shows (set before any script of the page runs). */
async function notePrompt(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { __promptSeen: boolean };
    w.__promptSeen = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="token-prompt"]')) w.__promptSeen = true;
    }).observe(document, { childList: true, subtree: true });
  });
}

async function storage(page: Page): Promise<string> {
  return page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
}

const prompt = (page: Page) => page.getByTestId('token-prompt');
const field = (page: Page) => page.getByLabel('Access token', { exact: true });
const cards = (page: Page) => page.getByTestId('gpu-card');

let signedIn: BrowserContext;

test('desktop: the prompt, a wrong token, the right one, then a reload goes straight to the dashboard', async ({ browser }) => {
  signedIn = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await signedIn.newPage();
  const guard = await PageGuard.install(page);
  await notePrompt(page);
  const seen = watch(page);

  await page.goto(backend.url);
  await expect(prompt(page)).toBeVisible();
  await expect(page.getByRole('dialog', { name: 'This dashboard needs an access token' })).toBeVisible();
  await expect(field(page)).toBeFocused();
  await expect(field(page)).toHaveAttribute('autocomplete', 'current-password');
  await expect(cards(page)).toHaveCount(0);

  // Centred on the screen.
  const box = (await page.getByRole('dialog').boundingBox())!;
  expect(Math.abs(box.x + box.width / 2 - 720)).toBeLessThan(2);
  expect(Math.abs(box.y + box.height / 2 - 450)).toBeLessThan(40);
  await page.waitForTimeout(400); // the entrance is over
  await page.screenshot({ path: resolve(SHOTS, 'token-prompt-desktop.png') });

  // A wrong token: the browser logs the 401 itself (expected here only).
  guard.allow(REFUSED_401);
  await page.keyboard.type(WRONG);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('token-error')).toHaveText('That token is not right.');
  await expect(field(page)).toBeFocused();
  guard.disallow(REFUSED_401);

  await field(page).fill(TOKEN);
  await page.keyboard.press('Enter');
  await expect(prompt(page)).toHaveCount(0);
  await expect(cards(page)).toHaveCount(2);
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'live');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

  // The browser keeps an HttpOnly, SameSite=Strict session cookie: the page cannot read it.
  const cookies = await signedIn.cookies();
  const session = cookies.find((c) => c.name === 'gpulens_session');
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  expect(session!.expires).toBe(-1); // a browser-session cookie
  expect(session!.value).not.toContain(TOKEN);

  // Reload in the same context: straight to the live dashboard, the prompt never shows.
  await page.reload();
  await expect(cards(page)).toHaveCount(2);
  await expect(page.getByTestId('connection-pill')).toHaveAttribute('data-state', 'live');
  expect(await page.evaluate(() => (window as unknown as { __promptSeen: boolean }).__promptSeen)).toBe(false);

  // The token went out in one POST body only: never a URL, a header, the history or storage.
  expect(seen.carriers).toEqual(['POST /api/session']);
  expect(seen.urls.filter((u) => u.includes(TOKEN))).toEqual([]);
  expect(page.url()).toBe(`${backend.url}/`);
  const history = await page.evaluate(() => [location.href, ...performance.getEntriesByType('navigation').map((e) => e.name)]);
  expect(history.join(' ')).not.toContain(TOKEN);
  expect(await storage(page)).not.toContain(TOKEN);
  expect(await storage(page)).not.toContain('gpulens_session');
  expect(await guard.check(page)).toEqual([]);
  await page.close();
});

test('sign out: the prompt again, and a reload asks again (the cookie is gone)', async () => {
  const page = await signedIn.newPage();
  const guard = await PageGuard.install(page);
  await page.goto(backend.url);
  await expect(cards(page)).toHaveCount(2);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(prompt(page)).toBeVisible();
  await expect(field(page)).toBeFocused();
  await expect(cards(page)).toHaveCount(0);
  expect((await signedIn.cookies()).find((c) => c.name === 'gpulens_session')).toBeUndefined();
  await page.reload();
  await expect(prompt(page)).toBeVisible();
  expect(await guard.check(page)).toEqual([]);
  await signedIn.close();
});

test('375 px, keyboard only, reduced motion: readable, no sideways scroll, Tab to Sign in', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 375, height: 812 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const guard = await PageGuard.install(page);
  const seen = watch(page);
  await page.goto(backend.url);
  await expect(prompt(page)).toBeVisible();
  await expect(field(page)).toBeFocused();

  const dialog = page.getByRole('dialog');
  const box = (await dialog.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(8);
  expect(box.x + box.width).toBeLessThanOrEqual(375 - 8);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  // Text stays at a readable size on a phone.
  const sizes = await dialog.evaluate((el) => ({
    title: parseFloat(getComputedStyle(el.querySelector('h2')!).fontSize),
    body: parseFloat(getComputedStyle(el.querySelector('p')!).fontSize),
    input: parseFloat(getComputedStyle(el.querySelector('input')!).fontSize),
  }));
  expect(sizes.title).toBeGreaterThanOrEqual(22);
  expect(sizes.body).toBeGreaterThanOrEqual(16);
  expect(sizes.input).toBeGreaterThanOrEqual(16); // no zoom-on-focus on phones
  // Reduced motion: no entrance animation.
  expect(await dialog.evaluate((el) => getComputedStyle(el).animationName)).toBe('none');
  await page.screenshot({ path: resolve(SHOTS, 'token-prompt-375.png') });

  // The page under the prompt is out of reach: Tab goes from the field to the button, nowhere else in the page.
  await page.keyboard.type(TOKEN);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(prompt(page)).toHaveCount(0);
  await expect(cards(page)).toHaveCount(2);

  expect(seen.carriers).toEqual(['POST /api/session']);
  expect(seen.urls.filter((u) => u.includes(TOKEN))).toEqual([]);
  expect(await storage(page)).not.toContain(TOKEN);
  expect(await guard.check(page)).toEqual([]);
  await context.close();
});

test('behind a trusted proxy: "Signed in as <user>", no prompt, no Sign out', async ({ browser }) => {
  const context = await browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-User': 'alice' } });
  const page = await context.newPage();
  const guard = await PageGuard.install(page);
  await notePrompt(page);
  await page.goto(backend.url);
  await expect(cards(page)).toHaveCount(2);
  await expect(page.getByTestId('signed-in-as')).toHaveText('Signed in as alice');
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __promptSeen: boolean }).__promptSeen)).toBe(false);
  expect(await guard.check(page)).toEqual([]);
  await context.close();
});

test('too many wrong attempts: the prompt says how long to wait (last: it locks this address out)', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const guard = await PageGuard.install(page);
  await page.goto(backend.url);
  await expect(prompt(page)).toBeVisible();
  guard.allow(REFUSED_401);
  guard.allow(REFUSED_429);
  // Wrong tokens from this address (a script's) until the server locks it out (10 a minute,
  // the earlier tests' wrong one included), then the right one from the page.
  const statuses: number[] = [];
  while (statuses.at(-1) !== 429 && statuses.length <= 10) {
    const r = await page.request.post(`${backend.url}/api/session`, { data: { token: `${WRONG}-${statuses.length}` } });
    statuses.push(r.status());
  }
  expect(statuses.at(-1)).toBe(429);
  expect(new Set(statuses.slice(0, -1))).toEqual(new Set([401]));
  await field(page).fill(TOKEN);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('token-error')).toHaveText(/^Too many wrong attempts — try again in \d+ s\.$/);
  await expect(prompt(page)).toBeVisible();
  expect(await guard.check(page)).toEqual([]);
  await context.close();
});
