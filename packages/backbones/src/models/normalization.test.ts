import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.ts';
import { tempDir } from '../test-fixtures.ts';
import { fileIOHandler, saveLayersModelFolder } from '../weights/tfjs-folder.ts';
import { Normalization } from './normalization.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
});
afterAll(() => tmp?.cleanup());

/** A model of one Normalization layer over 3 channels with the given statistics. */
function normalizer(mean: number[], variance: number[]): tf.LayersModel {
  const input = tf.input({ shape: [2, 2, 3] });
  const layer = new Normalization({ name: 'normalization' });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  layer.setWeights([tf.tensor1d(mean), tf.tensor1d(variance), tf.scalar(1000)]);
  return model;
}

describe('Normalization (Keras preprocessing layer)', () => {
  it("computes (x - mean) / max(sqrt(variance), 1e-7) per channel with Keras' three weights", () => {
    const model = normalizer([0.485, 0.456, 0.406], [0.229, 0.224, 0.0]);
    expect(model.countParams()).toBe(7);
    expect(model.getLayer('normalization').weights.map((w) => w.originalName)).toEqual([
      'normalization/mean',
      'normalization/variance',
      'normalization/count',
    ]);
    const x = tf.tensor4d(
      Array.from({ length: 12 }, (_, i) => i / 11),
      [1, 2, 2, 3],
    );
    const got = (model.predict(x) as tf.Tensor).dataSync();
    const want = tf.tidy(() => {
      const sd = tf.maximum(tf.sqrt(tf.tensor1d([0.229, 0.224, 0])), 1e-7);
      return tf.div(tf.sub(x, tf.tensor1d([0.485, 0.456, 0.406])), sd).dataSync();
    });
    expect(Array.from(got)).toEqual(Array.from(want));
    // A zero variance divides by Keras' epsilon instead of producing infinities.
    expect(got[2]).toBeCloseTo((2 / 11 - 0.406) / 1e-7, -2);
    tf.dispose(x);
    model.dispose();
  });

  it('saves to a TF.js layers folder and loads back through tfjs serialization', async () => {
    const model = normalizer([1, 2, 3], [4, 9, 16]);
    const dir = path.join(tmp.dir, 'norm');
    await saveLayersModelFolder(model, dir);
    const loaded = await tf.loadLayersModel(fileIOHandler(dir));
    expect(loaded.getLayer('normalization').getClassName()).toBe('Normalization');
    const x = tf.ones([1, 2, 2, 3]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync().slice(0, 3))).toEqual([
      0,
      Math.fround(-1 / 3),
      -0.5,
    ]);
    tf.dispose(x);
    model.dispose();
    loaded.dispose();
  });
});
