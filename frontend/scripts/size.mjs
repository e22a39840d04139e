// npm run size — build, then fail if the JavaScript the page loads is over budget (gzip).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 250;
const root = fileURLToPath(new URL('..', import.meta.url));
const assets = join(root, 'dist', 'assets');

if (!process.argv.includes('--no-build')) {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}

let total = 0;
let evalLike = false;
for (const file of readdirSync(assets).filter((f) => f.endsWith('.js')).sort()) {
  const code = readFileSync(join(assets, file));
  // The page runs under script-src 'self' (no 'unsafe-eval'): string-to-code would throw there.
  if (/\bnew Function\s*\(|[^.\w]eval\s*\(/.test(code.toString('utf8'))) {
    console.error(`${file}: contains eval or new Function, which the CSP blocks`);
    evalLike = true;
  }
  const bytes = gzipSync(code, { level: 9 }).length;
  total += bytes;
  console.log(`${(bytes / 1024).toFixed(1).padStart(8)} KB  ${file}`);
}
const kb = total / 1024;
console.log(`${kb.toFixed(1).padStart(8)} KB  total gzip (budget ${BUDGET_KB} KB)`);
if (evalLike) process.exit(1);
if (kb > BUDGET_KB) {
  console.error(`over budget by ${(kb - BUDGET_KB).toFixed(1)} KB`);
  process.exit(1);
}
