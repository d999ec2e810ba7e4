import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.ts';
import type { BackboneError } from '../errors.ts';
import { loadBackbone } from '../load.ts';
import { VGG16_LAYERS } from '../models/vgg16.ts';
import { expectBackboneError, noiseImage, tempDir, tinyModel } from '../test-fixtures.ts';
import { assignWeights } from './assign.ts';
import { readKerasH5, type WeightArray, writeKerasH5 } from './hdf5.ts';
import { kerasLookup } from './keras-order.ts';
import { fileIOHandler, saveLayersModelFolder } from './tfjs-folder.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
let reference: tf.LayersModel;
const userConfig = (weights: string) =>
  ({ backbone: 'tiny', weights, featureLayer: 'conv_b', preprocessing: 'rescale', warmup: false }) as const;

/** What the tiny model's conv_b gives for an image, computed directly with tfjs. */
function expectedFeatures(model: tf.LayersModel, img: Uint8Array): Float32Array {
  return tf.tidy(() => {
    const cut = tf.model({
      inputs: model.inputs,
      outputs: model.getLayer('conv_b').output as tf.SymbolicTensor,
    });
    const x = tf.tensor4d(
      Float32Array.from(img, (v) => v * Math.fround(1 / 255)),
      [1, 8, 8, 3],
    );
    return (cut.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
}

beforeAll(async () => {
  await initBackend();
  tmp = await tempDir();
  reference = tinyModel();
  await saveLayersModelFolder(reference, path.join(tmp.dir, 'current'));
  await saveLayersModelFolder(reference, path.join(tmp.dir, 'legacy'), { legacy: true });
});
afterAll(async () => {
  reference?.dispose();
  await tmp?.cleanup();
});

describe('TF.js layers folder', () => {
  it.each(['current', 'legacy'])(
    'loads the %s format and gives the same features as the source model',
    async (f) => {
      const json = JSON.parse(await readFile(path.join(tmp.dir, f, 'model.json'), 'utf8'));
      expect('format' in json).toBe(f === 'current');
      const b = await loadBackbone(userConfig(path.join(tmp.dir, f)));
      try {
        expect(b.info).toMatchObject({
          name: 'tiny',
          inputSize: [8, 8],
          featureShape: [4, 4, 6],
          featureSet: {
            backbone: 'tiny',
            featureLayer: 'conv_b',
            inputSize: [8, 8],
            featureShape: [4, 4, 6],
          },
        });
        const img = noiseImage(8, 8, 3);
        const [got] = await b.extract([img]);
        const want = expectedFeatures(reference, img);
        expect(Array.from(got ?? [])).toEqual(Array.from(want).map((v) => expect.closeTo(v, 6)));
      } finally {
        await b.dispose();
      }
    },
  );

  it('is readable by tf.loadLayersModel through fileIOHandler (legacy model.json)', async () => {
    const m = await tf.loadLayersModel(fileIOHandler(path.join(tmp.dir, 'legacy')));
    expect(m.getLayer('conv_b').getWeights()[0]?.arraySync()).toEqual(
      reference.getLayer('conv_b').getWeights()[0]?.arraySync(),
    );
    m.dispose();
  });

  it('reports a truncated weight file naming the first weight that does not fit', async () => {
    const dir = path.join(tmp.dir, 'truncated');
    await saveLayersModelFolder(reference, dir);
    const bin = await readFile(path.join(dir, 'weights.bin'));
    await writeFile(path.join(dir, 'weights.bin'), bin.subarray(0, bin.length - 20));
    await expectBackboneError(
      loadBackbone(userConfig(dir)),
      'weights_truncated',
      /weight logits\/\w+ .* truncated/,
    );
  });

  it('reports a missing shard and a damaged model.json', async () => {
    const dir = path.join(tmp.dir, 'broken');
    await saveLayersModelFolder(reference, dir);
    const json = await readFile(path.join(dir, 'model.json'), 'utf8');
    await writeFile(path.join(dir, 'model.json'), json.replace('"weights.bin"', '"gone.bin"'));
    await expectBackboneError(loadBackbone(userConfig(dir)), 'weights_not_found', /gone\.bin .* missing/);
    await writeFile(path.join(dir, 'model.json'), json.slice(0, 100));
    await expectBackboneError(loadBackbone(userConfig(dir)), 'weights_corrupt', /not valid JSON/);
    await expectBackboneError(
      loadBackbone(userConfig(path.join(tmp.dir, 'nowhere'))),
      'weights_not_found',
      /does not exist/,
    );
  });

  it('names the layer and both shapes when weights do not fit the topology', async () => {
    const dir = path.join(tmp.dir, 'wrong-shape');
    await saveLayersModelFolder(reference, dir);
    const other = path.join(tmp.dir, 'other');
    const narrow = tinyModel({ convBFilters: 5 });
    await saveLayersModelFolder(narrow, other);
    narrow.dispose();
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    json.weightsManifest = JSON.parse(await readFile(path.join(other, 'model.json'), 'utf8')).weightsManifest;
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await writeFile(path.join(dir, 'weights.bin'), await readFile(path.join(other, 'weights.bin')));
    await expectBackboneError(
      loadBackbone(userConfig(dir)),
      'weights_shape_mismatch',
      /layer conv_b: kernel shape \[3,3,4,5\], expected \[3,3,4,6\]/,
    );
  });

  it('names a layer the weights lack', async () => {
    const dir = path.join(tmp.dir, 'missing-layer');
    await saveLayersModelFolder(reference, dir);
    const renamed = tinyModel({ convBName: 'conv_c' });
    const other = path.join(tmp.dir, 'renamed');
    await saveLayersModelFolder(renamed, other);
    renamed.dispose();
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    json.weightsManifest = JSON.parse(await readFile(path.join(other, 'model.json'), 'utf8')).weightsManifest;
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await writeFile(path.join(dir, 'weights.bin'), await readFile(path.join(other, 'weights.bin')));
    await expectBackboneError(
      loadBackbone(userConfig(dir)),
      'weights_missing_layer',
      /layer conv_b has no kernel weight/,
    );
  });
});

/** Keras-layout weights of a model's layers, optionally with Keras 1 names (`conv_W_1:0`). */
function kerasLayers(model: tf.LayersModel, keras1 = false): { name: string; weights: WeightArray[] }[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    weights: layer.getWeights().map((t, i) => ({
      name: keras1
        ? `${layer.name}_${i === 0 ? 'W' : 'b'}_1:0`
        : `${layer.name}/${i === 0 ? 'kernel' : 'bias'}:0`,
      shape: t.shape,
      data: t.dataSync() as Float32Array,
    })),
  }));
}

