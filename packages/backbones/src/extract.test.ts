import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { augmentationRequest } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentImage } from './augment.ts';
import { initBackend } from './backend.ts';
import { isBackboneError } from './errors.ts';
import { decodeImage } from './image.ts';
import { loadBackbone } from './load.ts';
import { createExtractorPool } from './pool.ts';
import { noiseImage, sharedDir, tempDir, tinyModel } from './test-fixtures.ts';
import { fileIOHandler, saveLayersModelFolder } from './weights/tfjs-folder.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
let folder: string;
const images = [1, 2, 3, 4, 5].map((s) => noiseImage(8, 8, s));
const config = (extra: object = {}) => ({
  backbone: 'tiny',
  weights: folder,
  featureLayer: 'conv_b',
  preprocessing: 'caffe' as const,
  batchSize: 2,
  ...extra,
});

beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
  folder = path.join(tmp.dir, 'tiny');
  const m = tinyModel();
  await saveLayersModelFolder(m, folder);
  m.dispose();
});
afterAll(() => tmp?.cleanup());

describe('Backbone.extract', () => {
  it('returns one vector per image in order, and does not leak tensors across calls', async () => {
    const b = await loadBackbone(config());
    const once = await b.extract(images);
    expect(once).toHaveLength(5);
    expect(once.every((f) => f.length === 4 * 4 * 6)).toBe(true);
    expect((await b.extract([images[3] as Uint8Array]))[0]).toEqual(once[3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await b.extract(images);
    expect(tf.memory().numTensors).toBe(before);
    await b.dispose();
  });

  it('avg pooling gives the channel means of the feature map', async () => {
    const full = await loadBackbone(config());
    const pooled = await loadBackbone(config({ pooling: 'avg' }));
    expect(pooled.info).toMatchObject({
      featureShape: [6],
      featureSet: { pooling: 'avg', featureShape: [6] },
    });
    // pooling changes the feature set, not the weights
    expect(pooled.info.featureSet.weights).toEqual(full.info.featureSet.weights);
    const [map] = await full.extract(images.slice(0, 1));
    const [avg] = await pooled.extract(images.slice(0, 1));
    const means = Array.from({ length: 6 }, (_, c) => {
      let s = 0;
      for (let p = 0; p < 16; p++) s += (map as Float32Array)[p * 6 + c] as number;
      return s / 16;
    });
    expect(Array.from(avg as Float32Array)).toEqual(means.map((m) => expect.closeTo(m, 3)));
    await full.dispose();
    await pooled.dispose();
  });

  it('rejects images that are not RGB bytes at the input size', async () => {
    const b = await loadBackbone(config({ warmup: false }));
    const err = await b.extract([new Uint8Array(10)]).catch((e: unknown) => e);
    expect(isBackboneError(err, 'invalid_input')).toBe(true);
    expect((err as Error).message).toMatch(/10 bytes, expected 192 RGB bytes \(8x8x3\)/);
    await b.dispose();
  });
});

describe('ExtractorPool', () => {
  it('splits a batch across 2 workers and returns exactly the single-thread output', async () => {
    const single = await loadBackbone(config());
    const pool = await createExtractorPool(config(), { size: 2 });
    try {
      expect(pool.size).toBe(2);
      expect(pool.info).toEqual(single.info);
      expect(pool.backend).toBe('wasm');
      const want = await single.extract(images);
      expect(await pool.extract(images)).toEqual(want);
      expect(await pool.extract(images.slice(0, 1))).toEqual(want.slice(0, 1));
    } finally {
      await pool.dispose();
      await single.dispose();
    }
  }, 30_000);

  it('makes augmented copies in its workers: the vectors of augmentImage copies, image by image', async () => {
    const single = await loadBackbone(config());
    const pool = await createExtractorPool(config(), { size: 2 });
    try {
      const augment = {
        config: augmentationRequest.parse({ copies: 3, seed: 4 }),
        keys: images.map((_, i) => `image-${i}`),
      };
      const copies = images.flatMap((pixels, i) =>
        augmentImage(pixels, [8, 8], augment.config, augment.keys[i] as string),
      );
      const want = await single.extract(copies);
      expect(want).toHaveLength(15);
      expect(await single.extract(images, { augment })).toEqual(want);
      expect(await pool.extract(images, { augment })).toEqual(want);
      // copies differ from the originals, and one key per image is required
      expect(want[0]).not.toEqual((await single.extract(images.slice(0, 1)))[0]);
      const short = { ...augment, keys: augment.keys.slice(1) };
      for (const extractor of [single, pool]) {
        const err = await extractor.extract(images, { augment: short }).catch((e: unknown) => e);
        expect(isBackboneError(err, 'invalid_input')).toBe(true);
        expect((err as Error).message).toMatch(/augment.keys: 4 keys for 5 images/);
      }
    } finally {
      await pool.dispose();
      await single.dispose();
    }
  }, 30_000);

  it('reports a worker that cannot load its model', async () => {
    const err = await createExtractorPool(config({ weights: path.join(tmp.dir, 'nope') }), { size: 1 }).catch(
      (e: unknown) => e,
    );
    expect(isBackboneError(err, 'weights_not_found')).toBe(true);
  }, 30_000);
});

const mobilenet = path.join(sharedDir(), 'models', 'mobilenet_v1_0.75_224');
const photo = path.join(sharedDir(), 'datasets', 'cats_and_dogs_small', 'train', 'cats', 'cat.1.jpg');

describe.skipIf(!existsSync(mobilenet) || !existsSync(photo))('mobilenet_v1_0.75 on a real photo', () => {
  it('gives finite 7x7x768 features, the same twice and the same as tfjs’s own loader', async () => {
    const b = await loadBackbone({ backbone: 'mobilenet_v1_0.75', weights: mobilenet });
    const img = await decodeImage(await readFile(photo), b.info.inputSize);
    const [a] = await b.extract([img.pixels]);
    const [again] = await b.extract([img.pixels]);
    expect(b.info.featureShape).toEqual([7, 7, 768]);
    expect(a).toHaveLength(7 * 7 * 768);
    expect((a as Float32Array).every(Number.isFinite)).toBe(true);
    expect((a as Float32Array).some((v) => v > 0)).toBe(true);
    expect(again).toEqual(a);

    const full = await tf.loadLayersModel(fileIOHandler(mobilenet));
    const cut = tf.model({
      inputs: full.inputs,
      outputs: full.getLayer('conv_pw_13_relu').output as tf.SymbolicTensor,
    });
    const ref = tf.tidy(() => {
      const x = tf.tensor4d(
        Float32Array.from(img.pixels, (v) => v / 127.5 - 1),
        [1, 224, 224, 3],
      );
      return (cut.predict(x) as tf.Tensor).dataSync();
    });
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((ref[i] as number) - ((a as Float32Array)[i] as number)));
    expect(maxDiff).toBeLessThan(1e-4);
    full.dispose();
    await b.dispose();
  }, 30_000);
});
