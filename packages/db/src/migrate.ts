import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { migrationsDirFromEnv } from './env.ts';

/** Folder of the committed drizzle-kit migrations (override for bundled deployments). */
export const migrationsFolder =
  migrationsDirFromEnv() ?? fileURLToPath(new URL('../drizzle', import.meta.url));

const MIGRATION_LOCK = 7270411;

/** Applies pending migrations; already applied ones are skipped, so running it twice is a no-op. */
export async function applyMigrations(url: string): Promise<void> {
  // One connection, so the session advisory lock serialises concurrent starts (several gpu replicas).
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(drizzle(sql), { migrationsFolder, migrationsSchema: 'drizzle' });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
