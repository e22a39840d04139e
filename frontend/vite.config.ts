/// <reference types="vitest/config" />
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const backend = process.env.GPULENS_BACKEND ?? 'http://127.0.0.1:5000';

/** What gets a .gz and a .br beside it; fonts (woff2) and images are compressed already. */
const COMPRESSIBLE = /\.(?:js|css|html|svg|json)$/;

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/**
 * Writes `<file>.gz` (gzip -9) and `<file>.br` (brotli 11) beside every compressible
 * file of the build, public/ included, so `gpulens serve` (src/gpulens/api/static.py)
 * and nginx (`gzip_static`) send them as they are instead of compressing per request.
 * Node's own zlib: vite-plugin-compression2 does the same with a dependency and more options.
 * A copy that is not smaller than the original is not written.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'gpulens:precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = (await readdir(outDir, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile() && COMPRESSIBLE.test(e.name))
        .map((e) => join(e.parentPath, e.name));
      await Promise.all(
        files.map(async (file) => {
          const plain = await readFile(file);
          const [gz, br] = await Promise.all([
            gzipAsync(plain, { level: 9 }),
            brotliAsync(plain, {
              params: {
                [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
                [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
                [constants.BROTLI_PARAM_SIZE_HINT]: plain.length,
              },
            }),
          ]);
          if (gz.length < plain.length) await writeFile(`${file}.gz`, gz);
          if (br.length < plain.length) await writeFile(`${file}.br`, br);
        }),
      );
    },
  };
}

export default defineConfig({
  plugins: [react(), tailwindcss(), precompress()],
  server: {
    port: 3000,
    strictPort: true,
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/ws': { target: backend, ws: true, changeOrigin: false },
    },
  },
  preview: { port: 3000, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Fonts and icons ship as files (the CSP allows data: too, but files cache).
    assetsInlineLimit: 0,
    sourcemap: false,
    // The budget that matters is gzip (npm run size), not Rollup's raw-size warning.
    chunkSizeWarningLimit: 1000,
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    restoreMocks: true,
  },
});
