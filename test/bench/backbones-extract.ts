// Benchmark (not a test): VGG16 conv base at 150x150 with random weights on each available backend and
// pool size, sharp decode+resize, MobileNet v1 with the real ../shared weights, and one row per Keras base
// built in code (ResNet50, InceptionV3, EfficientNetB0; seeded random weights, same arithmetic as the
// ImageNet ones) single-threaded and in a pool of 2. GMAC/s (countMacs: convolution and dense
// multiply-accumulates) makes rows of different backbones compare. Ratios are against the wasm
// single-thread VGG16 run measured in this same process (these machines are shared and noisy).
// Run: npx tsx test/bench/backbones-extract.ts   (BENCH_CPU=0 skips the slow cpu backend, BENCH_IMAGES=n,
// BENCH_BACKBONES=resnet50,efficientnet_b0 picks the Keras bases, none with BENCH_BACKBONES=)
// Fails (exit 1) when an extractor returns the wrong number of vectors, a wrong length or a non-finite value.
// Smoke mode: EfficientNetB0 alone among the Keras bases.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import {
  type BackboneConfigInput,
  countMacs,
  createExtractorPool,
  decodeImage,
  type FeatureExtractor,
  getBackboneSpec,
  initBackend,
  loadBackbone,
  vgg16Macs,
} from '@edgehead/backbones';
import type * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { benchEnv } from './lib/env.ts';
import { BenchReport, envNumber, ROOT, SMOKE, sized } from './lib/harness.ts';

const shared = benchEnv.EDGEHEAD_SHARED_DIR ?? path.resolve(ROOT, '../shared');
const N = envNumber('BENCH_IMAGES', 8, 1);
// the cpu backend needs ~30 s per VGG16 image: never in smoke mode
const withCpu = benchEnv.BENCH_CPU !== '0' && !SMOKE;
const report = new BenchReport('backbones-extract');
/** The Keras bases built in code, one row each (plus its pool of 2). */
const KERAS_BASES = (
  benchEnv.BENCH_BACKBONES ?? sized('resnet50,inception_v3,efficientnet_b0', 'efficientnet_b0')
)
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const VGG_MACS = vgg16Macs(150);

interface Row {
  name: string;
  backend: string;
  workers: number;
  batch: number;
  images: number;
  seconds: number;
  imagesPerS: number;
  /** Multiply-accumulates per image (countMacs), null for rows that are not a forward pass. */
  macsPerImage: number | null;
  gmacPerS: number | null;
  ratio: number | null;
}
const rows: Row[] = [];

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Checks that `extractor` gave one finite vector of its feature length per image. */
function checkVectors(extractor: FeatureExtractor, images: number, vectors: Float32Array[]): void {
  const { name, featureLength } = extractor.info;
  report.check(
    vectors.length === images &&
      vectors.every((v) => v.length === featureLength && v.every((x) => Number.isFinite(x))),
    `${name} on ${extractor.backend}: ${vectors.length} vectors for ${images} images, lengths ${vectors.map((v) => v.length).join(',')} (expected ${featureLength}), or a non-finite value`,
  );
}

async function time(extractor: FeatureExtractor, images: Uint8Array[]): Promise<number> {
  await extractor.extract(images.slice(0, Math.max(1, Math.min(images.length, 2)))); // warm-up beyond load
  const t = performance.now();
  const vectors = await extractor.extract(images);
  const seconds = (performance.now() - t) / 1000;
  checkVectors(extractor, images.length, vectors);
  return seconds;
}

function record(
  name: string,
  e: FeatureExtractor,
  workers: number,
  batch: number,
  n: number,
  s: number,
  macs: number | null,
) {
  rows.push({
    name,
    backend: e.backend,
    workers,
    batch,
    images: n,
    seconds: s,
    imagesPerS: n / s,
    macsPerImage: macs,
    gmacPerS: macs === null ? null : (macs * n) / s / 1e9,
    ratio: null,
  });
}

async function photos(limit: number): Promise<Buffer[]> {
  const dir = path.join(shared, 'datasets', 'cats_and_dogs_small', 'train', 'cats');
  if (!existsSync(dir)) {
    return Promise.all(
      Array.from({ length: limit }, (_, i) =>
        sharp(Buffer.from(noise(500 * 375 * 3, i + 1)), { raw: { width: 500, height: 375, channels: 3 } })
          .jpeg()
          .toBuffer(),
      ),
    );
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).slice(0, limit);
  return Promise.all(files.map((f) => readFile(path.join(dir, f))));
}

const backend = await initBackend();
console.log(
  `backend ${backend.name} (simd ${backend.simd}), ${availableParallelism()} cores, ${N} images per run`,
);

