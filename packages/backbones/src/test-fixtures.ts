// Tiny models and images the tests build themselves (no downloads, no shared data).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { sharedDirFromEnv } from './env.ts';
import { BackboneError } from './errors.ts';

/** 8x8x3 input -> conv_a(4) -> pool -> conv_b(6) = feature 4x4x6 -> gap -> logits(2). */
export function tinyModel(
  options: { seed?: number; convBFilters?: number; convBName?: string } = {},
): tf.LayersModel {
  const seed = options.seed ?? 1;
  const init = (k: number) =>
    tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: seed * 10 + k });
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  let x = tf.layers
    .conv2d({
      name: 'conv_a',
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(1),
      biasInitializer: init(2),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({
      name: options.convBName ?? 'conv_b',
      filters: options.convBFilters ?? 6,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(3),
      biasInitializer: init(4),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: 'logits', units: 2, kernelInitializer: init(5) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

/** Deterministic pseudo-random RGB bytes for an h x w image. */
export function noiseImage(h: number, w: number, seed: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** A temporary folder removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgehead-backbones-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The shared data folder (EDGEHEAD_SHARED_DIR or ../shared beside the repository). */
export function sharedDir(): string {
  return sharedDirFromEnv() ?? path.resolve(import.meta.dirname, '../../../../shared');
}

/** Deterministic uniform numbers in [lo, hi) (a small LCG; tests need reproducible, not good, randomness). */
function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

/**
 * Sets every weight of `model` to seeded random values, so that a file round trip that drops, swaps or
 * zeroes any weight changes the features: kernels keep their scale (+-sqrt(3/fan-in)), gammas and
 * variances stay positive, biases, betas and means small.
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  let k = 0;
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const name = w.originalName.split('/').pop() ?? '';
      const s = seed * 7919 + k++;
      if (name === 'count') return tf.scalar(1000 + k); // Normalization's sample count: an integer
      if (/variance|gamma/.test(name)) return tf.tensor(uniform(n, s, 0.5, 1.5), shape);
      if (shape.length >= 2) {
        const fanIn =
          shape.slice(0, -1).reduce((a, b) => a * b, 1) /
          (name.startsWith('depthwise') ? (shape[2] ?? 1) : 1);
        const a = Math.sqrt(3 / fanIn);
        return tf.tensor(uniform(n, s, -a, a), shape);
      }
      return tf.tensor(uniform(n, s, -0.1, 0.1), shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** A model's weights as Keras 2 lays them out: every layer in `model.layers` order, `<layer>/<weight>:0`. */
export function keras2Layers(
  model: tf.LayersModel,
  rename: (layerName: string) => string = (n) => n,
): { name: string; weights: { name: string; shape: number[]; data: Float32Array }[] }[] {
  return model.layers.map((layer) => {
    const name = rename(layer.name);
    return {
      name,
      weights: layer.getWeights().map((t, i) => ({
        name: `${name}/${layer.weights[i]?.originalName.split('/').pop() ?? i}:0`,
        shape: t.shape,
        data: t.dataSync() as Float32Array,
      })),
    };
  });
}

/**
 * Writes `model`'s weights as Keras 3's `model.save_weights('x.weights.h5')` does (keras/src/saving/
 * saving_lib.py, H5IOStore), independently of the loader: `vars` of the model at the root, then per layer
 * of `model.layers` a group `layers/<snake_case class>[_k]/vars` holding `0`, `1`... (Normalization's count
 * as an int64 scalar), empty for layers without weights. `names` (Keras >= 3.6): each `vars` group carries
 * the layer's (or model's) name as an attribute; Keras 3.0-3.5 wrote none.
 */
export async function writeKeras3Weights(
  model: tf.LayersModel,
  options: {
    names?: boolean;
    /** Keras 2.13 wrote this layout under `_layer_checkpoint_dependencies` instead of `layers`. */
    layersGroup?: string;
    /** Damages the file: a weight of the named layer written with another shape, or left out. */
    edit?: (layer: string, i: number, shape: number[]) => number[] | 'drop';
  } = {},
): Promise<Uint8Array> {
  const { writeH5 } = await import('./weights/hdf5.ts');
  const names = options.names ?? true;
  return writeH5((f) => {
    const root = f.create_group('vars');
    if (names) root.create_attribute('name', model.name);
    const layersGroup = f.create_group(options.layersGroup ?? 'layers');
    const seen = new Map<string, number>();
    for (const layer of model.layers) {
      const snake = layer
        .getClassName()
        .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .toLowerCase();
      const n = seen.get(snake) ?? -1;
      seen.set(snake, n + 1);
      const key = n < 0 ? snake : `${snake}_${n + 1}`;
      const weights = layer.getWeights();
      const vars = layersGroup.create_group(key).create_group('vars');
      if (names) vars.create_attribute('name', layer.name);
      for (const [i, t] of weights.entries()) {
        const edited = options.edit?.(layer.name, i, t.shape) ?? t.shape;
        if (edited === 'drop') continue;
        const data = t.dataSync() as Float32Array;
        if (layer.weights[i]?.originalName.endsWith('/count')) {
          vars.create_dataset({
            name: String(i),
            data: BigInt64Array.of(BigInt(data[0] ?? 0)),
            shape: [],
            dtype: '<q',
          });
        } else {
          const size = edited.reduce((a, b) => a * b, 1);
          vars.create_dataset({ name: String(i), data: data.slice(0, size), shape: edited, dtype: '<f' });
        }
      }
    }
  });
}

/** Expects `p` to reject with a BackboneError of `code` whose message matches `message`. */
export async function expectBackboneError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackboneError);
  expect((err as BackboneError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}
