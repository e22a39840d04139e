import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { DIST, REPO } from './backend';

/** What tests/integration/fleet_lab.py prints once its fleet server answers. */
export interface LabInfo {
  fleet: string;
  prometheus: string;
  hosts: Record<string, string>;
}

/**
 * The fleet lab (tests/integration/fleet_lab.py) as a child process: a real Prometheus
 * scraping gpulens and dcgm-exporter hosts, and a fleet server serving the built page.
 * `start` waits for its first JSON line; `send` writes a command (`stop beta`) and
 * `nextLine` reads the answer; `stop` ends it (end of input, then SIGTERM).
 */
export class FleetLabProcess {
  private lab: ChildProcessWithoutNullStreams | null = null;
  private lines: Interface | null = null;
  private log = '';

  private readonly args: readonly string[];

  /** `args`: more command-line arguments for the lab (`--racks 30`). */
  constructor(args: readonly string[] = []) {
    this.args = args;
  }

  async start(timeoutMs = 150_000): Promise<LabInfo> {
    this.lab = spawn(resolve(REPO, '.venv/bin/python'), ['-m', 'tests.integration.fleet_lab', '--static-dir', DIST, ...this.args], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.lab.stderr.on('data', (d: Buffer) => (this.log += d.toString()));
    this.lines = createInterface({ input: this.lab.stdout });
    return (await this.nextLine(timeoutMs)) as unknown as LabInfo;
  }

  send(command: string): void {
    this.lab?.stdin.write(`${command}\n`);
  }

  /** The lab's next JSON line on stdout (other lines are not ours). */
  nextLine(timeoutMs: number): Promise<Record<string, unknown>> {
    const lab = this.lab;
    const lines = this.lines;
    if (lab === null || lines === null) return Promise.reject(new Error('fleet lab: not started'));
    return new Promise((ok, fail) => {
      const done = () => {
        clearTimeout(timer);
        lines.off('line', onLine);
        lab.off('exit', onExit);
      };
      const timer = setTimeout(() => {
        done();
        fail(new Error(`fleet lab: no answer within ${timeoutMs} ms\n${this.log.slice(-3000)}`));
      }, timeoutMs);
      const onLine = (line: string) => {
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        done();
        ok(data);
      };
      const onExit = (code: number | null) => {
        done();
        fail(new Error(`fleet lab exited (${code})\n${this.log.slice(-3000)}`));
      };
      lines.on('line', onLine);
      lab.once('exit', onExit);
    });
  }

  async stop(): Promise<void> {
    const lab = this.lab;
    if (lab === null || lab.exitCode !== null) return;
    const exited = new Promise((ok) => lab.once('exit', ok));
    lab.stdin.end(); // end of input stops every process of the lab
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 20_000))]);
    if (lab.exitCode === null) lab.kill('SIGTERM');
  }
}
