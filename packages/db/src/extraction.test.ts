import { describe, expect, it } from 'vitest';
import {
  addImage,
  countFailedImages,
  createDataset,
  featureJobCounts,
  imagesStillMissing,
  markImageFailed,
  recentFeatureRate,
  saveFeatures,
} from './index.ts';
import { fakeImage, useTestDatabase } from './test-setup.ts';

const database = useTestDatabase();

async function seed(name: string, n: number) {
  const { db } = database();
  const ds = await createDataset(db, { name, classes: ['a', 'b'] });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const img = fakeImage(`${name}-${i}`);
    const { image } = await addImage(db, {
      datasetId: ds.id,
      split: 'train',
      label: 'a',
      width: 2,
      height: 2,
      bytes: 10,
      ...img,
    });
    ids.push(image.id);
  }
  return { ds, ids };
}

const vector = (imageId: string, featureSet = 'fs') => ({
  imageId,
  featureSet,
  shape: [2],
  values: new Float32Array([1, 2]),
});

describe('extraction queries', () => {
  it('finds which of a job batch still lack a vector, skipping failed images and other feature sets', async () => {
    const { db } = database();
    const { ids } = await seed('missing', 4);
    const [a, b, c, d] = ids as [string, string, string, string];
    await saveFeatures(db, [vector(a), vector(b, 'other')]);
    await markImageFailed(db, c, 'corrupt');
    const left = await imagesStillMissing(db, 'fs', ids);
    expect(left.map((r) => r.id).sort()).toEqual([b, d].sort());
    expect(await imagesStillMissing(db, 'fs', [])).toEqual([]);
  });

  it('counts failed images and recent vectors of one feature set', async () => {
    const { db } = database();
    const { ds, ids } = await seed('rate', 3);
    await markImageFailed(db, ids[2] as string, 'gone');
    expect(await countFailedImages(db, ds.id)).toBe(1);
    expect((await recentFeatureRate(db, ds.id, 'fs', 60)).n).toBe(0);
    await saveFeatures(db, [
      vector(ids[0] as string),
      vector(ids[1] as string),
      vector(ids[1] as string, 'x'),
    ]);
    const rate = await recentFeatureRate(db, ds.id, 'fs', 60);
    expect(rate.n).toBe(2);
    expect(rate.first).toBeInstanceOf(Date);
    expect((rate.last as Date).getTime()).toBeGreaterThanOrEqual((rate.first as Date).getTime());
  });

  it('counts pg-boss jobs of one dataset and feature set by state, zero before pg-boss is installed', async () => {
    const { db, sql } = database();
    const input = { schema: 'boss_t', queue: 'q', datasetId: 'ds1', featureSet: 'fs' };
    expect(await featureJobCounts(db, input)).toEqual({ queued: 0, active: 0, failed: 0 });
    await sql
      .unsafe('create schema boss_t; create table boss_t.job (name text, state text, data jsonb)')
      .simple();
    const job = (state: string, datasetId = 'ds1', featureSet = 'fs', name = 'q') =>
      sql`insert into boss_t.job values (${name}, ${state}, ${JSON.stringify({ datasetId, featureSet })}::jsonb)`;
    for (const s of ['created', 'retry', 'active', 'failed', 'completed']) await job(s);
    await job('created', 'ds2');
    await job('created', 'ds1', 'other');
    await job('created', 'ds1', 'fs', 'other-queue');
    expect(await featureJobCounts(db, input)).toEqual({ queued: 2, active: 1, failed: 1 });
    await expect(featureJobCounts(db, { ...input, schema: 'x; drop' })).rejects.toMatchObject({
      details: { field: 'schema' },
    });
  });
});
