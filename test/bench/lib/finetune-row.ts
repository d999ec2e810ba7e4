// The accuracy report's `+ fine-tuning` rows: the recipe's second step through packages/backbones and
// packages/training directly. A head trains on the cached features first (the recipe's order), then the
// backbone's last block trains with it on activations at the cut computed once: on the training images
// alone, and (with `augment`) again from the same head (trained on plain features, so that the two rows
// differ only in the fine-tuning's inputs) with the activations of their augmented copies.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type AugmentRequest,
  type BackboneConfigInput,
  decodeImage,
  expandUnfreeze,
  frozenActivations,
  loadBackbone,
  splitBackbone,
} from '@edgehead/backbones';
import type { AugmentationConfig, HeadConfig } from '@edgehead/contracts';
import {
  chooseThreshold,
  type FeatureSplit,
  FINE_TUNE_RECIPE,
  fineTune,
  predictProbabilities,
  scorePredictions,
  trainHead,
} from '@edgehead/training';
import * as tf from '@tensorflow/tfjs';
import { correctness } from './paired.ts';

const SPLITS = ['train', 'validation', 'test'] as const;
type Split = (typeof SPLITS)[number];

/** What a fine-tuning row needs: the backbone, its images per split, the head's config and cached features. */
export interface FineTuneRowInput {
  backbone: string;
  /** How to load the backbone's pretrained weights (the report's `weightsOf`). */
  weights: Omit<BackboneConfigInput, 'backbone'>;
  /** Layers or presets to unfreeze, e.g. ['last-block']. */
  unfreeze: string[];
  images: Record<Split, { file: string; label: number }[]>;
  /** The cached (unpooled) features of the same images, in the same order, for the head-only step. */
  features: Record<Split, FeatureSplit & { featureShape: number[] }>;
  head: HeadConfig;
  epochs: number;
  /** The fine-tuning's learning rate (the recipe's 1e-5 by default). */
  learningRate?: number;
  classes: string[];
  /** Also fine-tune on `augment.copies` seeded copies of every training image (keyed by its sha256). */
  augment?: AugmentationConfig;
}

/** Accuracy and timings of one fine-tuning of the row's head (on the plain or the augmented images). */
export interface FineTuneVariant {
  /** Augmented copies per training image it drew from; 0 for the training images alone. */
  copies: number;
  epochs: number;
  status: string;
  threshold: number;
  validationAccuracy: number;
  testAccuracy: number;
  testRocAuc: number | null;
  /** Per test image, whether the fine-tuned head is right (for paired comparisons). */
  testCorrect: Uint8Array;
  /** The frozen part over every split's images, once (shared by the variants). */
  activationSeconds: number;
  /** The frozen part over the training images' copies (0 without augmentation). */
  copySeconds: number;
  secondsPerEpoch: number;
  backend: string;
}

/** The head both fine-tunings start from, and each fine-tuning. */
export interface FineTuneRowResult {
  layers: string[];
  cutLayer: string;
  headOnly: { validationAccuracy: number; testAccuracy: number; testCorrect: Uint8Array };
  /** Without augmentation first, then (with `augment`) on the augmented copies. */
  variants: FineTuneVariant[];
}

