// vitest globalSetup: one embedded PostgreSQL server for a whole test run (unless DATABASE_URL names a
// server), on which createTestDatabase() makes a fresh database per test file. Test processes inherit its
// URL through the environment.
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded/index.ts';
import { databaseUrlFromEnv, setTestServerUrl } from './env.ts';

let server: EmbeddedPostgres | null = null;

/** Starts the run's server (a temporary, non-durable cluster). */
export async function setup(): Promise<void> {
  if (databaseUrlFromEnv()) return;
  server = await startEmbeddedPostgres({ durable: false });
  setTestServerUrl(server.url);
}

/** Stops it and removes its folder. */
export async function teardown(): Promise<void> {
  await server?.stop();
  server = null;
  setTestServerUrl(null);
}
