import { BackboneError, frozenActivations, splitBackbone } from '@edgehead/backbones';
import { headConfigRequest } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTrainingBackend } from './backend.ts';
import { seededRandom } from './data.ts';
import { TrainingError } from './errors.ts';
import { type FineTuneConfig, fineTune } from './finetune.ts';
import { trainHead } from './train.ts';

/** 12x12x3 -> conv_a(4) -> pool -> conv_b(4) -> bn_b -> relu_b: features 6x6x4 (a tiny conv backbone). */
function tinyBackbone(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [12, 12, 3], name: 'image' });
  let x = tf.layers
    .conv2d({
      name: 'conv_a',
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(1),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ name: 'conv_b', filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(2) })
    .apply(x) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({
    name: 'bn_b',
    movingMeanInitializer: tf.initializers.constant({ value: 0.1 }),
    movingVarianceInitializer: tf.initializers.constant({ value: 2 }),
  });
  x = bn.apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ name: 'relu_b', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: 'tiny' });
}

/**
 * Stripes: class 0 horizontal, class 1 vertical, random phase and brightness, plus noise. Separable, but
 * a random conv_b averaged over the image says little about orientation.
 */
function stripes(n: number, seed: number): { images: Uint8Array[]; labels: Int32Array } {
  const random = seededRandom(seed);
  const images: Uint8Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const phase = Math.floor(random() * 4);
    const base = 60 + random() * 80;
    const img = new Uint8Array(12 * 12 * 3);
    for (let y = 0; y < 12; y++) {
      for (let x = 0; x < 12; x++) {
        const on = ((label === 0 ? y : x) + phase) % 4 < 2;
        for (let c = 0; c < 3; c++) img[(y * 12 + x) * 3 + c] = base + (on ? 60 : 0) + random() * 10;
      }
    }
    images.push(img);
    labels[i] = label;
  }
  return { images, labels };
}

const head = headConfigRequest.parse({
  preset: 'keras-vgg16-feature-extraction',
  pooling: 'avg',
  hiddenUnits: 8,
  dropout: 0.1,
  learningRate: 0.01,
  epochs: 60,
  batchSize: 16,
  seed: 1,
});
const tune: FineTuneConfig = {
  optimizer: 'rmsprop',
  learningRate: 0.001,
  momentum: 0,
  epochs: 10,
  batchSize: 16,
  seed: 1,
};

let backbone: tf.LayersModel;
const trainSet = stripes(160, 1);
const valSet = stripes(80, 2);
const unfreeze = ['conv_b', 'bn_b'];
let headOnly: Awaited<ReturnType<typeof trainHead>>;
let cut: { train: Float32Array; validation: Float32Array };

beforeAll(async () => {
  await initTrainingBackend('cpu');
  backbone = tinyBackbone();
  const features = async (images: Uint8Array[]) =>
    frozenActivations(backbone, images, { preprocessing: 'tf', batchSize: 32 });
  headOnly = await trainHead(
    {
      featureShape: [6, 6, 4],
      numClasses: 2,
      train: { features: await features(trainSet.images), labels: trainSet.labels },
      validation: { features: await features(valSet.images), labels: valSet.labels },
    },
    head,
    { backend: 'cpu' },
  );
  const { frozen } = splitBackbone(backbone, unfreeze);
  const acts = (images: Uint8Array[]) => frozenActivations(frozen, images, { preprocessing: 'tf' });
  cut = { train: await acts(trainSet.images), validation: await acts(valSet.images) };
}, 120_000);

const input = () => ({
  backbone,
  unfreeze,
  head: headOnly.model,
  pooling: 'none' as const,
  train: { features: cut.train, labels: trainSet.labels },
  validation: { features: cut.validation, labels: valSet.labels },
});

const weightsByName = (model: tf.LayersModel) =>
  new Map(model.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));

