import { defineConfig } from 'vitest/config';

// The end-to-end test starts the whole system (twice): minutes, not seconds, and one file at a time.
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    // one embedded PostgreSQL server per run for createTestDatabase() (unless DATABASE_URL is set)
    globalSetup: ['@edgehead/db/test-server'],
  },
});
