/**
 * Accuracy report: the Keras "feature extraction with a pretrained convnet" recipe end to end on
 * ../shared/datasets/cats_and_dogs_small (2000 train / 1000 validation / 1000 test) with the MobileNet
 * backbones of ../shared/models (VGG16 weights are not available offline), through packages/backbones
 * (worker pool) and packages/training directly. Prints validation and test accuracy per backbone, pooling
 * and preset beside the published VGG16 anchor, and writes bench-results/accuracy-report.json.
 *
 * Extracted features are cached under bench-results/accuracy-features/ so reruns only train.
 * Run: `nice npx tsx test/bench/accuracy-report.ts` (options: ACCURACY_BACKBONES=mobilenet_v1_0.75,...
 * ACCURACY_PRESETS=..., ACCURACY_POOLING=flatten,avg, EDGEHEAD_SHARED_DIR). Any built-in backbone runs
 * when its weights are there: ACCURACY_WEIGHTS_<NAME> (e.g. ACCURACY_WEIGHTS_RESNET50=/w/resnet50.h5, a
 * Keras .h5 / .weights.h5 or TF.js folder), else ../shared/models/<its folder>, else Keras' published
 * no-top file, downloaded once into bench-results/weights (which needs internet).
 * and split, MobileNet v1 pooled, the recipe for 2 epochs. Without the dataset it reports itself skipped.
 * Augmentation rows (`+ augmentation (k=3)`, `(k=10)`; ACCURACY_AUGMENT=3,10, empty for none): k seeded
 * copies of every training image (the preset keras-vgg16-augmentation, seed 0, with ACCURACY_AUGMENT_CONFIG's
 * overrides; `augmentImage` as the gpu service runs it) through the same frozen base, cached beside the plain
 * features; the head (on average-pooled vectors; ACCURACY_AUGMENT_INPUT=flatten for the flattened map) draws
 * the original or one copy per image each epoch; validation and test are plain.
 * Their extraction minutes are the plain extraction's plus the copies' (copy i does not depend on k, so k=10
 * extends k=3's copies).
 * `+ fine-tuning` rows (one per backbone; ACCURACY_FINETUNE=0 leaves them out): the recipe head on the
 * avg-pooled features, then the backbone's last block (ACCURACY_UNFREEZE, default the `last-block` preset)
 * trained with it at RMSprop 1e-5 (ACCURACY_FINETUNE_LR) for ACCURACY_FINETUNE_EPOCHS (default 20; 2 in
 * smoke mode) on activations at the cut computed once (lib/finetune-row.ts); s/epoch is then the fine-tuning epoch. With
 * ACCURACY_FINETUNE_AUGMENT=k (default 3, 0 for none) a `+ augmentation (k) + fine-tuning` row fine-tunes
 * the same head (trained on plain features) again on the activations of k copies of every training image
 * (as the augmentation rows'), compared with the fine-tuning without them (paired, the last column); its
 * extraction minutes add the copies' pass through the frozen part.
 * Fails (exit 1) when a run trains no epoch or an accuracy is not a number in [0, 1].
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  augmentImage,
  backboneEnvKey,
  createExtractorPool,
  decodeImage,
  getBackboneSpec,
} from '@edgehead/backbones';
import { augmentationRequest, type HeadConfig, type HeadPresetName, headPresets } from '@edgehead/contracts';
import {
  chooseThreshold,
  type FeatureSplit,
  FINE_TUNE_RECIPE,
  predictProbabilities,
  scorePredictions,
  trainHead,
} from '@edgehead/training';
import { benchEnv } from './lib/env.ts';
import { fineTuneRow } from './lib/finetune-row.ts';
import { BenchReport, envNumber, ROOT, resultPath, sized } from './lib/harness.ts';
import { correctness, type PairedDifference, pairedDifference } from './lib/paired.ts';

const shared = benchEnv.EDGEHEAD_SHARED_DIR ?? path.resolve(ROOT, '../shared');
const datasetDir = path.join(shared, 'datasets/cats_and_dogs_small');
/** Beside the report: a smoke run's few features never stand in for a full run's. */
const cacheDir = path.join(path.dirname(resultPath('accuracy-report')), 'accuracy-features');
/** Images per class and split (all of them in a real run). */
const PER_CLASS = sized(Number.POSITIVE_INFINITY, 8);
const report = new BenchReport('accuracy-report');
const SPLITS = ['train', 'validation', 'test'] as const;
type Split = (typeof SPLITS)[number];
/** Folder names in the dataset, in class-index order (classes[1] is the sigmoid's positive class). */
const CLASS_DIRS = ['cats', 'dogs'] as const;
const CLASSES = ['cat', 'dog'];
/** The published result of the recipe (Chollet, Deep Learning with Python, 5.3.1): ~0.90 validation. */
const VGG16_ANCHOR = { validation: 0.9, test: null };
/** The same notebook with ImageDataGenerator augmentation on the training images: ~0.96 validation. */
const VGG16_AUGMENTED_ANCHOR = { validation: 0.96, test: null };
/** The recipe's fine-tuning of block5 (the same book, 5.3.2): ~0.97 test accuracy. */
const VGG16_FINETUNE_ANCHOR = { validation: null, test: 0.97 };

