import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.ts';
import {
  addImage,
  countImages,
  createDataset,
  createRun,
  deleteDataset,
  getDataset,
  listDatasets,
  recordEpoch,
  saveFeatures,
} from './index.ts';
import { imageBlobs, images } from './schema/index.ts';
import { fakeImage, testFeatureSet, useTestDatabase } from './test-setup.ts';

const database = useTestDatabase();

describe('datasets', () => {
  it('derives the task from the number of classes and finds a dataset by id or name', async () => {
    const { db } = database();
    const binary = await createDataset(db, { name: 'pets', classes: ['cats', 'dogs'] });
    const multi = await createDataset(db, { name: 'flowers', classes: ['daisy', 'rose', 'tulip'] });
    expect(binary.task).toBe('binary');
    expect(multi.task).toBe('multiclass');
    expect((await getDataset(db, 'pets')).id).toBe(binary.id);
    expect((await getDataset(db, binary.id)).name).toBe('pets');
  });

  it('rejects a taken name with a conflict and bad classes with the field named', async () => {
    const { db } = database();
    await createDataset(db, { name: 'taken', classes: ['a', 'b'] });
    await expect(createDataset(db, { name: 'taken', classes: ['a', 'b'] })).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(createDataset(db, { name: 'one', classes: ['a'] })).rejects.toMatchObject({
      details: { field: 'classes' },
    });
    await expect(createDataset(db, { name: 'dup', classes: ['a', 'a'] })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(getDataset(db, 'missing')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists datasets with image counts per split', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'counted', classes: ['a', 'b'] });
    for (const [i, split] of (['train', 'train', 'test'] as const).entries()) {
      const img = fakeImage(`counted-${i}`);
      await addImage(db, { datasetId: ds.id, split, label: 'a', width: 2, height: 2, bytes: 10, ...img });
    }
    const found = (await listDatasets(db)).find((d) => d.id === ds.id);
    expect(found?.counts).toEqual({ train: 2, validation: 0, test: 1 });
    expect(await countImages(db, ds.id)).toEqual([
      { split: 'train', label: 'a', n: 2 },
      { split: 'test', label: 'a', n: 1 },
    ]);
  });

  it('deletes a dataset with everything that hangs off it, and blobs no other dataset uses', async () => {
    const { db } = database();
    const keep = await createDataset(db, { name: 'keep', classes: ['a', 'b'] });
    const drop = await createDataset(db, { name: 'drop', classes: ['a', 'b'] });
    const shared = fakeImage('shared');
    const own = fakeImage('own');
    await addImage(db, {
      datasetId: keep.id,
      split: 'train',
      label: 'a',
      width: 1,
      height: 1,
      bytes: 1,
      ...shared,
    });
    await addImage(db, {
      datasetId: drop.id,
      split: 'train',
      label: 'a',
      width: 1,
      height: 1,
      bytes: 1,
      ...shared,
    });
    const { image } = await addImage(db, {
      datasetId: drop.id,
      split: 'train',
      label: 'b',
      width: 1,
      height: 1,
      bytes: 1,
      ...own,
    });
    const bb = await testFeatureSet(db, 'bb');
    await saveFeatures(db, [
      { imageId: image.id, featureSetId: bb.id, shape: [2], values: new Float32Array([1, 2]) },
    ]);
    const run = await createRun(db, { datasetId: drop.id, featureSetId: bb.id, config: {}, epochsTotal: 1 });
    await recordEpoch(db, run.id, { epoch: 1, loss: 0.5, durationMs: 1 });

    await deleteDataset(db, 'drop');

    const left = await db.execute<{ n: number }>(
      sql`select (select count(*) from images where dataset_id = ${drop.id})::int
        + (select count(*) from runs where dataset_id = ${drop.id})::int
        + (select count(*) from epochs where run_id = ${run.id})::int
        + (select count(*) from features where image_id = ${image.id})::int as n`,
    );
    expect(left[0]?.n).toBe(0);
    const blobs = await db.select({ sha: imageBlobs.sha256 }).from(imageBlobs);
    expect(blobs.map((b) => b.sha)).toContain(shared.sha256);
    expect(blobs.map((b) => b.sha)).not.toContain(own.sha256);
    expect(await db.select().from(images).where(eq(images.datasetId, keep.id))).toHaveLength(1);
  });
});
