import { createHash } from 'node:crypto';
import {
  augmentationRequest,
  type FeatureSetRecord,
  featureSetLabel,
  type HeadManifest,
} from '@edgehead/contracts';
import {
  addImage,
  cancelExtractions,
  createDataset,
  createRun,
  type Db,
  ensureFeatureSet,
  failExtraction,
  failRun,
  finishIfCovered,
  finishRun,
  inTransaction,
  openExtraction,
  recordDeployment,
  recordEpoch,
  registerModel,
  saveEvaluation,
  saveFeatures,
  startRun,
} from '@edgehead/db';
import type { Database } from '@edgehead/db/node';

/** Deterministic learning curves: loss falls, accuracy rises towards `top`, val a little worse than train. */
export function curve(epoch: number, top: number) {
  const t = 1 - Math.exp(-epoch / 4);
  return {
    epoch,
    loss: 0.7 - 0.5 * t,
    accuracy: 0.5 + (top - 0.45) * t,
    valLoss: 0.72 - 0.42 * t,
    valAccuracy: 0.5 + (top - 0.5) * t,
    durationMs: 900 + epoch,
  };
}

/** An `edgehead-head/1` manifest: the registered models predate feature-set records (the dashboard reads both). */
function manifest(runId: string): HeadManifest {
  return {
    format: 'edgehead-head/1',
    backbone: 'vgg16',
    preprocessing: 'caffe',
    featureShape: [4, 4, 512],
    task: 'binary',
    classes: ['cats', 'dogs'],
    threshold: 0.5,
    metrics: {},
    files: [
      { path: 'model.json', sha256: 'a'.repeat(64), bytes: 1 },
      { path: 'weights.bin', sha256: 'b'.repeat(64), bytes: 1 },
    ],
    runId,
    createdAt: new Date(0).toISOString(),
  } as HeadManifest;
}

/** The feature set a shorthand `name` (`<backbone>[+avg]`) stands for in the seed (weights hashed from it). */
function featureSetOf(db: Db, name: string): Promise<FeatureSetRecord> {
  const [backbone = name, pooled] = name.split('+');
  const mobilenet = backbone.startsWith('mobilenet');
  return ensureFeatureSet(db, {
    backbone,
    weights: { sha256: createHash('sha256').update(name).digest('hex'), source: `/weights/${backbone}` },
    pooling: pooled ? 'avg' : 'none',
    preprocessing: mobilenet ? 'tf' : 'caffe',
    inputSize: mobilenet ? [224, 224] : [150, 150],
    featureLayer: mobilenet ? 'out_relu' : 'block5_pool',
    featureShape: pooled ? [1280] : [4, 4, 512],
    provenance: null,
  });
}

/** What `seedDashboard` wrote, for assertions. */
export interface Seeded {
  datasets: { cats: string; flowers: string };
  /** `featureSetLabel` and id of each feature set the runs use, by shorthand. */
  featureSets: Record<
    'vgg16' | 'mobilenet_v2_1.0+avg' | 'mobilenet_v1_0.75+avg',
    { id: string; label: string }
  >;
  /** Extractions: cats x vgg16 done (4 images), flowers x mobilenet_v1 failed, cats x mobilenet_v2 cancelled. */
  extractions: { done: string; failed: string; cancelled: string };
  /** Finished binary VGG16 runs (12 and 8 epochs). */
  recipe: string;
  tuned: string;
  /** A multiclass MobileNet run, finished. */
  flowers: string;
  /** Running: 3 of 10 epochs written. */
  live: string;
  failed: string;
  queued: string;
}

/**
 * Seeds two datasets and six runs in every state, with epochs, evaluations (confusion matrix, ROC,
 * per-class), two registered models and two deployments of the alias `pets`, and three extractions.
 */