const list = (name: string, fallback: string[]) =>
  (benchEnv[name]?.split(',') ?? fallback).map((s) => s.trim()).filter(Boolean);
const backbones = list(
  'ACCURACY_BACKBONES',
  sized(['mobilenet_v1_0.75', 'mobilenet_v2_0.35'], ['mobilenet_v1_0.75']),
);
const poolings = list('ACCURACY_POOLING', sized(['flatten', 'avg'], ['avg'])) as HeadConfig['pooling'][];
const presets = list(
  'ACCURACY_PRESETS',
  sized(['keras-vgg16-feature-extraction', 'edgehead-default'], ['keras-vgg16-feature-extraction']),
) as HeadPresetName[];
const fineTuning = benchEnv.ACCURACY_FINETUNE !== '0';
const fineTuneEpochs = envNumber('ACCURACY_FINETUNE_EPOCHS', 20, 2);
const fineTuneLearningRate = envNumber(
  'ACCURACY_FINETUNE_LR',
  FINE_TUNE_RECIPE.learningRate,
  FINE_TUNE_RECIPE.learningRate,
);
const unfreeze = list('ACCURACY_UNFREEZE', ['last-block']);
/** Copies per training image of the `+ augmentation + fine-tuning` row (0: no such row). */
const fineTuneCopies = envNumber('ACCURACY_FINETUNE_AUGMENT', 3, 1);

/**
 * Training images per class the rows learn from (ACCURACY_TRAIN_PER_CLASS, e.g. 100; all by default): fewer
 * shows how augmentation and fine-tuning fare when data is scarce. Validation and test stay whole.
 */
const trainPerClass = envNumber(
  'ACCURACY_TRAIN_PER_CLASS',
  Number.POSITIVE_INFINITY,
  Number.POSITIVE_INFINITY,
);

/** The first `perClass` training rows of each class, in their order. */
function keptTrainRows(labels: ArrayLike<number>, perClass: number): Int32Array {
  const seen = new Map<number, number>();
  const kept: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    const count = seen.get(label) ?? 0;
    if (count < perClass) kept.push(i);
    seen.set(label, count + 1);
  }
  return Int32Array.from(kept);
}

/** Items `kept` of a row-major matrix holding `rowsPerItem` rows of `dim` values per item. */
function keptRows(features: Float32Array, dim: number, kept: Int32Array, rowsPerItem = 1): Float32Array {
  const size = dim * rowsPerItem;
  const out = new Float32Array(kept.length * size);
  for (const [i, item] of kept.entries())
    out.set(features.subarray(item * size, (item + 1) * size), i * size);
  return out;
}

/**
 * The augmentation of every augmented row: the recipe's preset, seed 0, with the overrides of
 * ACCURACY_AUGMENT_CONFIG (JSON of `augmentationRequest` fields, e.g. {"rotation":0,"zoom":0.1}).
 */
