import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startEmbeddedPostgres } from './embedded/index.ts';
import { databaseUrlFromEnv, testServerUrlFromEnv } from './env.ts';

/** A throw-away database for a test file: its URL and a function that removes it. */
export interface TestDatabase {
  url: string;
  /** 'server': on the server at DATABASE_URL; 'embedded': on an embedded PostgreSQL server. */
  kind: 'server' | 'embedded';
  drop(): Promise<void>;
}

/**
 * Creates an empty database for tests: on the server at `DATABASE_URL` when it is set (CI), otherwise on the
 * embedded server of the test run (`@edgehead/db/test-server` as vitest globalSetup), or, without one, on an
 * embedded server started for this database alone. Every database is fresh; `drop()` removes it.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = databaseUrlFromEnv();
  if (serverUrl) return { ...(await createDatabaseOn(serverUrl)), kind: 'server' };
  const runServer = testServerUrlFromEnv();
  if (runServer) return { ...(await createDatabaseOn(runServer)), kind: 'embedded' };
  const own = await startEmbeddedPostgres({ durable: false });
  const database = await createDatabaseOn(own.url).catch(async (error: unknown) => {
    await own.stop();
    throw error;
  });
  return {
    url: database.url,
    kind: 'embedded',
    async drop() {
      await database.drop();
      await own.stop();
    },
  };
}

async function createDatabaseOn(serverUrl: string): Promise<Omit<TestDatabase, 'kind'>> {
  const name = `edgehead_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    await admin.end();
    throw error;
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
