// The accuracy report's `+ fine-tuning` rows: the recipe's second step through packages/backbones and
// packages/training directly. A head trains on the cached features first (the recipe's order), then the
// backbone's last block trains with it on activations at the cut computed once.
import { readFile } from 'node:fs/promises';
import {
  type BackboneConfigInput,
  decodeImage,
  expandUnfreeze,
  frozenActivations,
  loadBackbone,
  splitBackbone,
} from '@edgehead/backbones';
import type { HeadConfig } from '@edgehead/contracts';
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
  classes: string[];
}

/** Accuracy and timings of one fine-tuning row. */
export interface FineTuneRowResult {
  layers: string[];
  cutLayer: string;
  epochs: number;
  status: string;
  threshold: number;
  headOnly: { validationAccuracy: number; testAccuracy: number; testCorrect: Uint8Array };
  validationAccuracy: number;
  testAccuracy: number;
  testRocAuc: number | null;
  /** Per test image, whether the fine-tuned head is right (for paired comparisons). */
  testCorrect: Uint8Array;
  /** The frozen part over every image, once. */
  activationSeconds: number;
  secondsPerEpoch: number;
  backend: string;
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
    const started = performance.now();
    const activations = {} as Record<Split, Float32Array>;
    for (const s of SPLITS) {
      const len = split.cutShape.reduce((a, b) => a * b, 1);
      const items = input.images[s];
      const out = new Float32Array(items.length * len);
      for (let i = 0; i < items.length; i += 64) {
        const pixels = await Promise.all(
          items
            .slice(i, i + 64)
            .map(async (it) => (await decodeImage(await readFile(it.file), backbone.info.inputSize)).pixels),
        );
        out.set(
          await frozenActivations(split.frozen, pixels, { preprocessing: backbone.info.preprocessing }),
          i * len,
        );
      }
      activations[s] = out;
    }
    const activationSeconds = (performance.now() - started) / 1000;
    const { cutShape } = split;
    split.dispose();
    const labels = (s: Split) => Int32Array.from(input.images[s], (it) => it.label);
    const tuned = await fineTune(
      {
        backbone: model,
        unfreeze: layers,
        head: headRun.model,
        pooling: 'none',
        train: { features: activations.train, labels: labels('train') },
        validation: { features: activations.validation, labels: labels('validation') },
      },
      { ...FINE_TUNE_RECIPE, epochs: input.epochs, batchSize: config.batchSize },
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
      return {
        layers: tuned.unfrozen,
        cutLayer: tuned.cutLayer,
        epochs: tuned.history.length,
        status: tuned.status,
        threshold: scored.threshold,
        headOnly: {
          validationAccuracy: headOnly.validation.accuracy,
          testAccuracy: headOnly.test.accuracy,
          testCorrect: headOnly.testCorrect,
        },
        validationAccuracy: scored.validation.accuracy,
        testAccuracy: scored.test.accuracy,
        testRocAuc: scored.test.rocAuc,
        testCorrect: scored.testCorrect,
        activationSeconds,
        secondsPerEpoch: trainMs / 1000 / Math.max(1, tuned.history.length),
        backend: tuned.backend,
      };
    } finally {
      tuned.backbone.dispose();
      tuned.head.dispose();
    }
  } finally {
    headRun.model.dispose();
    await backbone.dispose();
  }
}
