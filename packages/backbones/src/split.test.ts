import { existsSync } from 'node:fs';
import path from 'node:path';
import { augmentationRequest } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentImage } from './augment.ts';
import { initBackend } from './backend.ts';
import { BackboneError } from './errors.ts';
import { loadBackbone } from './load.ts';
import { buildVgg16 } from './models/vgg16.ts';
import { preprocess } from './preprocess.ts';
import { cloneLayersModel, expandUnfreeze, frozenActivations, splitBackbone } from './split.ts';
import { noiseImage, sharedDir } from './test-fixtures.ts';

beforeAll(async () => {
  await initBackend({ prefer: ['wasm'] });
});

function errorOf(fn: () => unknown): BackboneError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BackboneError) return error;
    throw error;
  }
  throw new Error('expected a BackboneError');
}

/** The same input through the whole model and through frozen then top. */
function composedDifference(model: tf.LayersModel, split: ReturnType<typeof splitBackbone>, seed: number) {
  return tf.tidy(() => {
    const shape = model.inputs[0]?.shape.slice(1) as number[];
    const x = tf.randomUniform([2, ...shape], -1, 1, 'float32', seed);
    const whole = model.predict(x) as tf.Tensor;
    const parts = split.top.predict(split.frozen.predict(x) as tf.Tensor) as tf.Tensor;
    return tf.max(tf.abs(tf.sub(whole, parts))).dataSync()[0] as number;
  });
}

/** input -> conv_a -> conv_b -> conv_c, add(conv_a, conv_c) -> conv_d: a residual connection around b, c. */
function residualModel(): tf.LayersModel {
  const conv = (name: string, seed: number) =>
    tf.layers.conv2d({
      name,
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    });
  const input = tf.input({ shape: [6, 6, 3] });
  const a = conv('conv_a', 1).apply(input) as tf.SymbolicTensor;
  const c = conv('conv_c', 3).apply(conv('conv_b', 2).apply(a)) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'add' }).apply([a, c]) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: conv('conv_d', 4).apply(sum) as tf.SymbolicTensor });
}

