// npm run size — build, then fail if the JavaScript the live view loads is over budget (gzip),
// if any chunk contains eval/new Function, or if a precompressed copy is missing or stale.
//
// The live view loads the entry chunk (index.html's module script) and the chunks it
// preloads (its static imports). Chunks loaded later with import() (the history view's
// charts) are listed apart and do not count against the budget.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';

const BUDGET_KB = 150;
const COMPRESSIBLE = /\.(?:js|css|html|svg|json)$/;
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const assets = join(dist, 'assets');

if (!process.argv.includes('--no-build')) {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}

const html = readFileSync(join(dist, 'index.html'), 'utf8');
const attr = (tag, name) => tag.match(new RegExp(`\\b${name}="([^"]*)"`))?.[1];
const initial = new Set(
  [...html.matchAll(/<(?:script|link)\b[^>]*>/g)]
    .map(([tag]) =>
      /^<script\b/.test(tag) && attr(tag, 'type') === 'module'
        ? attr(tag, 'src')
        : /\brel="modulepreload"/.test(tag)
          ? attr(tag, 'href')
          : undefined,
    )
    .filter((src) => src?.startsWith('/assets/'))
    .map((src) => src.slice('/assets/'.length)),
);
if (initial.size === 0) {
  console.error('dist/index.html loads no module script from /assets/');
  process.exit(1);
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1).padStart(8)} KB`;
let failed = false;
let entryTotal = 0;
const lazy = [];
console.log('   gzip        brotli      chunk');
for (const file of readdirSync(assets).filter((f) => f.endsWith('.js')).sort()) {
  const code = readFileSync(join(assets, file));
  // The page runs under script-src 'self' (no 'unsafe-eval'): string-to-code would throw there.
  if (/\bnew Function\s*\(|[^.\w]eval\s*\(/.test(code.toString('utf8'))) {
    console.error(`${file}: contains eval or new Function, which the CSP blocks`);
    failed = true;
  }
  const gz = gzipSync(code, { level: 9 }).length;
  const br = existsSync(join(assets, `${file}.br`)) ? readFileSync(join(assets, `${file}.br`)).length : NaN;
  const line = `${kb(gz)}  ${kb(br)}  ${file}`;
  if (initial.has(file)) {
    entryTotal += gz;
    console.log(`${line}  (live view)`);
  } else {
    lazy.push(line);
  }
}
if (lazy.length > 0) {
  console.log('loaded later (import()), not in the budget:');
  for (const line of lazy) console.log(line);
}
console.log(`${kb(entryTotal)}  JavaScript of the live view, gzip (budget ${BUDGET_KB} KB)`);
if (entryTotal / 1024 > BUDGET_KB) {
  console.error(`over budget by ${(entryTotal / 1024 - BUDGET_KB).toFixed(1)} KB`);
  failed = true;
}

// The server and nginx send <file>.br / <file>.gz as they are: each must decompress to its file.
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
let precompressed = 0;
for (const file of walk(dist).filter((f) => COMPRESSIBLE.test(f))) {
  const plain = readFileSync(file);
  for (const [ext, decompress] of [['.gz', gunzipSync], ['.br', brotliDecompressSync]]) {
    if (!existsSync(file + ext)) {
      // The build skips a copy that would not be smaller (a tiny file).
      if (plain.length > 1024) {
        console.error(`${relative(dist, file)}${ext} is missing`);
        failed = true;
      }
      continue;
    }
    if (!decompress(readFileSync(file + ext)).equals(plain)) {
      console.error(`${relative(dist, file)}${ext} does not decompress to ${relative(dist, file)}`);
      failed = true;
    }
    precompressed++;
  }
}
console.log(`${precompressed} precompressed copies (.gz, .br) checked against their files`);
if (failed) process.exit(1);
