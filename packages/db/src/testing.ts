import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startEmbeddedPostgres } from './embedded.ts';

/** A throw-away database for a test file: its URL and a function that removes it. */
export interface TestDatabase {
  url: string;
  /** 'pglite' (in memory) or 'server' (a fresh database on the server at DATABASE_URL). */
  kind: 'pglite' | 'server';
  drop(): Promise<void>;
}

/**
 * Creates an empty database for tests: a fresh database on the server at `DATABASE_URL` when it is set
 * (so CI exercises real Postgres), otherwise an in-memory PGlite served on a free loopback port.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, kind: 'pglite', drop: () => embedded.stop() };
  }
  const name = `edgehead_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'server',
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