/** Trains the recipe head, then fine-tunes `unfreeze` with it; scores both on validation and test. */
export async function fineTuneRow(input: FineTuneRowInput): Promise<FineTuneRowResult> {
  const { features, head: config, classes } = input;
  const headRun = await trainHead(
    {
      featureShape: features.train.featureShape,
      numClasses: classes.length,
      train: features.train,
      validation: features.validation,
    },
    config,
  );
  const score = async (model: tf.LayersModel, data: Record<'validation' | 'test', FeatureSplit>) => {
    const val = await predictProbabilities(model, data.validation.features, data.validation.labels.length);
    const threshold = chooseThreshold(val, data.validation.labels, config.threshold);
    const test = await predictProbabilities(model, data.test.features, data.test.labels.length);
    return {
      threshold,
      validation: scorePredictions(val, data.validation.labels, classes, threshold),
      test: scorePredictions(test, data.test.labels, classes, threshold),
      testCorrect: correctness(test, data.test.labels, threshold),
    };
  };
  const headOnly = await score(headRun.model, features);

  const backbone = await loadBackbone({ backbone: input.backbone, ...input.weights, pooling: 'none' });
  try {
    const model = backbone.model as tf.LayersModel;
    const layers = expandUnfreeze(input.backbone, input.unfreeze);
    const split = splitBackbone(model, layers);
    const { cutShape, unfrozen, cutLayer } = split;
    const len = cutShape.reduce((a, b) => a * b, 1);
    const activate = (pixels: Uint8Array[], augment?: AugmentRequest) =>
      frozenActivations(split.frozen, pixels, {
        preprocessing: backbone.info.preprocessing,
        ...(augment ? { augment } : {}),
      });
    const started = performance.now();
    const activations = {} as Record<Split, Float32Array>;
    for (const s of SPLITS) {
      const items = input.images[s];
      const out = new Float32Array(items.length * len);
      for (let i = 0; i < items.length; i += 64) {
        const pixels = await Promise.all(
          items
            .slice(i, i + 64)
            .map(async (it) => (await decodeImage(await readFile(it.file), backbone.info.inputSize)).pixels),
        );
        out.set(await activate(pixels), i * len);
      }
      activations[s] = out;
    }
    const activationSeconds = (performance.now() - started) / 1000;
    let augmented: { copies: number; features: Float32Array; seconds: number } | undefined;
    if (input.augment) {
      const copyStarted = performance.now();
      const { copies } = input.augment;
      const items = input.images.train;
      const out = new Float32Array(items.length * copies * len);
      for (let i = 0; i < items.length; i += 8) {
        const pixels: Uint8Array[] = [];
        const keys: string[] = [];
        for (const it of items.slice(i, i + 8)) {
          const bytes = await readFile(it.file);
          keys.push(createHash('sha256').update(bytes).digest('hex'));
          pixels.push((await decodeImage(bytes, backbone.info.inputSize)).pixels);
        }
        out.set(await activate(pixels, { config: input.augment, keys }), i * copies * len);
        process.stderr.write(
          `  ${input.backbone} augmented copies at the cut: ${Math.min(i + 8, items.length)}/${items.length}\r`,
        );
      }
      process.stderr.write('\n');
      augmented = { copies, features: out, seconds: (performance.now() - copyStarted) / 1000 };
    }
    split.dispose();
    const labels = (s: Split) => Int32Array.from(input.images[s], (it) => it.label);
    const variants: FineTuneVariant[] = [];
    for (const copies of augmented ? [undefined, augmented] : [undefined]) {
      const tuned = await fineTune(
        {
          backbone: model,
          unfreeze: layers,
          head: headRun.model,
          pooling: 'none',
          train: { features: activations.train, labels: labels('train') },
          ...(copies ? { augmented: { copies: copies.copies, features: copies.features } } : {}),
          validation: { features: activations.validation, labels: labels('validation') },
        },
        {
          ...FINE_TUNE_RECIPE,
          epochs: input.epochs,
          batchSize: config.batchSize,
          learningRate: input.learningRate ?? FINE_TUNE_RECIPE.learningRate,
        },
      );
      try {
        // the tuned backbone's features: its top over the cached activations
        const top = splitBackbone(tuned.backbone, tuned.unfrozen);
        const featuresOf = (s: Split): FeatureSplit => {
          const y = tf.tidy(() =>
            top.top.predict(tf.tensor(activations[s], [input.images[s].length, ...cutShape])),
          ) as tf.Tensor;
          const f = y.dataSync() as Float32Array;
          y.dispose();
          return { features: f, labels: labels(s) };
        };
        const scored = await score(tuned.head, {
          validation: featuresOf('validation'),
          test: featuresOf('test'),
        });
        top.dispose();
        const trainMs = tuned.history.reduce((a, m) => a + m.durationMs, 0);
        variants.push({
          copies: copies?.copies ?? 0,
          epochs: tuned.history.length,
          status: tuned.status,
          threshold: scored.threshold,
          validationAccuracy: scored.validation.accuracy,
          testAccuracy: scored.test.accuracy,
          testRocAuc: scored.test.rocAuc,
          testCorrect: scored.testCorrect,
          activationSeconds,
          copySeconds: copies?.seconds ?? 0,
          secondsPerEpoch: trainMs / 1000 / Math.max(1, tuned.history.length),
          backend: tuned.backend,
        });
      } finally {
        tuned.backbone.dispose();
        tuned.head.dispose();
      }
    }
    return {
      layers: unfrozen,
      cutLayer,
      headOnly: {
        validationAccuracy: headOnly.validation.accuracy,
        testAccuracy: headOnly.test.accuracy,
        testCorrect: headOnly.testCorrect,
      },
      variants,
    };
  } finally {
    headRun.model.dispose();
    await backbone.dispose();
  }
}
