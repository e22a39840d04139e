import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DIST, FRONTEND, GPULENS } from './backend';

/** The tests serve the production build: make one if there is none. */
export default function globalSetup(): void {
  if (!existsSync(GPULENS)) {
    throw new Error(`${GPULENS} is missing: run "make venv" (or pip install -e .) first`);
  }
  if (!existsSync(`${DIST}/index.html`)) {
    execFileSync('npm', ['run', 'build'], { cwd: FRONTEND, stdio: 'inherit' });
  }
}