describe('splitBackbone', () => {
  it('cuts VGG16 for block5 at block4_pool: 9x9x512 activations at 150x150', () => {
    const vgg = buildVgg16({ zeros: true });
    const split = splitBackbone(vgg, expandUnfreeze('vgg16', ['block5']));
    expect(split).toMatchObject({
      cutLayer: 'block4_pool',
      cutShape: [9, 9, 512],
      unfrozen: ['block5_conv1', 'block5_conv2', 'block5_conv3'],
    });
    expect(split.frozen.outputs[0]?.shape).toEqual([null, 9, 9, 512]);
    expect(split.top.outputs[0]?.shape).toEqual([null, 4, 4, 512]);
    expect(split.top.layers.map((l) => l.name).slice(1)).toEqual([
      'block5_conv1',
      'block5_conv2',
      'block5_conv3',
      'block5_pool',
    ]);
    split.dispose();
    vgg.dispose();
  });

  it('computes what the whole model computes: top(frozen(x)) = model(x)', () => {
    const vgg = buildVgg16({ inputSize: [32, 32], seed: 3 });
    const split = splitBackbone(vgg, expandUnfreeze('vgg16', ['block5']));
    expect(composedDifference(vgg, split, 1)).toBe(0);
    split.dispose();
    vgg.dispose();
  });

  it('leaves the model whole when the split is disposed, and frees nothing twice', () => {
    const tensors = tf.memory().numTensors;
    const model = residualModel();
    const split = splitBackbone(model, ['conv_d']);
    split.dispose();
    const x = tf.ones([1, 6, 6, 3]);
    expect(() => (model.predict(x) as tf.Tensor).dispose()).not.toThrow();
    x.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('moves the cut below a residual connection, keeping the layers in between frozen in the top', () => {
    const model = residualModel();
    const split = splitBackbone(model, ['conv_c', 'conv_d']);
    expect(split.cutLayer).toBe('conv_a');
    expect(split.unfrozen).toEqual(['conv_c', 'conv_d']);
    expect(split.top.layers.map((l) => l.name)).toContain('conv_b');
    expect(composedDifference(model, split, 2)).toBe(0);
    expect(splitBackbone(model, ['conv_d']).cutLayer).toBe('add');
  });

  it('names the entry of an unknown layer', () => {
    const err = errorOf(() => splitBackbone(residualModel(), ['conv_d', 'conv_z']));
    expect(err.code).toBe('unknown_layer');
    expect(err.details).toEqual({ field: 'unfreeze[1]', layer: 'conv_z' });
    expect(err.message).toMatch(
      /unfreeze\[1\]: layer "conv_z" is not in the model; its top layers are .*conv_d/,
    );
  });

  it('refuses a layer below frozen layers with weights, naming what would stay frozen', () => {
    const vgg = buildVgg16({ zeros: true });
    const err = errorOf(() => splitBackbone(vgg, ['block5_conv3', 'block4_conv3']));
    expect(err.code).toBe('layer_not_in_top');
    expect(err.details).toEqual({ field: 'unfreeze[1]', layer: 'block4_conv3' });
    expect(err.message).toMatch(/block5_conv1, block5_conv2 above it would stay frozen/);
    expect(errorOf(() => splitBackbone(vgg, ['block5_pool'])).message).toMatch(
      /unfreeze\[0\]: block5_pool has no weights to train/,
    );
    expect(errorOf(() => splitBackbone(vgg, [])).details).toEqual({ field: 'unfreeze' });
    vgg.dispose();
  });

  it('refuses to unfreeze everything (nothing left to cache)', () => {
    const model = residualModel();
    const err = errorOf(() => splitBackbone(model, ['conv_a', 'conv_b', 'conv_c', 'conv_d']));
    expect(err.code).toBe('invalid_config');
    expect(err.message).toMatch(/nothing below conv_a stays frozen/);
  });
});

describe('expandUnfreeze', () => {
  it('expands the presets of each built-in backbone and passes layer names through', () => {
    expect(expandUnfreeze('vgg16', ['block5'])).toEqual(['block5_conv1', 'block5_conv2', 'block5_conv3']);
    expect(expandUnfreeze('mobilenet_v1_0.75', ['last-block'])).toEqual([
      'conv_dw_13',
      'conv_dw_13_bn',
      'conv_pw_13',
      'conv_pw_13_bn',
    ]);
    expect(expandUnfreeze('mobilenet_v2_0.35', ['last-block'])).toHaveLength(8);
    expect(expandUnfreeze('my-cnn', ['block5', 'fc1'])).toEqual(['block5', 'fc1']);
  });
});

describe.each([
  ['mobilenet_v1_0.75', 'mobilenet_v1_0.75_224', 'conv_pw_12_relu', [7, 7, 768]],
  ['mobilenet_v2_0.35', 'mobilenet_v2_0.35_224_no_top', 'block_15_add', [7, 7, 56]],
] as const)('the %s last-block preset', (backbone, folder, cutLayer, cutShape) => {
  const weights = path.join(sharedDir(), 'models', folder);
  it.skipIf(!existsSync(weights))(
    'cuts below the last block and recomposes the features exactly',
    async () => {
      const net = await loadBackbone({ backbone, weights, warmup: false });
      const model = net.model as tf.LayersModel; // a built-in backbone is a layers model
      const split = splitBackbone(model, expandUnfreeze(backbone, ['last-block']));
      expect(split.cutLayer).toBe(cutLayer);
      expect(split.cutShape).toEqual(cutShape);
      expect(composedDifference(model, split, 4)).toBe(0);
      await net.dispose();
    },
  );
});

describe('frozenActivations', () => {
  it('returns the frozen part of preprocessed images, row-major, in batches', async () => {
    const model = residualModel();
    const { frozen, cutShape } = splitBackbone(model, ['conv_d']);
    const images = [1, 2, 3].map((s) => noiseImage(6, 6, s));
    const got = await frozenActivations(frozen, images, { preprocessing: 'tf', batchSize: 2 });
    const len = cutShape.reduce((a, b) => a * b, 1);
    expect(got).toHaveLength(3 * len);
    const want = tf.tidy(() => {
      const x = tf.tensor4d(preprocess(images[2] as Uint8Array, 'tf'), [1, 6, 6, 3]);
      return (frozen.predict(x) as tf.Tensor).dataSync();
    });
    expect(Array.from(got.subarray(2 * len))).toEqual(Array.from(want));
  });

  it("with augment, returns the activations of each image's copies, copy by copy", async () => {
    const { frozen } = splitBackbone(residualModel(), ['conv_d']);
    const images = [1, 2, 3].map((s) => noiseImage(6, 6, s));
    const augment = { config: augmentationRequest.parse({ copies: 2, seed: 5 }), keys: ['a', 'b', 'c'] };
    const copies = images.flatMap((img, i) =>
      augmentImage(img, [6, 6], augment.config, augment.keys[i] as string),
    );
    const want = await frozenActivations(frozen, copies, { preprocessing: 'tf' });
    expect(await frozenActivations(frozen, images, { preprocessing: 'tf', augment })).toEqual(want);
    await expect(
      frozenActivations(frozen, images, { preprocessing: 'tf', augment: { ...augment, keys: ['a'] } }),
    ).rejects.toThrow(/augment.keys: 1 keys for 3 images/);
  });

  it('rejects an image of the wrong size', async () => {
    const { frozen } = splitBackbone(residualModel(), ['conv_d']);
    await expect(frozenActivations(frozen, [new Uint8Array(10)], { preprocessing: 'tf' })).rejects.toThrow(
      /image 0: 10 bytes, expected 6x6x3 = 108/,
    );
  });
});

describe('cloneLayersModel', () => {
  it('copies topology and weights, and the copy trains without touching the original', async () => {
    const model = residualModel();
    const copy = await cloneLayersModel(model);
    expect(copy.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(copy.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    copy.setWeights(copy.getWeights().map((w) => tf.add(w, 1)));
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    copy.dispose();
  });
});
