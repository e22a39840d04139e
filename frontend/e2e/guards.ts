import type { Page } from '@playwright/test';

/**
 * Collects everything that must fail a browser test: console errors, uncaught
 * exceptions and CSP violations (reported by the page's securitypolicyviolation
 * event as well as the console). `allow` lists console errors that a test
 * provokes on purpose (the browser logs failed WebSocket attempts while the
 * backend is down).
 */
export class PageGuard {
  readonly problems: string[] = [];
  private allowed: RegExp[] = [];

  constructor(page: Page) {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      if (this.allowed.some((re) => re.test(text))) return;
      this.problems.push(`console.error: ${text}`);
    });
    page.on('pageerror', (err) => this.problems.push(`pageerror: ${err.message}`));
    page.on('crash', () => this.problems.push('page crashed'));
  }

  static async install(page: Page): Promise<PageGuard> {
    const guard = new PageGuard(page);
    await page.addInitScript(() => {
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        w.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
      });
    });
    return guard;
  }

  allow(pattern: RegExp): void {
    this.allowed.push(pattern);
  }

  disallow(pattern: RegExp): void {
    this.allowed = this.allowed.filter((p) => p !== pattern);
  }

  async check(page: Page): Promise<string[]> {
    const csp = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    return [...this.problems, ...csp.map((c) => `CSP violation: ${c}`)];
  }
}
