import type { HeadManifest } from '@edgehead/contracts';
import {
  createDataset,
  createRun,
  type Db,
  failRun,
  finishRun,
  recordDeployment,
  recordEpoch,
  registerModel,
  saveEvaluation,
  startRun,
} from '@edgehead/db';

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

/** What `seedDashboard` wrote, for assertions. */
export interface Seeded {
  datasets: { cats: string; flowers: string };
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
 * per-class), two registered models and two deployments of the alias `pets`.
 */
export async function seedDashboard(db: Db): Promise<Seeded> {
  const cats = await createDataset(db, { name: 'cats-vs-dogs-small', classes: ['cats', 'dogs'] });
  const flowers = await createDataset(db, { name: 'flowers', classes: ['daisy', 'rose', 'tulip'] });
  const finished = async (input: {
    datasetId: string;
    featureSet: string;
    preset: string;
    config: Record<string, unknown>;
    epochs: number;
    top: number;
    classes: string[];
  }) => {
    const run = await createRun(db, {
      datasetId: input.datasetId,
      featureSet: input.featureSet,
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
    featureSet: 'vgg16',
    preset: 'edgehead-default',
    config: { ...recipeConfig, epochs: 10 },
    epochsTotal: 10,
  });
  await startRun(db, live.id, { backend: 'cpu' });
  for (let e = 1; e <= 3; e++) await recordEpoch(db, live.id, curve(e, 0.88));

  const failed = await createRun(db, {
    datasetId: flowers.id,
    featureSet: 'mobilenet_v1_0.75+avg',
    config: { epochs: 3 },
    epochsTotal: 3,
  });
  await startRun(db, failed.id, { backend: 'wasm' });
  await recordEpoch(db, failed.id, curve(1, 0.7));
  await failRun(db, failed.id, 'features missing for 12 images of split validation');

  const queued = await createRun(db, {
    datasetId: cats.id,
    featureSet: 'mobilenet_v2_1.0+avg',
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

  return {
    datasets: { cats: cats.id, flowers: flowers.id },
    recipe,
    tuned,
    flowers: flowerRun,
    live: live.id,
    failed: failed.id,
    queued: queued.id,
  };
}
