import { type HeadConfig, headConfigRequest } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { withAugmentedRows } from './data.ts';
import { TrainingError } from './errors.ts';
import { syntheticFeatures } from './testing.ts';
import { trainHead } from './train.ts';

const base: HeadConfig = headConfigRequest.parse({
  preset: 'keras-vgg16-feature-extraction',
  hiddenUnits: 16,
  learningRate: 0.01,
  epochs: 6,
  batchSize: 16,
  seed: 3,
});

describe('training on an augmented feature set', () => {
  it('appends the copies after the originals and picks one variant of every row per epoch', () => {
    const train = { features: Float32Array.from([0, 1, 2]), labels: Int32Array.from([0, 1, 0]) };
    // copy c of row i holds 10 * (i + 1) + c
    const copies = Float32Array.from([10, 11, 20, 21, 30, 31]);
    const rows = withAugmentedRows(train, 1, { copies: 2, features: copies });
    expect(Array.from(rows.train.features)).toEqual([0, 1, 2, 10, 11, 20, 21, 30, 31]);
    expect(Array.from(rows.train.labels)).toEqual([0, 1, 0, 0, 0, 1, 1, 0, 0]);
    let draw = 0;
    const draws = [0.1, 0.5, 0.9]; // -> variant 0 (original), 1 (copy 0), 2 (copy 1)
    const picked = rows.variant(Int32Array.from([2, 0, 1]), () => draws[draw++] as number);
    expect(Array.from(picked).map((r) => rows.train.features[r])).toEqual([2, 10, 21]);
    expect(() => withAugmentedRows(train, 1, { copies: 2, features: new Float32Array(5) })).toThrow(
      TrainingError,
    );
  });

  it('learns from the copies: uninformative originals with informative copies still separate validation', async () => {
    const data = syntheticFeatures({ n: 120, nVal: 80, dim: 16, numClasses: 2, separation: 1.5 });
    const copies = 2;
    // the originals carry no signal (zeros); every copy is a separable vector of the same class
    const more = syntheticFeatures({ n: 120 * copies, dim: 16, numClasses: 2, separation: 1.5, seed: 9 });
    const augmented = new Float32Array(120 * copies * 16);
    for (let i = 0; i < 120; i++) {
      for (let c = 0; c < copies; c++) {
        // rows of `more` alternate classes; pick one of the row's class
        const src = (2 * (i * copies + c) + (data.train.labels[i] as number)) % (120 * copies);
        augmented.set(more.train.features.subarray(src * 16, src * 16 + 16), (i * copies + c) * 16);
      }
    }
    const blank = { features: new Float32Array(120 * 16), labels: data.train.labels };
    const input = { featureShape: [16], numClasses: 2, train: blank, validation: data.validation };
    const plain = await trainHead(input, base);
    const withCopies = await trainHead({ ...input, augmented: { copies, features: augmented } }, base);
    expect(plain.history.at(-1)?.valAccuracy).toBeLessThanOrEqual(0.6);
    expect(withCopies.history.at(-1)?.valAccuracy).toBeGreaterThanOrEqual(0.9);
    // seeded: the same input and seed give the same curve
    const again = await trainHead({ ...input, augmented: { copies, features: augmented } }, base);
    expect(again.history.map((m) => m.loss)).toEqual(withCopies.history.map((m) => m.loss));
    for (const r of [plain, withCopies, again]) r.model.dispose();
  });
});