export async function seedDashboard({ db, sql }: Pick<Database, 'db' | 'sql'>): Promise<Seeded> {
  const cats = await createDataset(db, { name: 'cats-vs-dogs-small', classes: ['cats', 'dogs'] });
  const flowers = await createDataset(db, { name: 'flowers', classes: ['daisy', 'rose', 'tulip'] });
  const sets = {
    vgg16: await featureSetOf(db, 'vgg16'),
    'mobilenet_v2_1.0+avg': await featureSetOf(db, 'mobilenet_v2_1.0+avg'),
    'mobilenet_v1_0.75+avg': await featureSetOf(db, 'mobilenet_v1_0.75+avg'),
  };
  const finished = async (input: {
    datasetId: string;
    featureSet: keyof typeof sets;
    preset: string;
    config: Record<string, unknown>;
    epochs: number;
    top: number;
    classes: string[];
  }) => {
    const run = await createRun(db, {
      datasetId: input.datasetId,
      featureSetId: sets[input.featureSet].id,
      preset: input.preset,
      config: input.config,
      epochsTotal: input.epochs,
    });
    await startRun(db, run.id, { backend: 'wasm' });
    for (let e = 1; e <= input.epochs; e++) await recordEpoch(db, run.id, curve(e, input.top));
    const k = input.classes.length;
    const confusion = input.classes.map((_, i) =>
      input.classes.map((__, j) => (i === j ? 90 - 3 * i : 5 + i)),
    );
    await saveEvaluation(db, {
      runId: run.id,
      split: 'test',
      n: confusion.flat().reduce((a, b) => a + b, 0),
      accuracy: input.top - 0.01,
      precision: input.top - 0.02,
      recall: input.top,
      f1: input.top - 0.015,
      rocAuc: k === 2 ? 0.95 : null,
      threshold: k === 2 ? 0.5 : null,
      confusion,
      perClass: input.classes.map((label, i) => ({
        label,
        precision: 0.9 - i / 100,
        recall: 0.88,
        f1: 0.89,
        support: 100,
      })),
      roc:
        k === 2
          ? [0, 0.05, 0.1, 0.2, 0.4, 1].map((fpr, i) => ({
              fpr,
              tpr: [0, 0.6, 0.8, 0.9, 0.97, 1][i] as number,
              threshold: 1 - i / 5,
            }))
          : null,
    });
    await finishRun(db, run.id, { train: input.epochs * 900 });
    return run.id;
  };
  const recipeConfig = {
    hiddenUnits: 256,
    dropout: 0.5,
    pooling: 'flatten',
    optimizer: 'rmsprop',
    learningRate: 2e-5,
    epochs: 12,
    batchSize: 20,
    earlyStopping: null,
  };
  const recipe = await finished({
    datasetId: cats.id,
    featureSet: 'vgg16',
    preset: 'keras-vgg16-feature-extraction',
    config: recipeConfig,
    epochs: 12,
    top: 0.9,
    classes: cats.classes,
  });
  const tuned = await finished({
    datasetId: cats.id,
    featureSet: 'vgg16',
    preset: 'edgehead-default',
    config: {
      ...recipeConfig,
      optimizer: 'adam',
      learningRate: 1e-4,
      epochs: 8,
      batchSize: 32,
      earlyStopping: { patience: 6 },
    },
    epochs: 8,
    top: 0.93,
    classes: cats.classes,
  });
  const flowerRun = await finished({
    datasetId: flowers.id,
    featureSet: 'mobilenet_v2_1.0+avg',
    preset: 'edgehead-default',
    config: { hiddenUnits: 0, optimizer: 'adam', learningRate: 1e-3, epochs: 5 },
    epochs: 5,
    top: 0.8,
    classes: flowers.classes,
  });

  const live = await createRun(db, {
    datasetId: cats.id,
    featureSetId: sets.vgg16.id,
    preset: 'edgehead-default',
    config: { ...recipeConfig, epochs: 10 },
    epochsTotal: 10,
  });
  await startRun(db, live.id, { backend: 'cpu' });
  for (let e = 1; e <= 3; e++) await recordEpoch(db, live.id, curve(e, 0.88));

  const failed = await createRun(db, {
    datasetId: flowers.id,
    featureSetId: sets['mobilenet_v1_0.75+avg'].id,
    config: { epochs: 3 },
    epochsTotal: 3,
  });
  await startRun(db, failed.id, { backend: 'wasm' });
  await recordEpoch(db, failed.id, curve(1, 0.7));
  await failRun(db, failed.id, 'features missing for 12 images of split validation');

  const queued = await createRun(db, {
    datasetId: cats.id,
    featureSetId: sets['mobilenet_v2_1.0+avg'].id,
    preset: 'edgehead-default',
    config: { epochs: 20 },
    epochsTotal: 20,
  });

  const models = [];
  for (const runId of [recipe, tuned]) {
    models.push(
      await registerModel(db, {
        runId,
        name: 'pets',
        manifest: manifest(runId),
        artifactSha256: 'd'.repeat(64),
        files: [{ path: 'model.json', sha256: 'c'.repeat(64), data: new Uint8Array([1]) }],
      }),
    );
  }
  await recordDeployment(db, {
    modelId: models[0]?.id as string,
    alias: 'pets',
    edgeVersion: 'v1',
    active: false,
    activatedBy: 'seed',
  });
  await recordDeployment(db, {
    modelId: models[1]?.id as string,
    alias: 'pets',
    edgeVersion: 'v2',
    active: true,
    activatedBy: 'seed',
  });

  const images = [];
  for (let i = 0; i < 4; i++) {
    const data = new TextEncoder().encode(`seed-image-${i}`);
    const { image } = await addImage(db, {
      datasetId: cats.id,
      split: 'train',
      label: i % 2 ? 'dogs' : 'cats',
      data,
      sha256: createHash('sha256').update(data).digest('hex'),
      width: 1,
      height: 1,
      bytes: data.length,
    });
    images.push(image.id);
  }
  const extraction = (datasetId: string, set: keyof typeof sets) =>
    inTransaction(sql, (tx) => openExtraction(tx.db, datasetId, sets[set].id));
  const done = await extraction(cats.id, 'vgg16');
  await saveFeatures(
    db,
    images.map((imageId) => ({
      imageId,
      featureSetId: sets.vgg16.id,
      shape: [4, 4, 512],
      values: new Float32Array(8192),
    })),
  );
  await finishIfCovered(db, done.id);
  const failedExtraction = await extraction(flowers.id, 'mobilenet_v1_0.75+avg');
  await failExtraction(db, failedExtraction.id, 'weights_truncated: weight conv1/kernel needs bytes 0..864');
  const cancelled = await extraction(cats.id, 'mobilenet_v2_1.0+avg');
  await cancelExtractions(db, [cancelled.id]);

  const labelled = (set: keyof typeof sets) => ({ id: sets[set].id, label: featureSetLabel(sets[set]) });
  return {
    datasets: { cats: cats.id, flowers: flowers.id },
    featureSets: {
      vgg16: labelled('vgg16'),
      'mobilenet_v2_1.0+avg': labelled('mobilenet_v2_1.0+avg'),
      'mobilenet_v1_0.75+avg': labelled('mobilenet_v1_0.75+avg'),
    },
    extractions: { done: done.id, failed: failedExtraction.id, cancelled: cancelled.id },
    recipe,
    tuned,
    flowers: flowerRun,
    live: live.id,
    failed: failed.id,
    queued: queued.id,
  };
}