const augmentOverrides = JSON.parse(benchEnv.ACCURACY_AUGMENT_CONFIG ?? '{}') as Record<string, unknown>;
const augmentation = (copies: number) =>
  augmentationRequest.parse({ preset: 'keras-vgg16-augmentation', seed: 0, ...augmentOverrides, copies });
/** Cache names of copies made with overrides carry them (the recipe's copies keep their old names). */
const augmentationTag =
  Object.keys(augmentOverrides).length === 0
    ? ''
    : `.${createHash('sha256').update(JSON.stringify(augmentOverrides)).digest('hex').slice(0, 12)}`;

/** The head input of the augmentation rows: average-pooled vectors, or the flattened feature map. */
const augmentInput = benchEnv.ACCURACY_AUGMENT_INPUT === 'flatten' ? 'flatten' : 'avg';
/** Augmented copies per training image of the augmentation rows (ascending). */
const copyCounts = list('ACCURACY_AUGMENT', ['3', '10'])
  .map(Number)
  .filter((k) => Number.isInteger(k) && k >= 1 && k <= 50)
  .sort((a, b) => a - b);

interface CachedSplit extends FeatureSplit {
  featureShape: number[];
}

async function listImages(split: Split): Promise<{ file: string; label: number }[]> {
  const out: { file: string; label: number }[] = [];
  for (const [label, dir] of CLASS_DIRS.entries()) {
    const folder = path.join(datasetDir, split, dir);
    const names = (await readdir(folder))
      .filter((n) => /\.(jpe?g|png)$/i.test(n))
      .sort()
      .slice(0, PER_CLASS);
    for (const n of names) out.push({ file: path.join(folder, n), label });
  }
  return out;
}

/** Where a backbone's weights come from: the env variable, the shared folder, or Keras' download. */
function weightsOf(backbone: string): { weights: string; md5?: string; cacheDir?: string } {
  const spec = getBackboneSpec(backbone);
  const given = benchEnv[`ACCURACY_WEIGHTS_${backboneEnvKey(backbone)}`];
  if (given) return { weights: given };
  const folder = spec.weights.sharedFolder && path.join(shared, 'models', spec.weights.sharedFolder);
  if (folder && existsSync(folder)) return { weights: folder };
  if (spec.weights.url === undefined) throw new Error(`${backbone}: no weights in ${shared}/models`);
  return {
    weights: spec.weights.url,
    md5: spec.weights.md5,
    cacheDir: path.join(ROOT, 'bench-results', 'weights'),
  };
}

