import { z } from 'zod';

/** Life cycle of a training run. */
export const runStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof runStatus>;

/**
 * What a run trains: `head` a dense head on stored features; `finetune` the backbone's top block together
 * with the head of a finished run (the recipe's second step), giving a new feature set.
 */
export const runKind = z.enum(['head', 'finetune']);
export type RunKind = z.infer<typeof runKind>;

/** Named starting points for a head config; explicit fields in a request override the preset's. */
export const headPresetName = z.enum([
  // The Keras "feature extraction with a pretrained convnet" recipe, exactly.
  'keras-vgg16-feature-extraction',
  // edgehead's default: adam + early stopping on val_loss + a validation-chosen threshold.
  'edgehead-default',
]);
export type HeadPresetName = z.infer<typeof headPresetName>;

/** Early stopping on val_loss (Keras `EarlyStopping(monitor='val_loss')` semantics). */
export const earlyStopping = z.object({
  /** Epochs without an improvement of at least `minDelta` before training stops. */
  patience: z.number().int().min(0).max(1000).default(5),
  minDelta: z.number().min(0).default(0),
  /** Put back the weights of the epoch with the lowest val_loss when training ends. */
  restoreBestWeights: z.boolean().default(true),
});
export type EarlyStopping = z.infer<typeof earlyStopping>;

/** Per-class loss weights by class index, or 'balanced' (n / (classes * count), as scikit-learn). */
export const classWeight = z.union([z.literal('balanced'), z.array(z.number().positive().finite()).min(2)]);
export type ClassWeight = z.infer<typeof classWeight>;

const fields = {
  /** Units of the hidden Dense(relu) layer; 0 = no hidden layer (a linear classifier). */
  hiddenUnits: z.number().int().min(0).max(16384),
  /** Dropout rate after the hidden layer (Keras semantics: fraction dropped). */
  dropout: z.number().min(0).lt(1),
  /** 'flatten' keeps every feature; 'avg' averages [h, w, c] features over h and w first. */
  pooling: z.enum(['flatten', 'avg']),
  optimizer: z.enum(['rmsprop', 'adam', 'sgd']),
  learningRate: z.number().positive().max(10),
  /** Momentum of 'sgd' (ignored by rmsprop and adam, which use Keras defaults). */
  momentum: z.number().min(0).lt(1),
  epochs: z.number().int().min(1).max(10000),
  batchSize: z.number().int().min(1).max(65536),
  classWeight: classWeight.nullable(),
  /** Seeds initializers, shuffling and dropout: same seed + same data -> same metrics. */
  seed: z.number().int().min(0).max(2147483647),
  earlyStopping: earlyStopping.nullable(),
  /**
   * How the binary decision threshold is chosen on validation data:
   * 'fixed' keeps 0.5, 'accuracy' maximises validation accuracy, 'f1' maximises F1 of classes[1].
   */
  threshold: z.enum(['fixed', 'accuracy', 'f1']),
};

/** A fully resolved head config, as the trainer receives it. */
export const headConfig = z.strictObject(fields);
export type HeadConfig = z.infer<typeof headConfig>;

/** The presets, fully resolved. */
export const headPresets: Readonly<Record<HeadPresetName, HeadConfig>> = {
  'keras-vgg16-feature-extraction': {
    hiddenUnits: 256,
    dropout: 0.5,
    pooling: 'flatten',
    optimizer: 'rmsprop', // Keras RMSprop: rho 0.9, epsilon 1e-7, no momentum
    learningRate: 2e-5,
    momentum: 0,
    epochs: 30,
    batchSize: 20,
    classWeight: null,
    seed: 0,
    earlyStopping: null,
    threshold: 'fixed',
  },
  'edgehead-default': {
    hiddenUnits: 256,
    dropout: 0.5,
    pooling: 'flatten',
    optimizer: 'adam',
    learningRate: 1e-4,
    momentum: 0,
    epochs: 60,
    batchSize: 32,
    classWeight: 'balanced',
    seed: 0,
    earlyStopping: { patience: 6, minDelta: 0, restoreBestWeights: true },
    threshold: 'accuracy',
  },
};

/** Every head config field, optional: the overrides a request may give on top of its preset. */
export const headConfigOverrides = Object.fromEntries(
  Object.entries(fields).map(([k, s]) => [k, s.optional()]),
) as { [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K]> };
export type HeadConfigOverrides = Partial<HeadConfig>;

/**
 * A fine-tuning run's config as stored on the run: the optimiser fields of a head config, the request's
 * `unfreeze` entries and the layers they name (presets expanded), in model order.
 */
export const fineTuneRunConfig = z.strictObject({
  optimizer: fields.optimizer,
  learningRate: fields.learningRate,
  momentum: fields.momentum,
  epochs: fields.epochs,
  batchSize: fields.batchSize,
  seed: fields.seed,
  unfreeze: z.array(z.string().min(1)).min(1),
  layers: z.array(z.string().min(1)).min(1),
});
export type FineTuneRunConfig = z.infer<typeof fineTuneRunConfig>;

/** A preset with the overrides given (undefined ones left out) as a full `HeadConfig`. */
export function resolveHeadConfig(preset: HeadPresetName, overrides: HeadConfigOverrides): HeadConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...headPresets[preset], ...defined };
}

/**
 * A head config as a request carries it: a preset plus any overrides, resolved into a full `HeadConfig`.
 * @example headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction', epochs: 10 })
 */
export const headConfigRequest = z
  .strictObject({ preset: headPresetName.default('edgehead-default'), ...headConfigOverrides })
  .transform(({ preset, ...overrides }): HeadConfig => resolveHeadConfig(preset, overrides));
export type HeadConfigRequest = z.input<typeof headConfigRequest>;

/**
 * One epoch's metrics as the trainer reports them, the database stores them and every API serves them
 * (`val*` are null without validation data; `accuracy` is null only on rows written without it).
 */
export const epochMetrics = z.object({
  epoch: z.number().int().min(1),
  loss: z.number(),
  accuracy: z.number().nullable(),
  valLoss: z.number().nullable(),
  valAccuracy: z.number().nullable(),
  durationMs: z.number().nonnegative(),
});
export type EpochMetrics = z.infer<typeof epochMetrics>;

/** Precision, recall, F1 and support of one class (one-vs-rest), the class named by `label`. */
export const classMetrics = z.object({
  label: z.string(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  support: z.number().int(),
});
export type ClassMetrics = z.infer<typeof classMetrics>;

/** One point of a ROC curve: false and true positive rate at a threshold on P(classes[1]). */
export const rocPoint = z.object({ fpr: z.number(), tpr: z.number(), threshold: z.number() });
export type RocPoint = z.infer<typeof rocPoint>;