// sharp decode + resize
const jpegs = await photos(sized(50, 4));
{
  const t = performance.now();
  for (const j of jpegs) await decodeImage(j, [150, 150]);
  const s = (performance.now() - t) / 1000;
  rows.push({
    name: 'sharp decode+resize 150',
    backend: 'sharp',
    workers: 1,
    batch: 1,
    images: jpegs.length,
    seconds: s,
    imagesPerS: jpegs.length / s,
    macsPerImage: null,
    gmacPerS: null,
    ratio: null,
  });
}

const vggImages = Array.from({ length: N }, (_, i) => noise(150 * 150 * 3, i + 1));
for (const batch of sized([1, 4], [1])) {
  const vgg = await loadBackbone({ backbone: 'vgg16', weights: 'random', batchSize: batch });
  record('vgg16 150x150', vgg, 1, batch, N, await time(vgg, vggImages), VGG_MACS);
  await vgg.dispose();
}
for (const workers of sized([1, 2], [2])) {
  const pool = await createExtractorPool(
    { backbone: 'vgg16', weights: 'random', batchSize: 2 },
    { size: workers },
  );
  record('vgg16 150x150 pool', pool, workers, 2, N, await time(pool, vggImages), VGG_MACS);
  await pool.dispose();
}

const mobilenetDir = path.join(shared, 'models', 'mobilenet_v1_0.75_224');
if (existsSync(mobilenetDir)) {
  const mImages = await Promise.all(
    jpegs.slice(0, 2 * N).map(async (j) => (await decodeImage(j, [224, 224])).pixels),
  );
  const single = await loadBackbone({ backbone: 'mobilenet_v1_0.75', weights: mobilenetDir, batchSize: 8 });
  const macs = countMacs(single.model as tf.LayersModel);
  record('mobilenet_v1_0.75 224', single, 1, 8, mImages.length, await time(single, mImages), macs);
  await single.dispose();
  const pool = await createExtractorPool(
    { backbone: 'mobilenet_v1_0.75', weights: mobilenetDir, batchSize: 8 },
    { size: 2 },
  );
  record('mobilenet_v1_0.75 224 pool', pool, 2, 8, mImages.length, await time(pool, mImages), macs);
  await pool.dispose();
} else {
  console.log(`skipped MobileNet: ${mobilenetDir} is absent`);
}

for (const name of KERAS_BASES) {
  const spec = getBackboneSpec(name);
  const [h, w] = spec.inputSize;
  const config: BackboneConfigInput = { backbone: name, weights: 'random', batchSize: 2 };
  const images = Array.from({ length: N }, (_, i) => noise(h * w * 3, i + 1));
  const single = await loadBackbone(config);
  const macs = countMacs(single.model as tf.LayersModel);
  record(`${name} ${h}x${w}`, single, 1, 2, N, await time(single, images), macs);
  await single.dispose();
  const pool = await createExtractorPool(config, { size: 2 });
  record(`${name} ${h}x${w} pool`, pool, 2, 2, N, await time(pool, images), macs);
  await pool.dispose();
}

if (withCpu) {
  await initBackend({ prefer: ['cpu'] });
  const vgg = await loadBackbone(
    { backbone: 'vgg16', weights: 'random', batchSize: 1, warmup: false },
    { backend: { prefer: ['cpu'] } },
  );
  const t = performance.now();
  const vectors = await vgg.extract(vggImages.slice(0, 1));
  record('vgg16 150x150', vgg, 1, 1, 1, (performance.now() - t) / 1000, VGG_MACS);
  checkVectors(vgg, 1, vectors);
  await vgg.dispose();
}

const baseline = rows.find((r) => r.name === 'vgg16 150x150' && r.backend === 'wasm' && r.batch === 1);
// Arithmetic throughput against the baseline's: for VGG16 rows the same as the images/s ratio.
for (const r of rows) {
  if (baseline?.gmacPerS && r.gmacPerS !== null) r.ratio = r.gmacPerS / baseline.gmacPerS;
}
report.finish(
  rows.map((r) => ({
    run: r.name,
    backend: r.backend,
    workers: r.workers,
    batch: r.batch,
    images: r.images,
    s: r.seconds.toFixed(2),
    'images/s': r.imagesPerS.toFixed(r.imagesPerS < 1 ? 3 : 1),
    'GMAC/s': r.gmacPerS?.toFixed(1) ?? '',
    'GMAC/s x vgg16 wasm 1 thread': r.ratio?.toFixed(2) ?? '',
  })),
  { backend, cores: availableParallelism(), vggMacsPerImage: VGG_MACS, rows },
);
process.exit();
