import { createHash } from 'node:crypto';
import {
  type BackboneSplit,
  decodeImage,
  frozenActivations,
  layersModelFiles,
  loadBackbone,
  splitBackbone,
  weightsSha256,
} from '@edgehead/backbones';
import {
  type AugmentationConfig,
  augmentationConfig,
  type FeatureSetRecord,
  featureSetLabel,
  fineTuneRunConfig,
  type HeadConfig,
  headConfig,
  type Split,
} from '@edgehead/contracts';
import {
  type Db,
  ensureFeatureSet,
  featureImages,
  finishIfCovered,
  finishRun,
  getDataset,
  getFeatureSet,
  getModelFiles,
  getRun,
  getRunModel,
  imageLocations,
  openExtraction,
  type Run,
  recordEpoch,
  saveBackboneWeights,
  saveFeatures,
  setRunOutputFeatureSet,
} from '@edgehead/db';
import { verifyHeadArtifact } from '@edgehead/head';
import { type FeatureSplit, fineTune } from '@edgehead/training';
import * as tf from '@tensorflow/tfjs';
import { imageBytes } from '../extraction/worker.ts';
import { storedWeightsSource } from '../extractors/stored-weights.ts';
import { retryOnConnectionLoss } from '../queue/connection.ts';
import { evaluateAndRegister } from './head-result.ts';
import {
  attemptClock,
  RunFailure,
  storedRunConfig,
  type TrainRunOptions,
  type TrainRunOutcome,
} from './train.ts';

const SPLITS: readonly Split[] = ['train', 'validation', 'test'];
/** Images decoded and run through the frozen part at a time (bounds the memory of decoded pixels). */
const DECODE_CHUNK = 128;

/** One split's images (those with a vector of the base feature set) and their labels as class indices. */
interface SplitImages {
  imageIds: string[];
  labels: Int32Array;
}

/**
 * One attempt of a fine-tuning run: the backbone of the base feature set loaded with its recorded weights,
 * split below the layers to unfreeze; the frozen part runs once over every image of the dataset; the top
 * and the head of `fromRun` train together (per-epoch rows as head runs write them); the tuned backbone is
 * stored in the database with its sha256 (every replica loads it from there), a new feature set
 * (provenance `finetuned`) gets the dataset's vectors computed with it, and the head is evaluated and
 * registered with a manifest naming that feature set. A head trained on an augmented feature set fine-tunes
 * on the same copies too (the recipe's second step also trains on the augmented generator): the frozen part
 * runs once over each training image's copies, made again from the image as the extraction made them, and
 * each epoch draws the original or one copy per image; everything else reads the plain feature set the
 * copies augment. Cancel and supersession as `trainRun`.
 */