/** Features of every image of every split for one backbone (unpooled, e.g. 7x7x768), cached on disk. */
async function features(backbone: string): Promise<Record<Split, CachedSplit> & { extractSeconds: number }> {
  const metaFile = path.join(cacheDir, `${backbone}.json`);
  const bin = (split: Split) => path.join(cacheDir, `${backbone}.${split}.f32`);
  if (existsSync(metaFile)) {
    const meta = JSON.parse(await readFile(metaFile, 'utf8')) as {
      featureShape: number[];
      labels: Record<Split, number[]>;
      extractSeconds: number;
    };
    const load = async (split: Split): Promise<CachedSplit> => {
      const buf = await readFile(bin(split));
      const features = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      return { features, labels: meta.labels[split], featureShape: meta.featureShape };
    };
    return {
      train: await load('train'),
      validation: await load('validation'),
      test: await load('test'),
      extractSeconds: meta.extractSeconds,
    };
  }
  const spec = getBackboneSpec(backbone);
  const weights = weightsOf(backbone);
  const started = performance.now();
  const pool = await createExtractorPool({ backbone, ...weights, pooling: 'none', batchSize: 16 });
  const result: Partial<Record<Split, CachedSplit>> = {};
  try {
    const dim = pool.info.featureLength;
    for (const split of SPLITS) {
      const items = await listImages(split);
      const data = new Float32Array(items.length * dim);
      const chunk = 32;
      for (let i = 0; i < items.length; i += chunk) {
        const part = items.slice(i, i + chunk);
        const pixels = await Promise.all(
          part.map(async (it) => (await decodeImage(await readFile(it.file), spec.inputSize)).pixels),
        );
        const out = await pool.extract(pixels);
        for (const [j, v] of out.entries()) data.set(v, (i + j) * dim);
        if ((i / chunk) % 10 === 0) {
          process.stderr.write(`  ${backbone} ${split}: ${i + part.length}/${items.length}\r`);
        }
      }
      process.stderr.write('\n');
      result[split] = {
        features: data,
        labels: items.map((it) => it.label),
        featureShape: pool.info.featureShape,
      };
    }
  } finally {
    await pool.dispose();
  }
  const extractSeconds = (performance.now() - started) / 1000;
  await mkdir(cacheDir, { recursive: true });
  for (const split of SPLITS) {
    const f = (result[split] as CachedSplit).features;
    await writeFile(bin(split), new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
  }
  const labels = Object.fromEntries(SPLITS.map((s) => [s, Array.from((result[s] as CachedSplit).labels)]));
  const featureShape = (result.train as CachedSplit).featureShape;
  await writeFile(metaFile, JSON.stringify({ featureShape, labels, extractSeconds }));
  return { ...(result as Record<Split, CachedSplit>), extractSeconds };
}

/** Mean over h*w of [n, h*w*c] vectors (GlobalAveragePooling2D): [n, c]. */
function averaged(features: Float32Array, shape: readonly number[]): Float32Array {
  const c = shape.at(-1) as number;
  const cells = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const n = features.length / (cells * c);
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < cells; p++) {
      const row = (i * cells + p) * c;
      for (let k = 0; k < c; k++) out[i * c + k] = (out[i * c + k] as number) + (features[row + k] as number);
    }
    for (let k = 0; k < c; k++) out[i * c + k] = (out[i * c + k] as number) / cells;
  }
  return out;
}

/** A split with average-pooled vectors (featureShape [c]). */
const pooledSplit = (split: CachedSplit): CachedSplit => ({
  features: averaged(split.features, split.featureShape),
  labels: split.labels,
  featureShape: [split.featureShape.at(-1) as number],
});

/**
 * Average-pooled vectors of augmented copies 0..maxCopies-1 of every training image ([n * maxCopies, c], copy
 * j of image i at row i * maxCopies + j) and the seconds each prefix of copies took: `seconds[k]` for copies
 * 0..k-1 (for each k of `copyCounts`). Cached on disk per backbone and copy count.
 */
