import { createHash } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { connect, type Database } from './client.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

/** Gives a test file a migrated, empty database (see createTestDatabase) and removes it after. */
export function useTestDatabase(): () => Database {
  let testDb: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = await connect({ url: testDb.url });
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });
  return () => database;
}

/** Bytes and their sha256, for image rows. */
export function fakeImage(seed: string): { data: Uint8Array; sha256: string } {
  const data = new TextEncoder().encode(`image-${seed}`);
  return { data, sha256: createHash('sha256').update(data).digest('hex') };
}