describe('Keras HDF5 weights', () => {
  it('loads the full VGG16 no-top layout (Keras 1 weight names) into the vgg16 backbone', async () => {
    // Same layer list and shapes as vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, synthetic values.
    const layers = [
      { name: 'input_1', weights: [] as WeightArray[] },
      ...VGG16_LAYERS.map((l, li) => ({
        name: l.name,
        weights:
          'kernel' in l
            ? [
                { name: `${l.name}_W_1:0`, shape: [...l.kernel], data: ramp(l.kernel, li) },
                { name: `${l.name}_b_1:0`, shape: [...l.bias], data: ramp(l.bias, li + 0.5) },
              ]
            : [],
      })),
    ];
    const file = path.join(tmp.dir, 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5');
    await writeFile(file, await writeKerasH5(layers));
    const b = await loadBackbone({ backbone: 'vgg16', weights: file, warmup: false });
    try {
      for (const name of ['block1_conv1', 'block5_conv3']) {
        const li = VGG16_LAYERS.findIndex((l) => l.name === name);
        const [k, bias] = (b.model as tf.LayersModel).getLayer(name).getWeights();
        const spec = VGG16_LAYERS[li] as unknown as { kernel: number[]; bias: number[] };
        expect(Array.from((k?.dataSync() ?? []).slice(0, 50))).toEqual(
          Array.from(ramp(spec.kernel, li).slice(0, 50)),
        );
        expect(Array.from(bias?.dataSync() ?? [])).toEqual(Array.from(ramp(spec.bias, li + 0.5)));
      }
    } finally {
      await b.dispose();
    }
  }, 30_000);

  it('loads a Keras 2 file by layer order and rejects wrong shapes and layer counts, naming the layer', async () => {
    const file = path.join(tmp.dir, 'tiny.h5');
    // Other names than the model's, as in a Keras 2.0 file: Keras matches layers by order, so do we.
    await writeFile(
      file,
      await writeKerasH5(kerasLayers(reference).map((l, i) => ({ ...l, name: `layer_${i}` }))),
    );
    const target = tinyModel({ seed: 7 });
    const weights = await readKerasH5(file);
    assignWeights(target, kerasLookup(target, weights, file), file);
    expect(target.getLayer('conv_b').getWeights()[0]?.dataSync()).toEqual(
      reference.getLayer('conv_b').getWeights()[0]?.dataSync(),
    );
    const narrow = tinyModel({ convBFilters: 5 });
    try {
      assignWeights(narrow, kerasLookup(narrow, weights, file), file);
      expect.unreachable();
    } catch (err) {
      expect((err as BackboneError).code).toBe('weights_shape_mismatch');
      expect((err as Error).message).toMatch(
        /layer conv_b: kernel shape \[3,3,4,6\], expected \[3,3,4,5\] \(stored as layer_3\/conv_b\/kernel:0\)/,
      );
    }
    const short = {
      layout: 'keras2' as const,
      layers: weights.layout === 'keras2' ? weights.layers.slice(0, 2) : [],
    };
    expect(() => kerasLookup(narrow, short, 'x.h5')).toThrow(
      /holds weights for 1 layers, the model has 3 layers with weights .* differ at #1: model conv_b \(kernel \[3,3,4,5\], bias \[5\]\), file nothing/,
    );
    narrow.dispose();
    target.dispose();
  });

  it('rejects files that are not HDF5 and truncated HDF5 files', async () => {
    const bad = path.join(tmp.dir, 'bad.h5');
    await writeFile(bad, 'not hdf5 at all');
    await expectBackboneError(readKerasH5(bad), 'weights_corrupt', /not an HDF5 file/);
    const good = await writeKerasH5(kerasLayers(reference));
    await writeFile(bad, good.subarray(0, Math.floor(good.length / 2)));
    await expectBackboneError(readKerasH5(bad), 'weights_corrupt', /truncated or damaged/);
    await expectBackboneError(
      loadBackbone({ backbone: 'vgg16', weights: bad, warmup: false }),
      'weights_corrupt',
      /truncated or damaged/,
    );
  });
});

function ramp(shape: readonly number[], salt: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround((((i * 7 + salt * 13) % 101) - 50) / 1000);
  return out;
}
