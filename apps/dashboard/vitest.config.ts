import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // the browser suite starts wrangler dev and chromium: run files one at a time on these 2 cores
    fileParallelism: false,
    // one embedded PostgreSQL server per run (unless DATABASE_URL is set)
    globalSetup: ['@edgehead/db/test-server'],
  },
});
