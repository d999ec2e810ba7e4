import { defineConfig } from 'vitest/config';

// one embedded PostgreSQL server per run (unless DATABASE_URL is set); each test file makes its own database
export default defineConfig({
  test: { testTimeout: 60_000, hookTimeout: 120_000, globalSetup: ['@edgehead/db/test-server'] },
});
