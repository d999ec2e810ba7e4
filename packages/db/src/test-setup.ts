import { createHash } from 'node:crypto';
import type { FeatureSetRecord, HeadManifestV1 } from '@edgehead/contracts';
import { afterAll, beforeAll } from 'vitest';
import { connect, type Database } from './client.ts';
import type { Db } from './db.ts';
import { ensureFeatureSet } from './queries/feature-sets.ts';
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

/** A recorded feature set named `backbone` (weights hashed from the name), for rows that need one. */
export async function testFeatureSet(
  db: Db,
  backbone: string,
  featureShape = [2],
): Promise<FeatureSetRecord> {
  return ensureFeatureSet(db, {
    backbone,
    weights: { sha256: createHash('sha256').update(backbone).digest('hex'), source: `/weights/${backbone}` },
    pooling: 'none',
    preprocessing: 'rescale',
    inputSize: [8, 8],
    featureLayer: 'out',
    featureShape,
    provenance: null,
  });
}

/** A legacy (v1) head manifest of `runId`, for model rows whose artifact the test never reads. */
export function testManifest(
  runId: string,
  features: Partial<Pick<HeadManifestV1, 'backbone' | 'preprocessing' | 'featureShape'>> = {},
): HeadManifestV1 {
  return {
    format: 'edgehead-head/1',
    backbone: 'tiny',
    preprocessing: 'rescale',
    featureShape: [2],
    ...features,
    task: 'binary',
    classes: ['a', 'b'],
    threshold: 0.5,
    metrics: {},
    files: [
      { path: 'model.json', sha256: 'a'.repeat(64), bytes: 1 },
      { path: 'weights.bin', sha256: 'b'.repeat(64), bytes: 1 },
    ],
    runId,
    createdAt: new Date(0).toISOString(),
  };
}