export async function attemptFineTune(
  db: Db,
  run: Run,
  controller: AbortController,
  check: () => Promise<boolean>,
  options: TrainRunOptions,
  isSuperseded: () => boolean,
): Promise<TrainRunOutcome> {
  const { stopped, timings, lap } = attemptClock(isSuperseded);
  const { config, modelName } = storedRunConfig(run, fineTuneRunConfig);
  if (options.extractors === undefined) {
    throw new RunFailure('fine-tuning needs the extractor registry (this worker was started without it)');
  }
  if (run.fromRunId === null) throw new RunFailure('fine-tuning run without fromRun');
  const [dataset, runSet, from] = await Promise.all([
    getDataset(db, run.datasetId),
    getFeatureSet(db, run.featureSetId),
    getRun(db, run.fromRunId),
  ]);
  const augmented = runSet.provenance?.kind === 'augmented' ? runSet.provenance : null;
  const base = augmented ? await getFeatureSet(db, augmented.baseFeatureSetId) : runSet;
  const augment = augmented ? augmentationConfig.parse(augmented.params) : null;
  const fromModel = await getRunModel(db, from.id);
  if (fromModel === null) throw new RunFailure(`run ${from.id} registered no head to start from`);
  const threshold = await thresholdRule(db, from);
  const classes = dataset.classes;

  const images = Object.fromEntries(
    await Promise.all(
      SPLITS.map(async (split): Promise<[Split, SplitImages]> => {
        const m = await featureImages(db, dataset.id, base.id, split);
        return [
          split,
          { imageIds: m.imageIds, labels: Int32Array.from(m.labels, (l) => classes.indexOf(l)) },
        ];
      }),
    ),
  ) as Record<Split, SplitImages>;
  if (images.train.imageIds.length === 0) {
    throw new RunFailure(`feature set '${featureSetLabel(base)}': no stored train vectors`);
  }

  const backbone = await loadBackbone(await options.extractors.configFor(base), {});
  let split: BackboneSplit | undefined;
  let head: tf.LayersModel | undefined;
  try {
    if (backbone.info.featureSet.weights.sha256 !== base.weights.sha256) {
      throw new RunFailure(
        `feature set '${featureSetLabel(base)}': the weights at ${base.weights.source} hash to ` +
          `${backbone.info.featureSet.weights.sha256}, recorded ${base.weights.sha256}`,
      );
    }
    const model = backbone.model;
    if (!(model instanceof tf.LayersModel)) {
      throw new RunFailure(
        `backbone ${base.backbone} is a graph model: only layers models can be fine-tuned`,
      );
    }
    split = splitBackbone(model, config.layers);
    const activations = {} as Record<Split, Float32Array>;
    const at = { preprocessing: base.preprocessing, inputSize: backbone.info.inputSize };
    for (const s of SPLITS) {
      const computed = await activationsOf(db, split, images[s].imageIds, at, { check });
      if (computed === null) return stopped();
      activations[s] = computed;
    }
    // the copies' activations (k x the training images) are only needed while training
    let copies: { copies: number; features: Float32Array } | undefined;
    if (augment) {
      const features = await activationsOf(db, split, images.train.imageIds, at, { augment, check });
      if (features === null) return stopped();
      copies = { copies: augment.copies, features };
    }
    const cutShape = split.cutShape;
    split.dispose();
    split = undefined;
    lap('activations');

    head = await loadTrainedHead(await getModelFiles(db, fromModel.id));
    const asSplit = (s: Split): FeatureSplit => ({ features: activations[s], labels: images[s].labels });
    const hasValidation = images.validation.imageIds.length > 0;
    const result = await fineTune(
      {
        backbone: model,
        unfreeze: config.layers,
        head,
        pooling: base.pooling,
        train: asSplit('train'),
        ...(copies ? { augmented: copies } : {}),
        ...(hasValidation ? { validation: asSplit('validation') } : {}),
      },
      {
        optimizer: config.optimizer,
        learningRate: config.learningRate,
        momentum: config.momentum,
        epochs: config.epochs,
        batchSize: config.batchSize,
        seed: config.seed,
      },
      {
        signal: controller.signal,
        ...(options.backend ? { backend: options.backend } : {}),
        onEpoch: async (m) => {
          if (!(await check())) return;
          await retryOnConnectionLoss(() => recordEpoch(db, run.id, m));
          await options.afterEpoch?.(m);
        },
      },
    );
    copies = undefined;
    try {
      if (result.status === 'cancelled' || controller.signal.aborted) return stopped();
      lap('train');
      // a cancel or a newer attempt after the last epoch: nothing more is written
      if (!(await check())) return stopped();

      const tuned = await storeTunedBackbone(db, result.backbone, base.backbone);
      const featureSet = await ensureFeatureSet(db, {
        backbone: base.backbone,
        weights: { sha256: tuned, source: storedWeightsSource(tuned) },
        pooling: base.pooling,
        preprocessing: base.preprocessing,
        inputSize: base.inputSize,
        featureLayer: base.featureLayer,
        featureShape: base.featureShape,
        provenance: {
          kind: 'finetuned',
          baseFeatureSetId: base.id,
          params: {
            fromRun: from.id,
            unfreeze: config.unfreeze,
            layers: result.unfrozen,
            cutLayer: result.cutLayer,
            optimizer: config.optimizer,
            learningRate: config.learningRate,
            epochs: config.epochs,
            batchSize: config.batchSize,
            seed: config.seed,
            ...(augment ? { augmentedFeatureSetId: runSet.id, copies: augment.copies } : {}),
          },
        },
      });
      const vectors = {} as Record<Split, Float32Array>;
      const topSplit = splitBackbone(result.backbone, result.unfrozen);
      try {
        for (const s of SPLITS) {
          vectors[s] = await topFeatures(topSplit.top, activations[s], cutShape, base.pooling);
          await storeVectors(db, featureSet, images[s].imageIds, vectors[s]);
        }
      } finally {
        topSplit.dispose();
      }
      // an extraction row, so the dataset lists the new feature set like any extracted one
      const extraction = await openExtraction(db, dataset.id, featureSet.id);
      await finishIfCovered(db, extraction.id);
      await setRunOutputFeatureSet(db, run.id, featureSet.id);
      lap('features');

      const registered = await evaluateAndRegister(
        db,
        {
          runId: run.id,
          model: result.head,
          featureSet,
          featureShape: base.featureShape,
          classes,
          threshold,
          splits: {
            train: { features: vectors.train, labels: images.train.labels },
            validation: { features: vectors.validation, labels: images.validation.labels },
            test: { features: vectors.test, labels: images.test.labels },
          },
          modelName: modelName ?? dataset.name,
        },
        check,
        lap,
      );
      if (!registered) return stopped();
      const finished = await finishRun(db, run.id, { ...timings, epochs: result.history.length });
      return finished === null ? stopped() : 'succeeded';
    } finally {
      result.backbone.dispose();
      result.head.dispose();
    }
  } finally {
    split?.dispose();
    head?.dispose();
    await backbone.dispose();
  }
}

/** How the head's threshold is chosen: as the head run at the start of the chain of fine-tunings says. */
async function thresholdRule(db: Db, from: Run): Promise<HeadConfig['threshold']> {
  let run = from;
  while (run.kind === 'finetune' && run.fromRunId !== null) run = await getRun(db, run.fromRunId);
  const { modelName: _unused, ...stored } = run.config;
  const parsed = headConfig.safeParse(stored);
  if (!parsed.success) throw new RunFailure(`run ${run.id}: config: ${parsed.error.issues[0]?.message}`);
  return parsed.data.threshold;
}

