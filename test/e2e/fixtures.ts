// Builds the e2e fixtures: a tiny TF.js backbone with weights written by hand and two visually distinct
// classes of synthetic images (reddish vs bluish noise), laid out split/class/file.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { saveLayersModelFolder } from '@edgehead/backbones';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

/** Input size of the tiny backbone. */
export const TINY_SIZE = 16;

/**
 * A 16x16x3 -> 1x1 conv (6 filters, fixed weights) -> 8x8 average pool backbone: features 2x2x6 that
 * keep the colour of each image quadrant, enough to tell the two classes apart. With `top`, a second 1x1
 * conv (`top`, the identity at first) sits before the pool, for fine-tuning.
 */
export async function writeTinyBackbone(dir: string, options: { top?: boolean } = {}): Promise<void> {
  // the cpu backend is enough to build and save a model (importing backbones registers wasm too)
  await tf.setBackend('cpu');
  await tf.ready();
  const input = tf.input({ shape: [TINY_SIZE, TINY_SIZE, 3], name: 'image' });
  const conv = tf.layers.conv2d({
    name: 'mix',
    filters: 6,
    kernelSize: 1,
    activation: 'linear',
    useBias: true,
  });
  // `top`: a 1x1 convolution above the mix (initially the identity), the layer fine-tuning trains
  const top = options.top
    ? tf.layers.conv2d({ name: 'top', filters: 6, kernelSize: 1, activation: 'linear', useBias: true })
    : null;
  const pool = tf.layers.averagePooling2d({ name: 'features', poolSize: 8, strides: 8 });
  const mixed = conv.apply(input) as tf.SymbolicTensor;
  const output = pool.apply(top ? top.apply(mixed) : mixed) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  top?.setWeights([tf.eye(6).reshape([1, 1, 6, 6]), tf.zeros([6])]);
  // Each filter is a fixed mix of R, G and B (identity for the first three).
  const kernel = [
    [1, 0, 0, 0.5, -1, 0.3],
    [0, 1, 0, 0.5, 0, 0.3],
    [0, 0, 1, -0.5, 1, 0.3],
  ];
  conv.setWeights([tf.tensor4d(kernel.flat(), [1, 1, 3, 6]), tf.zeros([6])]);
  await mkdir(dir, { recursive: true });
  await saveLayersModelFolder(model, dir);
  model.dispose();
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One noisy PNG dominated by `base` (RGB). */
async function noisyImage(base: [number, number, number], seed: number, size = 24): Promise<Buffer> {
  const next = rng(seed);
  const raw = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++)
      raw[i * 3 + c] = Math.max(0, Math.min(255, Math.round((base[c] as number) + (next() - 0.5) * 120)));
  }
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

/** Class name -> dominant colour. */
export const CLASSES: Record<string, [number, number, number]> = { blue: [40, 60, 200], red: [200, 50, 40] };

/** Writes `<dir>/<split>/<class>/<n>.png`; returns the test images with their labels. */
export async function writeDataset(
  dir: string,
  counts = { train: 24, validation: 8, test: 8 },
): Promise<{ file: string; label: string }[]> {
  const tests: { file: string; label: string }[] = [];
  let seed = 1;
  for (const [split, n] of Object.entries(counts)) {
    for (const [label, color] of Object.entries(CLASSES)) {
      const folder = path.join(dir, split, label);
      await mkdir(folder, { recursive: true });
      for (let i = 0; i < n; i++) {
        const file = path.join(folder, `${label}-${i}.png`);
        await writeFile(file, await noisyImage(color, seed++));
        if (split === 'test') tests.push({ file, label });
      }
    }
  }
  return tests;
}