describe('fineTune', { timeout: 120_000 }, () => {
  it('improves over the head alone on a separable set', async () => {
    const result = await fineTune(input(), tune, { backend: 'cpu' });
    // The head alone plateaus (60 epochs): the frozen conv_b averaged over the image hides the orientation.
    const headBest = Math.max(...headOnly.history.map((m) => m.valAccuracy as number));
    const after = result.history.at(-1)?.valAccuracy as number;
    expect(result.status).toBe('completed');
    expect(result.history).toHaveLength(10);
    expect(after).toBeGreaterThanOrEqual(0.95);
    expect(after - headBest).toBeGreaterThanOrEqual(0.05);
    result.backbone.dispose();
    result.head.dispose();
  });

  it('learns from augmented copies: blank originals with real copies still reach the same accuracy', async () => {
    const blank = { features: new Float32Array(cut.train.length), labels: trainSet.labels };
    // two copies per image, copy c of image i at row i * 2 + c (both the image's real activations)
    const len = cut.train.length / trainSet.labels.length;
    const copies = new Float32Array(cut.train.length * 2);
    for (let i = 0; i < trainSet.labels.length; i++) {
      const row = cut.train.subarray(i * len, (i + 1) * len);
      copies.set(row, i * 2 * len);
      copies.set(row, (i * 2 + 1) * len);
    }
    const plain = await fineTune({ ...input(), train: blank }, tune, { backend: 'cpu' });
    const augmented = await fineTune(
      { ...input(), train: blank, augmented: { copies: 2, features: copies } },
      tune,
      { backend: 'cpu' },
    );
    const last = (r: typeof plain) => r.history.at(-1)?.valAccuracy as number;
    // blank originals alone teach nothing: the run keeps about what the head knew, the copies lift it
    expect(last(augmented)).toBeGreaterThanOrEqual(0.95);
    expect(last(augmented) - last(plain)).toBeGreaterThanOrEqual(0.2);
    const short = await fineTune({ ...input(), augmented: { copies: 2, features: cut.train } }, tune, {
      backend: 'cpu',
    }).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(TrainingError);
    expect((short as Error).message).toMatch(/augmented.features: .* expected 160 rows x 2 copies x 144/);
    for (const r of [plain, augmented]) {
      r.backbone.dispose();
      r.head.dispose();
    }
  });

  it('changes only the unfrozen layers: every other weight, BatchNorm statistics included, is bit-identical', async () => {
    const tensors = tf.memory().numTensors;
    const original = weightsByName(backbone);
    const originalHead = weightsByName(headOnly.model);
    const result = await fineTune(input(), { ...tune, epochs: 2 }, { backend: 'cpu' });
    const tuned = weightsByName(result.backbone);
    expect([...tuned.keys()]).toEqual([...original.keys()]);
    const changed = [...tuned].filter(([name, v]) => v.join() !== original.get(name)?.join()).map(([n]) => n);
    expect(changed.sort()).toEqual(['bn_b/beta', 'bn_b/gamma', 'conv_b/bias', 'conv_b/kernel']);
    expect(tuned.get('bn_b/moving_mean')).toEqual(original.get('bn_b/moving_mean'));
    expect(tuned.get('bn_b/moving_variance')).toEqual(original.get('bn_b/moving_variance'));
    // the inputs are left as they were; the head was trained along
    expect(weightsByName(backbone)).toEqual(original);
    expect(weightsByName(headOnly.model)).toEqual(originalHead);
    expect(weightsByName(result.head)).not.toEqual(originalHead);
    expect(result).toMatchObject({ unfrozen: ['conv_b', 'bn_b'], cutLayer: 'pool' });
    expect(result.backbone.layers.every((l) => !l.trainable)).toBe(true);
    result.backbone.dispose();
    result.head.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('repeats itself bit for bit with the same seed, and not with another', async () => {
    const run = (seed: number) => fineTune(input(), { ...tune, epochs: 2, seed }, { backend: 'cpu' });
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    expect(weightsByName(b.backbone)).toEqual(weightsByName(a.backbone));
    expect(b.history.map((m) => m.loss)).toEqual(a.history.map((m) => m.loss));
    expect(weightsByName(c.backbone)).not.toEqual(weightsByName(a.backbone));
    for (const r of [a, b, c]) {
      r.backbone.dispose();
      r.head.dispose();
    }
  });

  it('runs on wasm too, with the gradient kernels wasm lacks', async () => {
    const cpu = await fineTune(input(), { ...tune, epochs: 1 }, { backend: 'cpu' });
    const wasm = await fineTune(input(), { ...tune, epochs: 1 }, { backend: 'wasm' });
    expect(wasm.backend).toBe('wasm');
    const want = weightsByName(cpu.backbone);
    for (const [name, values] of weightsByName(wasm.backbone)) {
      const ref = want.get(name) as number[];
      const worst = Math.max(...values.map((v, i) => Math.abs(v - (ref[i] as number))));
      expect(worst, name).toBeLessThan(1e-4);
    }
    await initTrainingBackend('cpu');
    backbone = tinyBackbone();
    for (const r of [cpu, wasm]) {
      r.backbone.dispose();
      r.head.dispose();
    }
  });

  it('reports each epoch and stops between batches when cancelled', async () => {
    const controller = new AbortController();
    const epochs: number[] = [];
    const result = await fineTune(
      input(),
      { ...tune, epochs: 5 },
      {
        backend: 'cpu',
        signal: controller.signal,
        onEpoch: (m) => {
          epochs.push(m.epoch);
          if (m.epoch === 2) controller.abort();
        },
      },
    );
    expect(result.status).toBe('cancelled');
    expect(epochs).toEqual([1, 2]);
    result.backbone.dispose();
    result.head.dispose();
  });

  it('names the offending field of an unknown layer or one below frozen layers', async () => {
    const fail = (unfreeze: string[]) =>
      fineTune({ ...input(), unfreeze }, tune, { backend: 'cpu' }).catch((e) => e);
    const unknown = await fail(['conv_b', 'conv_q']);
    expect(unknown).toBeInstanceOf(BackboneError);
    expect(unknown).toMatchObject({
      code: 'unknown_layer',
      details: { field: 'unfreeze[1]', layer: 'conv_q' },
    });
    const deep = await fail(['conv_a']);
    expect(deep).toMatchObject({
      code: 'layer_not_in_top',
      details: { field: 'unfreeze[0]', layer: 'conv_a' },
    });
    expect(deep.message).toMatch(/conv_b, bn_b above it would stay frozen/);
  });

  it('rejects a bad config, activations of another shape and a head that does not fit', async () => {
    const fail = (p: Promise<unknown>) => p.catch((e: unknown) => e);
    const config = await fail(fineTune(input(), { ...tune, epochs: 0 }, { backend: 'cpu' }));
    expect(config).toBeInstanceOf(TrainingError);
    expect((config as Error).message).toMatch(/config\.epochs/);
    const short = await fail(
      fineTune({ ...input(), train: { features: cut.train.subarray(1), labels: trainSet.labels } }, tune),
    );
    expect((short as Error).message).toMatch(/train.features: .* expected 160 labels x 144 features/);
    const wrongHead = await fail(fineTune({ ...input(), pooling: 'avg' }, tune, { backend: 'cpu' }));
    expect(wrongHead).toMatchObject({ code: 'invalid_input' });
    expect((wrongHead as Error).message).toMatch(/head: input \[6, 6, 4\], expected .* 'avg': \[4\]/);
    const functional = tf.model({ inputs: headOnly.model.inputs, outputs: headOnly.model.outputs });
    const notSequential = await fail(fineTune({ ...input(), head: functional }, tune, { backend: 'cpu' }));
    expect((notSequential as Error).message).toMatch(/head: a Model, expected a Sequential/);
  });
});
