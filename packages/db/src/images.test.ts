import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { fromSql } from './db.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import {
  addImage,
  createDataset,
  getImageBlob,
  imagesStillMissing,
  listImages,
  loadFeatureMatrix,
  markImageFailed,
  saveFeatures,
} from './index.ts';
import { features, images } from './schema/index.ts';
import { fakeImage, testFeatureSet, useTestDatabase } from './test-setup.ts';

const database = useTestDatabase();
const size = { width: 4, height: 3, bytes: 12 };

describe('images', () => {
  it('adds an image once per content hash: the second upload is a duplicate that returns the stored row', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'dedup', classes: ['cat', 'dog'] });
    const img = fakeImage('dedup');
    const first = await addImage(db, { datasetId: ds.id, split: 'train', label: 'cat', ...size, ...img });
    const again = await addImage(db, {
      datasetId: ds.id,
      split: 'validation',
      label: 'dog',
      ...size,
      ...img,
    });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ image: first.image, duplicate: true });
    expect(await listImages(db, ds.id)).toHaveLength(1);
    expect(Buffer.from(await getImageBlob(db, img.sha256)).equals(Buffer.from(img.data))).toBe(true);
  });

  it('lets two clients insert the same image at once: one row, no error for either', async () => {
    const { db, url } = database();
    const ds = await createDataset(db, { name: 'race', classes: ['cat', 'dog'] });
    const other = postgres(url, { max: 4, onnotice: () => undefined });
    try {
      const otherDb = fromSql(other);
      const attempts = Array.from({ length: 8 }, (_, i) => {
        const img = fakeImage('race');
        return addImage(i % 2 ? otherDb : db, {
          datasetId: ds.id,
          split: 'train',
          label: 'cat',
          ...size,
          ...img,
        });
      });
      const results = await Promise.all(attempts);
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(new Set(results.map((r) => r.image.id)).size).toBe(1);
      expect(await listImages(db, ds.id)).toHaveLength(1);
    } finally {
      await other.end();
    }
  });

  it('rejects an unknown dataset, an invalid split or a label outside the classes, writing nothing', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'strict', classes: ['cat', 'dog'] });
    const img = fakeImage('strict');
    await expect(
      addImage(db, {
        datasetId: '00000000-0000-4000-8000-000000000000',
        split: 'train',
        label: 'cat',
        ...size,
        ...img,
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      addImage(db, { datasetId: ds.id, split: 'holdout', label: 'cat', ...size, ...img }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      details: { field: 'split' },
    });
    await expect(
      addImage(db, { datasetId: ds.id, split: 'train', label: 'bird', ...size, ...img }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await listImages(db, ds.id)).toHaveLength(0);
    await expect(getImageBlob(db, img.sha256)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('features', () => {
  it('stores one vector per image and feature set, and loads a split as a matrix', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'feats', classes: ['cat', 'dog'] });
    const added: Awaited<ReturnType<typeof addImage>>['image'][] = [];
    for (let i = 0; i < 4; i++) {
      const split = i < 3 ? 'train' : 'test';
      const { image } = await addImage(db, {
        datasetId: ds.id,
        split,
        label: i % 2 ? 'dog' : 'cat',
        ...size,
        ...fakeImage(`f${i}`),
      });
      added.push(image);
    }
    const tiny = await testFeatureSet(db, 'tiny', [1, 1, 2]);
    const vectors = added.slice(0, 3).map((image, i) => ({
      imageId: image.id,
      featureSetId: tiny.id,
      shape: [1, 1, 2],
      values: new Float32Array([i, -i / 3]),
    }));
    expect(await saveFeatures(db, vectors)).toBe(3);
    expect(await saveFeatures(db, vectors)).toBe(0);
    const ids = added.map((a) => a.id);
    expect((await imagesStillMissing(db, tiny.id, ids)).map((r) => r.id)).toEqual([added[3]?.id]);

    const matrix = await loadFeatureMatrix(db, ds.id, tiny.id, 'train');
    expect(matrix.shape).toEqual([1, 1, 2]);
    expect(matrix.data).toHaveLength(6);
    matrix.imageIds.forEach((id, row) => {
      const i = added.findIndex((a) => a.id === id);
      expect(Array.from(matrix.data.slice(row * 2, row * 2 + 2))).toEqual([i, Math.fround(-i / 3)]);
      expect(matrix.labels[row]).toBe(i % 2 ? 'dog' : 'cat');
    });
  });

  it('rejects a vector whose length does not match its shape, or that is not finite', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'badfeats', classes: ['cat', 'dog'] });
    const { image } = await addImage(db, {
      datasetId: ds.id,
      split: 'train',
      label: 'cat',
      ...size,
      ...fakeImage('bad'),
    });
    const x = await testFeatureSet(db, 'x');
    await expect(
      saveFeatures(db, [{ imageId: image.id, featureSetId: x.id, shape: [3], values: new Float32Array(2) }]),
    ).rejects.toMatchObject({ details: { field: 'values' } });
    await expect(
      saveFeatures(db, [
        { imageId: image.id, featureSetId: x.id, shape: [1], values: new Float32Array([Number.NaN]) },
      ]),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await db.select().from(features).where(eq(features.imageId, image.id))).toEqual([]);
  });

  it('leaves failed images out of the work still to do', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'failed', classes: ['cat', 'dog'] });
    const { image } = await addImage(db, {
      datasetId: ds.id,
      split: 'train',
      label: 'cat',
      ...size,
      ...fakeImage('broken'),
    });
    await markImageFailed(db, image.id, 'cannot decode');
    expect(await imagesStillMissing(db, (await testFeatureSet(db, 'tiny')).id, [image.id])).toEqual([]);
    const [row] = await db.select().from(images).where(eq(images.id, image.id));
    expect(row).toMatchObject({ status: 'failed', error: 'cannot decode' });
  });
});
