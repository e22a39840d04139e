/** Starts and stops the real gpulens backend for the browser tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const FRONTEND = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const REPO = resolve(FRONTEND, '..');
export const DIST = resolve(FRONTEND, 'dist');
export const GPULENS = process.env.GPULENS_BIN ?? resolve(REPO, '.venv/bin/gpulens');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/**
 * Access settings (issue 17) a developer's shell may hold: never inherited, so
 * every spec starts from open access unless it passes them itself (access.spec.ts).
 */
const ACCESS_ENV = ['ACCESS_TOKEN', 'ACCESS_TOKEN_FILE', 'TRUSTED_PROXIES', 'PROXY_USER_HEADER', 'METRICS_ALLOW_FROM'];

function inherited(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !ACCESS_ENV.includes(name)));
}

export class Backend {
  private child: ChildProcess | null = null;
  private log = '';
  readonly port: number;
  private readonly env: Record<string, string>;

  constructor(port: number, env: Record<string, string> = {}) {
    this.port = port;
    this.env = env;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error('backend already running');
    const child = spawn(GPULENS, ['serve'], {
      cwd: REPO,
      env: {
        ...inherited(),
        TELEMETRY_PROVIDER: 'replay',
        HOST: '127.0.0.1',
        PORT: String(this.port),
        STATIC_DIR: DIST,
        POLL_INTERVAL_MS: '250',
        LOG_LEVEL: 'WARNING',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.child = child;
    try {
      await this.waitHealthy();
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  private async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null) throw new Error(`gpulens serve exited:\n${this.log}`);
      try {
        const res = await fetch(`${this.url}/api/health`);
        if (res.ok) {
          // Up and sampling ("unavailable" is a valid answer too: no GPU source on this machine).
          const body = (await res.json()) as { status?: string; lastSampleAgeS?: number | null };
          if (body.status === 'ok' || body.status === 'unavailable' || body.lastSampleAgeS != null) return;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`gpulens serve did not become healthy in ${timeoutMs} ms:\n${this.log}`);
  }

  /** Kill it the hard way, as a crash would (no graceful goodbye to clients). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null) return;
    await new Promise<void>((done) => {
      child.once('exit', () => done());
      child.kill(signal);
    });
  }
}
