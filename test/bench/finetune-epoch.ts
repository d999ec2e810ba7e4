/**
 * Seconds per fine-tuning epoch of the MobileNet last-block presets (../shared weights, activations at the
 * cut computed once from shared photos, recipe head on avg-pooled features, RMSprop 1e-5, batch 20), on
 * wasm with @edgehead/training's conv gradient kernels vs tfjs-backend-cpu's own kernels, in one run; plus
 * the frozen part's forward pass over the same images on wasm (what the cache saves every epoch).
 *
 * Run: npx tsx test/bench/finetune-epoch.ts   (writes bench-results/finetune-epoch.json)
 *   BENCH_IMAGES=40      photos per run (default 40; timings are scaled to 2000)
 *   BENCH_CPU_IMAGES=4   photos of the cpu run (default 4, one epoch: its filter gradient is a plain loop,
 *                        about 20 s per photo for MobileNet v1's last block)
 * Smoke mode (EDGEHEAD_BENCH_SMOKE=1): 4 photos, MobileNet v1 only, no cpu run. Without the shared weights
 * and photos it reports itself skipped. Exits non-zero on any error, or when a run trains fewer epochs than
 * asked or reports a non-finite loss.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  decodeImage,
  expandUnfreeze,
  frozenActivations,
  loadBackbone,
  splitBackbone,
} from '@edgehead/backbones';
import { headConfigRequest } from '@edgehead/contracts';
import { buildHeadModel, fineTune, initTrainingBackend, type TrainingBackend } from '@edgehead/training';
import type * as tf from '@tensorflow/tfjs';
import { benchEnv } from './lib/env.ts';
import { BenchReport, envNumber, ROOT, sized } from './lib/harness.ts';

const shared = benchEnv.EDGEHEAD_SHARED_DIR ?? path.resolve(ROOT, '../shared');
const IMAGES = envNumber('BENCH_IMAGES', 40, 4);
const CPU_IMAGES = envNumber('BENCH_CPU_IMAGES', 4, 0);
const TRAIN = 2000;
const recipe = headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' });
const BACKBONES = sized(
  [
    ['mobilenet_v1_0.75', 'mobilenet_v1_0.75_224'],
    ['mobilenet_v2_0.35', 'mobilenet_v2_0.35_224_no_top'],
  ] as const,
  [['mobilenet_v1_0.75', 'mobilenet_v1_0.75_224']] as const,
);
const report = new BenchReport('finetune-epoch');
const photosDir = path.join(shared, 'datasets/cats_and_dogs_small/train');
const missing = [photosDir, ...BACKBONES.map(([, folder]) => path.join(shared, 'models', folder))].filter(
  (p) => !existsSync(p),
);
if (missing.length > 0) {
  console.log(`finetune-epoch skipped: ${missing.join(', ')} absent (set EDGEHEAD_SHARED_DIR)`);
  report.finish([], { skipped: `absent: ${missing.join(', ')}` });
  process.exit();
}

async function photos(n: number): Promise<{ bytes: Buffer[]; labels: Int32Array }> {
  const dir = photosDir;
  const half = Math.ceil(n / 2);
  const bytes: Buffer[] = [];
  for (const cls of ['cats', 'dogs']) {
    const files = (await readdir(path.join(dir, cls))).sort().slice(0, half);
    for (const f of files) bytes.push(await readFile(path.join(dir, cls, f)));
  }
  const labels = Int32Array.from(bytes, (_, i) => (i < half ? 0 : 1));
  return { bytes: bytes.slice(0, n), labels: labels.slice(0, n) };
}

try {
  const rows = [];
  const { bytes, labels } = await photos(Math.max(IMAGES, CPU_IMAGES));
  for (const [name, folder] of BACKBONES) {
    const weights = path.join(shared, 'models', folder);
    const net = await loadBackbone({ backbone: name, weights, warmup: false });
    const model = net.model as tf.LayersModel; // a built-in backbone is a layers model
    const pixels = await Promise.all(
      bytes.map(async (b) => (await decodeImage(b, net.info.inputSize)).pixels),
    );
    const unfreeze = expandUnfreeze(name, ['last-block']);
    const split = splitBackbone(model, unfreeze);
    const started = performance.now();
    const activations = await frozenActivations(split.frozen, pixels, { preprocessing: 'tf', batchSize: 20 });
    const frozenS = ((performance.now() - started) / 1000 / pixels.length) * TRAIN;
    const head = buildHeadModel([net.info.featureShape.at(-1) as number], 2, recipe);
    const dim = split.cutShape.reduce((a, b) => a * b, 1);
    // wasm: the second of two epochs (the first also pays for set-up); cpu: one epoch, set-up is noise there.
    const runs: [TrainingBackend, number, number][] = [['wasm', IMAGES, 2]];
    if (CPU_IMAGES > 0) runs.push(['cpu', CPU_IMAGES, 1]);
    for (const [backend, n, epochs] of runs) {
      const result = await fineTune(
        {
          backbone: model,
          unfreeze,
          head,
          pooling: 'avg',
          train: { features: activations.subarray(0, n * dim), labels: labels.subarray(0, n) },
        },
        { optimizer: 'rmsprop', learningRate: 1e-5, momentum: 0, epochs, batchSize: 20, seed: 0 },
        { backend },
      );
      const losses = result.history.map((h) => h.loss);
      report.check(
        result.history.length === epochs && losses.every((l) => Number.isFinite(l)),
        `${name} on ${backend}: ${result.history.length} of ${epochs} epochs, losses ${losses.join(', ')}`,
      );
      const epochS = (((result.history.at(-1)?.durationMs as number) / 1000) * TRAIN) / n;
      rows.push({ backbone: name, cut: split.cutLayer, backend, images: n, secondsPer2000: epochS, frozenS });
      result.backbone.dispose();
      result.head.dispose();
      await initTrainingBackend('wasm');
    }
    head.dispose();
    await net.dispose();
  }
  for (const r of rows) {
    const cpu = rows.find((c) => c.backbone === r.backbone && c.backend === 'cpu');
    Object.assign(r, { speedupVsCpu: cpu ? cpu.secondsPer2000 / r.secondsPer2000 : null });
  }
  report.finish(
    rows.map((r) => ({
      backbone: r.backbone,
      'frozen part ends at': r.cut,
      backend: r.backend,
      images: r.images,
      's/epoch (2000 images)': r.secondsPer2000.toFixed(1),
      'x cpu': (r as { speedupVsCpu?: number }).speedupVsCpu?.toFixed(1),
      'frozen forward once, s (2000, wasm)': r.frozenS.toFixed(1),
    })),
    { rows },
  );
  process.exit();
} catch (error) {
  console.error(error);
  process.exit(1);
}
