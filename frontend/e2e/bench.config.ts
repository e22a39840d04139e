import base from './playwright.config';
import { defineConfig } from '@playwright/test';

/** `npm run bench`: the main-thread budget check (8 GPUs, 4 updates/s). Not part of `npm run e2e`. */
export default defineConfig({
  ...base,
  testMatch: /.*\.bench\.ts$/,
  timeout: 120_000,
});
