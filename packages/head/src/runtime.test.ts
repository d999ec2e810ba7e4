import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHead } from './artifact.ts';
import { artifactOf, binaryFields, randomizeBiases, recipeHead } from './fixtures.test-util.ts';
import { toPredictions } from './predictions.ts';
import type { KernelKind } from './runtime.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

async function expectParity(
  model: tf.LayersModel,
  fields: Parameters<typeof artifactOf>[1],
  rows: number,
  kernel: KernelKind,
) {
  const files = await artifactOf(model, fields);
  const head = await loadHead(files, { kernel });
  expect(head.model.kernel).toBe(kernel);
  const shape = fields.featureShape;
  const input = tf.randomUniform([rows, ...shape], 0, 2, 'float32', 7);
  const expected = (model.predict(input) as tf.Tensor).dataSync();
  const x = input.dataSync() as Float32Array;
  const batch = head.model.predict(x, rows).slice();
  expect(maxAbsDiff(batch, expected)).toBeLessThanOrEqual(1e-5);
  // one vector at a time gives the same numbers as the batch
  const single = head.model.predict(x.subarray(0, head.model.inputSize), 1);
  expect(maxAbsDiff(single, batch.subarray(0, head.model.outputSize))).toBeLessThanOrEqual(1e-6);
  input.dispose();
  return { head, expected };
}

describe.each(['wasm', 'js'] as const)('head runtime (%s kernel) matches tfjs model.predict', (kernel) => {
  it('on the recipe head flatten->Dense(256,relu)->Dropout->Dense(1,sigmoid) over [4,4,512]', async () => {
    const model = recipeHead();
    randomizeBiases(model, 1);
    await expectParity(model, binaryFields([4, 4, 512]), 5, kernel);
  });

  it('on a softmax multi-class head with a tanh hidden layer and odd widths', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [37], units: 19, activation: 'tanh' }),
        tf.layers.dense({ units: 5, activation: 'softmax' }),
      ],
    });
    randomizeBiases(model, 2);
    const fields = {
      ...binaryFields([37]),
      task: 'multiclass' as const,
      classes: ['a', 'b', 'c', 'd', 'e'],
      threshold: null,
    };
    const { head, expected } = await expectParity(model, fields, 9, kernel);
    const preds = toPredictions(head.manifest, Float32Array.from(expected), 9);
    for (const [r, p] of preds.entries()) {
      const row = Array.from(expected.subarray(r * 5, r * 5 + 5));
      expect(p.label).toBe(fields.classes[row.indexOf(Math.max(...row))]);
      expect(Object.keys(p.probabilities)).toEqual(fields.classes);
    }
  });

  it('on a functional GlobalAveragePooling2D head over [7,7,768]', async () => {
    const input = tf.input({ shape: [7, 7, 768] });
    const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 32, activation: 'relu' }).apply(pooled) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(hidden) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomizeBiases(model, 3);
    const fields = {
      ...binaryFields([7, 7, 768]),
      task: 'multiclass' as const,
      classes: ['x', 'y', 'z'],
      threshold: null,
    };
    await expectParity(model, fields, 4, kernel);
  });
});

describe('predictions', () => {
  it('label a binary head by its threshold on P(classes[1])', async () => {
    const model = recipeHead([2, 4], 4);
    const head = await loadHead(await artifactOf(model, { ...binaryFields([2, 4]), threshold: 0.7 }));
    const preds = toPredictions(head.manifest, Float32Array.from([0.69, 0.7, 0.1]), 3);
    expect(preds.map((p) => p.label)).toEqual(['cats', 'dogs', 'cats']);
    expect(preds[0]?.probabilities.dogs).toBeCloseTo(0.69, 6);
    expect(preds[0]?.probabilities.cats).toBeCloseTo(0.31, 6);
  });
});