async function augmentedFeatures(
  backbone: string,
  maxCopies: number,
  input: 'avg' | 'flatten',
): Promise<{ features: Float32Array; copies: number; seconds: Record<number, number> }> {
  const name = `${backbone}.augmented-${maxCopies}${input === 'flatten' ? '.flatten' : ''}${augmentationTag}`;
  const metaFile = path.join(cacheDir, `${name}.json`);
  const bin = path.join(cacheDir, `${name}.train.f32`);
  if (existsSync(metaFile)) {
    const meta = JSON.parse(await readFile(metaFile, 'utf8')) as { seconds: Record<number, number> };
    const buf = await readFile(bin);
    const features = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    return { features, copies: maxCopies, seconds: meta.seconds };
  }
  const spec = getBackboneSpec(backbone);
  const config = augmentation(maxCopies);
  const items = await listImages('train');
  const pool = await createExtractorPool({
    backbone,
    ...weightsOf(backbone),
    pooling: input === 'avg' ? 'avg' : 'none',
    batchSize: 16,
  });
  const seconds: Record<number, number> = {};
  try {
    const c = pool.info.featureLength;
    const features = new Float32Array(items.length * maxCopies * c);
    const decoded = await Promise.all(
      items.map(async (it) => {
        const bytes = await readFile(it.file);
        return {
          pixels: (await decodeImage(bytes, spec.inputSize)).pixels,
          key: createHash('sha256').update(bytes).digest('hex'),
        };
      }),
    );
    let elapsed = 0;
    let from = 0;
    for (const k of [...copyCounts.filter((k) => k <= maxCopies), maxCopies]) {
      if (k <= from) continue;
      const started = performance.now();
      const chunk = 8;
      for (let i = 0; i < decoded.length; i += chunk) {
        const part = decoded.slice(i, i + chunk);
        // copies from..k-1 of each image (copy j's transform depends on (seed, image, j), not on k)
        const pictures = part.flatMap((d) =>
          augmentImage(d.pixels, spec.inputSize, { ...config, copies: k }, d.key).slice(from),
        );
        const out = await pool.extract(pictures);
        const per = k - from;
        for (const [j, v] of out.entries()) {
          const image = i + Math.floor(j / per);
          features.set(v, (image * maxCopies + from + (j % per)) * c);
        }
        process.stderr.write(
          `  ${backbone} augmented copies ${from}..${k - 1}: ${i + part.length}/${decoded.length}\r`,
        );
      }
      process.stderr.write('\n');
      elapsed += (performance.now() - started) / 1000;
      seconds[k] = elapsed;
      from = k;
    }
    await mkdir(cacheDir, { recursive: true });
    await writeFile(bin, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    await writeFile(metaFile, JSON.stringify({ seconds }));
    return { features, copies: maxCopies, seconds };
  } finally {
    await pool.dispose();
  }
}

/** The first `k` of `maxCopies` copies of each row: [n * k, c]. */
function firstCopies(all: Float32Array, n: number, maxCopies: number, k: number): Float32Array {
  if (k === maxCopies) return all;
  const c = all.length / (n * maxCopies);
  const out = new Float32Array(n * k * c);
  for (let i = 0; i < n; i++) out.set(all.subarray(i * maxCopies * c, (i * maxCopies + k) * c), i * k * c);
  return out;
}

interface Row {
  backbone: string;
  /** Augmented copies per training image; 0 for head-only rows. */
  augmentation: number;
  pooling: HeadConfig['pooling'];
  /** The head preset, or `+ fine-tuning (<layers>)` for a fine-tuning row. */
  preset: string;
  /** Minutes of feature extraction the row's vectors took (plain, plus its copies). */
  extractMinutes: number;
  epochs: number;
  status: string;
  threshold: number;
  validationAccuracy: number;
  testAccuracy: number;
  testRocAuc: number | null;
  trainSeconds: number;
  secondsPerEpoch: number;
  backend: string;
  /** Per test image, whether the row's head is right. */
  testCorrect: Uint8Array;
  /** Test accuracy against the head-only row it extends, paired over the same test images. */
  versusHeadOnly: PairedDifference | null;
  /** An augmented fine-tuning row's test accuracy against the same fine-tuning without the copies. */
  versusUnaugmented: PairedDifference | null;
}

/** An accuracy that a run can have produced: a number in [0, 1]. */
const inUnit = (v: number) => Number.isFinite(v) && v >= 0 && v <= 1;

const named = (r: Row) =>
  [
    r.backbone,
    ...(Number.isFinite(trainPerClass) ? [`(${trainPerClass} training images per class)`] : []),
    ...(r.augmentation > 0 ? [`+ augmentation (k=${r.augmentation})`] : []),
  ].join(' ');

async function run(
  backbone: string,
  data: Record<Split, CachedSplit>,
  pooling: HeadConfig['pooling'],
  preset: HeadPresetName,
  extractMinutes: number,
  augmented?: { copies: number; features: Float32Array },
): Promise<Row> {
  const config: HeadConfig = {
    ...headPresets[preset],
    pooling,
    epochs: sized(headPresets[preset].epochs, 2),
  };
  const featureShape = data.train.featureShape;
  const started = performance.now();
  const result = await trainHead(
    {
      featureShape,
      numClasses: 2,
      train: data.train,
      validation: data.validation,
      ...(augmented ? { augmented } : {}),
    },
    config,
  );
  const trainSeconds = (performance.now() - started) / 1000;
  try {
    const val = await predictProbabilities(
      result.model,
      data.validation.features,
      data.validation.labels.length,
    );
    const threshold = chooseThreshold(val, data.validation.labels, config.threshold);
    const test = await predictProbabilities(result.model, data.test.features, data.test.labels.length);
    const valEval = scorePredictions(val, data.validation.labels, CLASSES, threshold);
    const testEval = scorePredictions(test, data.test.labels, CLASSES, threshold);
    const testCorrect = correctness(test, data.test.labels, threshold);
    return {
      backbone,
      augmentation: augmented?.copies ?? 0,
      pooling,
      preset,
      extractMinutes,
      epochs: result.history.length,
      status: result.status,
      threshold,
      validationAccuracy: valEval.accuracy,
      testAccuracy: testEval.accuracy,
      testRocAuc: testEval.rocAuc,
      trainSeconds,
      secondsPerEpoch: trainSeconds / Math.max(1, result.history.length),
      backend: result.backend,
      testCorrect,
      versusHeadOnly: null,
      versusUnaugmented: null,
    };
  } finally {
    result.model.dispose();
  }
}

async function main(): Promise<void> {
  if (!existsSync(datasetDir)) {
    const skipped = `${path.relative(ROOT, datasetDir)} is absent`;
    console.log(`skipped: ${skipped}`);
    report.finish([], { skipped });
    return;
  }
  const rows: Row[] = [];
  const extraction: Record<string, number> = {};
  const fineTunes: Record<string, Awaited<ReturnType<typeof fineTuneRow>>> = {};
  for (const backbone of backbones) {
    const all = await features(backbone);
    const kept = keptTrainRows(all.train.labels, trainPerClass);
    const data = {
      ...all,
      train: {
        features: keptRows(all.train.features, all.train.features.length / all.train.labels.length, kept),
        labels: Array.from(kept, (i) => all.train.labels[i] as number),
        featureShape: all.train.featureShape,
      },
    };
    extraction[backbone] = data.extractSeconds;
    const minutes = data.extractSeconds / 60;
    for (const pooling of poolings) {
      for (const preset of presets) {
        const row = await run(backbone, data, pooling, preset, minutes);
        rows.push(row);
        report.check(
          row.epochs > 0 && inUnit(row.validationAccuracy) && inUnit(row.testAccuracy),
          `${backbone} ${pooling} ${preset}: ${row.epochs} epochs, val ${row.validationAccuracy}, test ${row.testAccuracy}`,
        );
        console.log(
          `${backbone} ${pooling} ${preset}: val ${row.validationAccuracy.toFixed(4)} test ${row.testAccuracy.toFixed(4)} (${row.epochs} epochs, ${row.secondsPerEpoch.toFixed(2)} s/epoch)`,
        );
      }
    }
    const maxCopies = copyCounts.at(-1);
    if (maxCopies !== undefined) {
      // + augmentation: pooled vectors by default (10 unpooled copies of 2000 MobileNet v1 maps: 3 GB)
      const allCopies = await augmentedFeatures(backbone, maxCopies, augmentInput);
      const copyLength = allCopies.features.length / (all.train.labels.length * maxCopies);
      const copies = { ...allCopies, features: keptRows(allCopies.features, copyLength, kept, maxCopies) };
      const inputs =
        augmentInput === 'flatten'
          ? data
          : {
              train: pooledSplit(data.train),
              validation: pooledSplit(data.validation),
              test: pooledSplit(data.test),
            };
      const n = data.train.labels.length;
      for (const k of copyCounts) {
        for (const preset of presets) {
          const augmented = { copies: k, features: firstCopies(copies.features, n, maxCopies, k) };
          const extractMinutes = minutes + (copies.seconds[k] ?? Number.NaN) / 60;
          const row = await run(backbone, inputs, 'flatten', preset, extractMinutes, augmented);
          row.pooling = augmentInput;
          const headOnly = rows.find(
            (r) =>
              r.backbone === backbone &&
              r.augmentation === 0 &&
              r.pooling === augmentInput &&
              r.preset === preset,
          );
          row.versusHeadOnly = headOnly ? pairedDifference(row.testCorrect, headOnly.testCorrect) : null;
          rows.push(row);
          report.check(
            row.epochs > 0 &&
              inUnit(row.validationAccuracy) &&
              inUnit(row.testAccuracy) &&
              Number.isFinite(extractMinutes),
            `${backbone} + augmentation (k=${k}) ${preset}: ${row.epochs} epochs, val ${row.validationAccuracy}, test ${row.testAccuracy}, extraction ${extractMinutes} min`,
          );
          console.log(
            `${backbone} + augmentation (k=${k}) ${preset}: val ${row.validationAccuracy.toFixed(4)} test ${row.testAccuracy.toFixed(4)} (${row.epochs} epochs, ${row.secondsPerEpoch.toFixed(2)} s/epoch, extraction ${extractMinutes.toFixed(1)} min)`,
          );
        }
      }
    }
    if (fineTuning) {
      const head = { ...headPresets['keras-vgg16-feature-extraction'], pooling: 'avg' as const };
      const images = Object.fromEntries(
        await Promise.all(SPLITS.map(async (s) => [s, await listImages(s)] as const)),
      ) as Record<Split, { file: string; label: number }[]>;
      images.train = Array.from(kept, (i) => images.train[i] as { file: string; label: number });
      const tuned = await fineTuneRow({
        backbone,
        weights: weightsOf(backbone),
        unfreeze,
        images,
        features: data,
        head: { ...head, epochs: sized(head.epochs, 2) },
        epochs: fineTuneEpochs,
        learningRate: fineTuneLearningRate,
        classes: CLASSES,
        ...(fineTuneCopies > 0 ? { augment: augmentation(fineTuneCopies) } : {}),
      });
      const plain = tuned.variants.find((v) => v.copies === 0);
      const lr = fineTuneLearningRate === FINE_TUNE_RECIPE.learningRate ? '' : `, lr ${fineTuneLearningRate}`;
      const preset = `+ fine-tuning (${unfreeze.join(',')}${lr})`;
      for (const variant of tuned.variants) {
        const row: Row = {
          backbone,
          augmentation: variant.copies,
          pooling: 'avg',
          preset,
          extractMinutes: minutes + variant.copySeconds / 60,
          epochs: variant.epochs,
          status: variant.status,
          threshold: variant.threshold,
          validationAccuracy: variant.validationAccuracy,
          testAccuracy: variant.testAccuracy,
          testRocAuc: variant.testRocAuc,
          trainSeconds: variant.secondsPerEpoch * variant.epochs,
          secondsPerEpoch: variant.secondsPerEpoch,
          backend: variant.backend,
          testCorrect: variant.testCorrect,
          versusHeadOnly: pairedDifference(variant.testCorrect, tuned.headOnly.testCorrect),
          versusUnaugmented:
            variant.copies > 0 && plain ? pairedDifference(variant.testCorrect, plain.testCorrect) : null,
        };
        rows.push(row);
        report.check(
          row.epochs === fineTuneEpochs && inUnit(row.validationAccuracy) && inUnit(row.testAccuracy),
          `${named(row)} ${row.preset}: ${row.epochs}/${fineTuneEpochs} epochs, val ${row.validationAccuracy}, test ${row.testAccuracy}`,
        );
        console.log(
          `${named(row)} ${row.preset}: val ${row.validationAccuracy.toFixed(4)} test ${row.testAccuracy.toFixed(4)} ` +
            `(head alone: val ${tuned.headOnly.validationAccuracy.toFixed(4)} test ${tuned.headOnly.testAccuracy.toFixed(4)}; ` +
            `${tuned.layers.length} layers above ${tuned.cutLayer}, ${row.epochs} epochs, ${row.secondsPerEpoch.toFixed(2)} s/epoch, ` +
            `activations once ${variant.activationSeconds.toFixed(1)} s, of the copies ${variant.copySeconds.toFixed(1)} s)`,
        );
      }
      fineTunes[backbone] = tuned;
    }
  }
  const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(4));
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(4)}`;
  const versus = (p: PairedDifference | null) =>
    p === null
      ? '-'
      : `${signed(p.difference)} [${signed(p.low)}, ${signed(p.high)}]${p.better ? ' better' : p.high < 0 ? ' worse' : ''}`;
  const header = [
    'backbone',
    'head input',
    'preset',
    'epochs',
    'threshold',
    'val acc',
    'test acc',
    'test AUC',
    'extract min',
    's/epoch',
    'test acc vs head only (95% CI)',
    'vs fine-tuning without augmentation',
  ];
  const table = [
    header,
    [
      'vgg16 (published anchor)',
      'flatten',
      'keras-vgg16-feature-extraction',
      '30',
      '0.5',
      fmt(VGG16_ANCHOR.validation),
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
    ],
    [
      'vgg16 + augmentation (published anchor)',
      'flatten',
      'keras-vgg16-feature-extraction (augmented inputs)',
      '30',
      '0.5',
      fmt(VGG16_AUGMENTED_ANCHOR.validation),
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
    ],
    [
      'vgg16 (published anchor)',
      'flatten',
      '+ fine-tuning (block5)',
      '100',
      '0.5',
      '-',
      fmt(VGG16_FINETUNE_ANCHOR.test),
      '-',
      '-',
      '-',
      '-',
      '-',
    ],
    ...rows.map((r) => [
      named(r),
      r.pooling,
      r.preset,
      String(r.epochs),
      r.threshold.toFixed(3),
      fmt(r.validationAccuracy),
      fmt(r.testAccuracy),
      fmt(r.testRocAuc),
      r.extractMinutes.toFixed(1),
      r.secondsPerEpoch.toFixed(2),
      versus(r.versusHeadOnly),
      versus(r.versusUnaugmented),
    ]),
  ];
  const lines = table.map((r) => `| ${r.join(' | ')} |`);
  lines.splice(1, 0, `|${header.map(() => '---').join('|')}|`);
  console.log(`\n${lines.join('\n')}`);
  const best = rows.reduce<Row | null>(
    (b, r) => (b === null || r.validationAccuracy > b.validationAccuracy ? r : b),
    null,
  );
  if (best) {
    console.log(
      `\nbest on validation: ${named(best)} ${best.pooling} ${best.preset}: test accuracy ${fmt(best.testAccuracy)} (target >= 0.985: ${best.testAccuracy >= 0.985 ? 'met' : 'not met'})`,
    );
  }
  report.finish(
    rows.map((r) => ({
      backbone: named(r),
      pooling: r.pooling,
      preset: r.preset,
      epochs: r.epochs,
      'val acc': fmt(r.validationAccuracy),
      'test acc': fmt(r.testAccuracy),
      'extract min': r.extractMinutes.toFixed(1),
      's/epoch': r.secondsPerEpoch.toFixed(2),
      'vs head only': versus(r.versusHeadOnly),
      'vs unaugmented fine-tuning': versus(r.versusUnaugmented),
    })),
    {
      anchor: {
        vgg16: VGG16_ANCHOR,
        vgg16Augmented: VGG16_AUGMENTED_ANCHOR,
        vgg16FineTuning: VGG16_FINETUNE_ANCHOR,
      },
      copyCounts,
      augmentation: augmentation(1),
      extractionSeconds: extraction,
      imagesPerClass: PER_CLASS,
      trainPerClass,
      rows: rows.map(({ testCorrect: _, ...r }) => r),
      fineTuning: Object.fromEntries(
        Object.entries(fineTunes).map(([b, { headOnly, variants, ...t }]) => [
          b,
          {
            ...t,
            headOnly: { ...headOnly, testCorrect: undefined },
            variants: variants.map(({ testCorrect: _, ...v }) => v),
          },
        ]),
      ),
      best,
    },
  );
}

await main();
