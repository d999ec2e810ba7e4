import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.ts';
import { loadBackbone } from '../load.ts';
import { buildVgg16 } from '../models/vgg16.ts';
import { tempDir, tinyModel } from '../test-fixtures.ts';
import { writeKerasH5 } from './hdf5.ts';
import { weightsSha256 } from './identity.ts';
import { saveLayersModelFolder } from './tfjs-folder.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
const tiny = (weights: string) =>
  ({ backbone: 'tiny', weights, featureLayer: 'conv_b', preprocessing: 'rescale', warmup: false }) as const;
const shaOf = async (config: Parameters<typeof loadBackbone>[0]) => {
  const b = await loadBackbone(config);
  try {
    return b.info.featureSet.weights.sha256;
  } finally {
    await b.dispose();
  }
};

beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
});
afterAll(() => tmp?.cleanup());

describe('weightsSha256', () => {
  it('hashes each weight of each layer in order as its shape and float32 bytes', () => {
    const model = tinyModel();
    try {
      const want = createHash('sha256');
      for (const name of ['conv_a', 'conv_b', 'logits']) {
        for (const w of model.getLayer(name).getWeights()) {
          const data = w.dataSync() as Float32Array;
          want.update(`${w.shape.join('x')};`);
          want.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        }
      }
      expect(weightsSha256(model)).toBe(want.digest('hex'));
    } finally {
      model.dispose();
    }
  });

  it('is the same for the same weights in either TF.js format, and changes with the weights', async () => {
    const model = tinyModel({ seed: 3 });
    await saveLayersModelFolder(model, path.join(tmp.dir, 'a-current'));
    await saveLayersModelFolder(model, path.join(tmp.dir, 'a-legacy'), { legacy: true });
    await saveLayersModelFolder(tinyModel({ seed: 4 }), path.join(tmp.dir, 'b'));
    // a model that differs only above the feature layer (its classifier) computes the same features
    const top = tinyModel({ seed: 3 });
    const logits = top.getLayer('logits');
    logits.setWeights(logits.getWeights().map((w) => tf.add(w, 1)));
    await saveLayersModelFolder(top, path.join(tmp.dir, 'a-other-top'));
    model.dispose();
    top.dispose();

    const current = await shaOf(tiny(path.join(tmp.dir, 'a-current')));
    expect(current).toMatch(/^[0-9a-f]{64}$/);
    expect(await shaOf(tiny(path.join(tmp.dir, 'a-legacy')))).toBe(current);
    expect(await shaOf(tiny(path.join(tmp.dir, 'a-other-top')))).toBe(current);
    expect(await shaOf(tiny(path.join(tmp.dir, 'b')))).not.toBe(current);
  });

  it('is the same for VGG16 weights from a Keras .h5 file, a TF.js folder and the seeded random build', async () => {
    const random = buildVgg16({ seed: 5 });
    const layers = random.layers.map((layer) => ({
      name: layer.name,
      weights: layer.getWeights().map((t, i) => ({
        name: `${layer.name}/${i === 0 ? 'kernel' : 'bias'}:0`,
        shape: t.shape,
        data: t.dataSync() as Float32Array,
      })),
    }));
    const h5 = path.join(tmp.dir, 'vgg16.h5');
    await writeFile(h5, await writeKerasH5(layers));
    await saveLayersModelFolder(random, path.join(tmp.dir, 'vgg16-tfjs'));
    const want = weightsSha256(random);
    random.dispose();
    expect(await shaOf({ backbone: 'vgg16', weights: 'random', seed: 5, warmup: false })).toBe(want);
    expect(await shaOf({ backbone: 'vgg16', weights: h5, warmup: false })).toBe(want);
    expect(await shaOf({ backbone: 'vgg16', weights: path.join(tmp.dir, 'vgg16-tfjs'), warmup: false })).toBe(
      want,
    );
    expect(await shaOf({ backbone: 'vgg16', weights: 'random', seed: 6, warmup: false })).not.toBe(want);
  }, 120_000);
});
