import { describe, expect, it } from 'vitest';
import { addImage, createDataset, featureSplitCounts, saveFeatures } from './index.ts';
import { fakeImage, testFeatureSet, useTestDatabase } from './test-setup.ts';

const database = useTestDatabase();

describe('featureSplitCounts', () => {
  it('counts stored vectors per split for one feature set only', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'split-counts', classes: ['a', 'b'] });
    const splits = ['train', 'train', 'validation', 'test', 'test', 'test'];
    const ids: string[] = [];
    for (const [i, split] of splits.entries()) {
      const img = fakeImage(`split-counts-${i}`);
      const { image } = await addImage(db, {
        datasetId: ds.id,
        split,
        label: 'a',
        width: 1,
        height: 1,
        bytes: 1,
        ...img,
      });
      ids.push(image.id);
    }
    const [fs, other, missing] = [
      await testFeatureSet(db, 'fs'),
      await testFeatureSet(db, 'other'),
      await testFeatureSet(db, 'missing'),
    ];
    const vector = (imageId: string, featureSetId: string) => ({
      imageId,
      featureSetId,
      shape: [2],
      values: new Float32Array([1, 2]),
    });
    await saveFeatures(
      db,
      ids.map((id) => vector(id, fs.id)),
    );
    await saveFeatures(db, [vector(ids[0] as string, other.id)]);

    expect(await featureSplitCounts(db, ds.id, fs.id)).toEqual({ train: 2, validation: 1, test: 3 });
    expect(await featureSplitCounts(db, ds.id, other.id)).toEqual({ train: 1, validation: 0, test: 0 });
    expect(await featureSplitCounts(db, ds.id, missing.id)).toEqual({ train: 0, validation: 0, test: 0 });
  });
});