/**
 * The frozen part's activations of the images of `ids`, decoded at the backbone's input size in chunks of
 * `options.chunk` images; with `options.augment`, of each image's `augment.copies` copies instead (copy c of
 * image i at row i * copies + c), made as the extraction makes them (keyed by the image's content hash).
 * Null when `options.check` says between two chunks that the attempt should stop.
 */
export async function activationsOf(
  db: Db,
  split: BackboneSplit,
  ids: readonly string[],
  base: Pick<FeatureSetRecord, 'preprocessing'> & { inputSize: readonly [number, number] },
  options: { augment?: AugmentationConfig; check?: () => Promise<boolean>; chunk?: number } = {},
): Promise<Float32Array | null> {
  const { augment } = options;
  const len = split.cutShape.reduce((a, b) => a * b, 1);
  const perImage = augment?.copies ?? 1;
  const out = new Float32Array(ids.length * perImage * len);
  const where = await imageLocations(db, ids);
  const chunk = options.chunk ?? Math.max(1, Math.floor(DECODE_CHUNK / perImage));
  for (let start = 0; start < ids.length; start += chunk) {
    if (options.check && !(await options.check())) return null;
    const pixels: Uint8Array[] = [];
    const keys: string[] = [];
    for (const id of ids.slice(start, start + chunk)) {
      const image = where.get(id);
      if (image === undefined) throw new RunFailure(`image ${id} is gone`);
      pixels.push((await decodeImage(await imageBytes(db, image), base.inputSize)).pixels);
      keys.push(image.sha256);
    }
    const acts = await frozenActivations(split.frozen, pixels, {
      preprocessing: base.preprocessing,
      ...(augment ? { augment: { config: augment, keys } } : {}),
    });
    out.set(acts, start * perImage * len);
  }
  return out;
}

/** The backbone's features (the tuned top over cached activations, pooled as the feature set says). */
async function topFeatures(
  top: tf.LayersModel,
  activations: Float32Array,
  cutShape: number[],
  pooling: FeatureSetRecord['pooling'],
): Promise<Float32Array> {
  const len = cutShape.reduce((a, b) => a * b, 1);
  const n = activations.length / len;
  const parts: Float32Array[] = [];
  for (let start = 0; start < n; start += 32) {
    const end = Math.min(start + 32, n);
    const y = tf.tidy(() => {
      const x = tf.tensor(activations.subarray(start * len, end * len), [end - start, ...cutShape]);
      const f = top.predict(x) as tf.Tensor;
      return pooling === 'avg' ? tf.mean(f, [1, 2]) : f;
    });
    try {
      parts.push((await y.data()) as Float32Array);
    } finally {
      y.dispose();
    }
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function storeVectors(
  db: Db,
  featureSet: FeatureSetRecord,
  ids: readonly string[],
  values: Float32Array,
): Promise<void> {
  const d = featureSet.featureShape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < ids.length; start += 256) {
    const rows = ids.slice(start, start + 256).map((imageId, i) => ({
      imageId,
      featureSetId: featureSet.id,
      shape: featureSet.featureShape,
      values: values.slice((start + i) * d, (start + i + 1) * d),
    }));
    await saveFeatures(db, rows);
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Stores the tuned backbone as a TF.js layers folder in the database; returns its weights sha256. */
async function storeTunedBackbone(db: Db, model: tf.LayersModel, backbone: string): Promise<string> {
  const identity = weightsSha256(model);
  const files = await layersModelFiles(model);
  await saveBackboneWeights(db, {
    sha256: identity,
    backbone,
    modelJson: files['model.json'],
    modelJsonSha256: sha256(files['model.json']),
    weightsBin: files['weights.bin'],
    weightsBinSha256: sha256(files['weights.bin']),
  });
  return identity;
}

/** The registered head of a run as a tfjs model (its artifact verified first). */
async function loadTrainedHead(files: { path: string; data: Uint8Array }[]): Promise<tf.LayersModel> {
  const byPath = Object.fromEntries(files.map((f) => [f.path, f.data]));
  const artifact = {
    'model.json': byPath['model.json'],
    'weights.bin': byPath['weights.bin'],
    'manifest.json': byPath['manifest.json'],
  };
  if (Object.values(artifact).some((v) => v === undefined)) {
    throw new RunFailure(`the head to start from lacks a file: has ${Object.keys(byPath).join(', ')}`);
  }
  const verified = artifact as Record<keyof typeof artifact, Uint8Array>;
  await verifyHeadArtifact(verified);
  const json = JSON.parse(new TextDecoder().decode(verified['model.json'])) as tf.io.ModelJSON;
  const weights = verified['weights.bin'];
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(
        weights.byteOffset,
        weights.byteOffset + weights.byteLength,
      ) as ArrayBuffer,
    }),
  );
}
