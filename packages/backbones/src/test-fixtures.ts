// Tiny models and images the tests build themselves (no downloads, no shared data).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

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
  return process.env.EDGEHEAD_SHARED_DIR ?? path.resolve(import.meta.dirname, '../../../../shared');
}