/** The augmented extraction `seedAugmented` writes and what its picture must measure. */
export interface SeededAugmented {
  extraction: string;
  /** The grid the dashboard asks for: 3 rows (images) x (original + 2 copies) of 32x32 cells, 2 px apart, x3. */
  width: number;
  height: number;
}

/**
 * Seeds an augmented extraction (2 copies of each of 3 decodable 32x32 PNG training images, as the gpu
 * service's samples route renders them) in a dataset of its own, apart from `seedDashboard`'s.
 */
export async function seedAugmented({ db, sql }: Pick<Database, 'db' | 'sql'>): Promise<SeededAugmented> {
  const { default: sharp } = await import('sharp');
  const shapes = await createDataset(db, { name: 'augmented-shapes', classes: ['red', 'blue'] });
  for (let i = 0; i < 3; i++) {
    const raw = Buffer.alloc(32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p++) {
      const [x, y] = [p % 32, Math.floor(p / 32)];
      raw.set(x < 16 + i * 4 && y > 8 ? [200, 40 * i, 30] : [240, 240, 250], p * 3);
    }
    const data = new Uint8Array(
      await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toBuffer(),
    );
    await addImage(db, {
      datasetId: shapes.id,
      split: 'train',
      label: i % 2 ? 'blue' : 'red',
      data,
      sha256: createHash('sha256').update(data).digest('hex'),
      width: 32,
      height: 32,
      bytes: data.length,
    });
  }
  const base = await ensureFeatureSet(db, {
    backbone: 'tinynet',
    weights: { sha256: 'c'.repeat(64), source: '/weights/tinynet' },
    pooling: 'avg',
    preprocessing: 'rescale',
    inputSize: [32, 32],
    featureLayer: 'features',
    featureShape: [4],
    provenance: null,
  });
  const augmented = await ensureFeatureSet(db, {
    ...base,
    provenance: {
      kind: 'augmented',
      baseFeatureSetId: base.id,
      params: augmentationRequest.parse({ copies: 2, seed: 4 }),
    },
  });
  const extraction = await inTransaction(sql, (tx) => openExtraction(tx.db, shapes.id, augmented.id));
  // the dashboard asks for up to 5 copies and cells of at least 96 px: 2 copies, scale 3
  return { extraction: extraction.id, width: 3 * (3 * 32 + 2 * 2), height: 3 * (3 * 32 + 2 * 2) };
}
