import { createHash } from 'node:crypto';
import type { FeatureSetRecord, HeadConfigRequest } from '@edgehead/contracts';
import {
  addImage,
  createDataset,
  type Dataset,
  ensureFeatureSet,
  getRun,
  getRunDetail,
  inTransaction,
  listEpochs,
  loadFeatureMatrix,
  openExtraction,
  saveFeatures,
} from '@edgehead/db';
import { connect, type Database } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import { loadHead } from '@edgehead/head';
import { scorePredictions } from '@edgehead/training';
import { syntheticFeatures } from '@edgehead/training/testing';
import * as tf from '@tensorflow/tfjs';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { onError } from '../http/errors.ts';
import { modelRoutes } from '../models/routes.ts';
import { type JobQueue, startQueue } from '../queue/index.ts';
import { runRoutes } from './routes.ts';
import { trainRun } from './train.ts';
import { registerTrainingWorker, TRAIN_HEAD_QUEUE } from './worker.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

const FEATURE_SET = 'tinynet';
const SHAPE = [2, 2, 4];
const DIM = 16;
/** A small fast head for tests. */
const CONFIG = {
  preset: 'edgehead-default',
  hiddenUnits: 8,
  dropout: 0,
  optimizer: 'adam',
  learningRate: 0.01,
  epochs: 12,
  batchSize: 16,
  earlyStopping: null,
  seed: 7,
} satisfies HeadConfigRequest;

let testDb: TestDatabase;
let database: Database;
let queue: JobQueue;
let dataset: Dataset;
let petsFeatureSet: FeatureSetRecord;
let app: Hono;

/** Records the feature set a shorthand `name` (`<backbone>[+avg]`) stands for in these tests. */
function recordFeatureSet(name: string, weights = name): Promise<FeatureSetRecord> {
  const [backbone = name, pooled] = name.split('+');
  return ensureFeatureSet(database.db, {
    backbone,
    weights: { sha256: createHash('sha256').update(weights).digest('hex'), source: `/weights/${weights}` },
    pooling: pooled ? 'avg' : 'none',
    preprocessing: 'rescale',
    inputSize: [8, 8],
    featureLayer: 'out',
    featureShape: SHAPE,
    provenance: null,
  });
}

/**
 * Stores a separable synthetic feature set as images + vectors of `name` (binary: 'cat', 'dog'), and the
 * extraction that would have computed them.
 */
async function seedDataset(
  name: string,
  featureSetName: string,
  splits: { train: number; validation: number; test: number },
) {
  const db = database.db;
  const featureSet = await recordFeatureSet(featureSetName);
  const ds = await createDataset(db, { name, classes: ['cat', 'dog'] });
  let seed = 1;
  for (const [split, n] of Object.entries(splits)) {
    if (n === 0) continue;
    const { train } = syntheticFeatures({ n, dim: DIM, numClasses: 2, separation: 1.5, seed: seed++ });
    const vectors = [];
    for (let i = 0; i < n; i++) {
      const data = new TextEncoder().encode(`${name}-${split}-${i}`);
      const sha256 = createHash('sha256').update(data).digest('hex');
      const label = train.labels[i] === 1 ? 'dog' : 'cat';
      const { image } = await addImage(db, {
        datasetId: ds.id,
        split,
        label,
        sha256,
        data,
        width: 1,
        height: 1,
        bytes: data.length,
      });
      vectors.push({
        imageId: image.id,
        featureSetId: featureSet.id,
        shape: SHAPE,
        values: train.features.slice(i * DIM, (i + 1) * DIM),
      });
    }
    await saveFeatures(db, vectors);
  }
  await inTransaction(database.sql, (tx) => openExtraction(tx.db, ds.id, featureSet.id));
  return { dataset: ds, featureSet };
}

async function post(path: string, body: unknown) {
  const res = await app.request(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      error?: { code: string; message: string; details?: { field?: string } };
    },
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await connect({ url: testDb.url });
  queue = await startQueue(database.sql, { maintenanceIntervalSeconds: 1 });
  ({ dataset, featureSet: petsFeatureSet } = await seedDataset('pets', FEATURE_SET, {
    train: 80,
    validation: 40,
    test: 40,
  }));
  await seedDataset('no-features', 'other+avg', { train: 4, validation: 0, test: 0 });
  const deps = { db: database.db, queue };
  app = new Hono();
  app.onError(onError);
  app.route('/', runRoutes(deps));
  app.route('/', modelRoutes(deps));
}, 120_000);

afterAll(async () => {
  await queue?.stop();
  await database?.close();
  await testDb?.drop();
});

describe('POST /v1/runs validation', () => {
  it.each([
    [{ epochs: 0 }, 'epochs'],
    [{ learningRate: -0.1 }, 'learningRate'],
    [{ optimizer: 'adagrad' }, 'optimizer'],
    [{ hiddenUnitz: 3 }, 'hiddenUnitz'],
  ])('refuses config %j with 400 naming %s', async (override, field) => {
    const { status, body } = await post('/v1/runs', {
      dataset: 'pets',
      featureSet: FEATURE_SET,
      ...CONFIG,
      ...override,
    });
    expect(status).toBe(400);
    expect(body.error?.code).toBe('validation_failed');
    expect(body.error?.details?.field).toBe(field);
  });

  it('refuses an unknown backbone naming the backbone field', async () => {
    const { status, body } = await post('/v1/runs', { dataset: 'pets', backbone: 'resnet9000', ...CONFIG });
    expect(status).toBe(400);
    expect(body.error?.details?.field).toBe('backbone');
    expect(body.error?.message).toContain('resnet9000');
  });

  it('refuses a known backbone whose features were never extracted for the dataset', async () => {
    const { status, body } = await post('/v1/runs', {
      dataset: 'pets',
      backbone: 'mobilenet_v1_0.75',
      ...CONFIG,
    });
    expect(status).toBe(400);
    expect(body.error?.details?.field).toBe('backbone');
    expect(body.error?.message).toContain('no stored');
  });

  it('takes a feature-set id, and refuses a shorthand matching two weights of the dataset, listing both', async () => {
    const { dataset: ds, featureSet: a } = await seedDataset('two-weights', 'twin', {
      train: 4,
      validation: 2,
      test: 0,
    });
    const b = await recordFeatureSet('twin', 'other weights');
    await inTransaction(database.sql, (tx) => openExtraction(tx.db, ds.id, b.id));
    const ambiguous = await post('/v1/runs', { dataset: 'two-weights', backbone: 'twin', ...CONFIG });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.error?.details?.field).toBe('backbone');
    expect(ambiguous.body.error?.message).toContain(a.id);
    expect(ambiguous.body.error?.message).toContain(b.id);
    const byId = await post('/v1/runs', { dataset: 'two-weights', featureSet: a.id, ...CONFIG });
    expect(byId.status).toBe(202);
    expect(byId.body.featureSetId).toBe(a.id);
    expect((await post(`/v1/runs/${byId.body.id}/cancel`, {})).body.status).toBe('cancelled');
    const unknown = await post('/v1/runs', {
      dataset: 'two-weights',
      featureSet: '00000000-0000-4000-8000-000000000000',
      ...CONFIG,
    });
    expect([unknown.status, unknown.body.error?.details?.field]).toEqual([400, 'featureSet']);
  });

  it('refuses a dataset without validation features, and an unknown dataset with 404', async () => {
    const partial = await post('/v1/runs', { dataset: 'no-features', featureSet: 'other+avg', ...CONFIG });
    expect(partial.status).toBe(400);
    expect(partial.body.error?.details?.field).toBe('featureSet');
    expect(partial.body.error?.message).toContain('validation');
    const missing = await post('/v1/runs', { dataset: 'nope', featureSet: FEATURE_SET, ...CONFIG });
    expect(missing.status).toBe(404);
    expect(missing.body.error?.details?.field).toBe('dataset');
  });
});

describe('training runs', () => {
  it('trains through the queue to >= 0.95 test accuracy, writing each epoch as it ends, and registers a model', async () => {
    const seenDuringRun: number[] = [];
    const stop = await registerTrainingWorker(queue, database.db, {
      pollSeconds: 0.5,
      pollMs: 200,
      afterEpoch: async (m) => {
        // rows are visible to another reader while the run is still going
        const rows = await listEpochs(database.db, runIdOf(m.epoch));
        seenDuringRun.push(rows.length);
      },
    });
    let created: { id: string } | undefined;
    const runIdOf = (_: number) => created?.id ?? '';
    try {
      const res = await post('/v1/runs', {
        dataset: 'pets',
        featureSet: FEATURE_SET,
        ...CONFIG,
        pooling: 'flatten',
      });
      expect(res.status).toBe(202);
      created = res.body as unknown as { id: string };
      expect(res.body.status).toBe('queued');
      const run = await waitFor('the run to finish', async () => {
        const r = await getRun(database.db, created?.id ?? '');
        return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
      });
      expect(run.error).toBeNull();
      expect(run.status).toBe('succeeded');
      expect(seenDuringRun).toEqual(Array.from({ length: CONFIG.epochs }, (_, i) => i + 1));
      expect(Object.keys(run.timings)).toEqual(expect.arrayContaining(['load', 'train', 'evaluate', 'save']));
      expect(run.backend).toMatch(/^(wasm|cpu|tensorflow)$/);

      const detail = (await (await app.request(`/v1/runs/${run.id}`)).json()) as {
        epochs: unknown[];
        evaluations: {
          split: string;
          accuracy: number;
          confusion: number[][];
          roc: unknown[];
          perClass: unknown[];
        }[];
        model: { id: string; name: string; version: number };
      };
      expect(detail.epochs).toHaveLength(CONFIG.epochs);
      const test = detail.evaluations.find((e) => e.split === 'test');
      expect(test?.accuracy).toBeGreaterThanOrEqual(0.95);
      expect(test?.confusion.flat().reduce((a, b) => a + b, 0)).toBe(40);
      expect(test?.perClass).toHaveLength(2);
      expect(detail.evaluations.map((e) => e.split)).toEqual(['validation', 'test']);
      expect(detail.model).toMatchObject({ name: 'pets', version: 1 });

      const list = (await (
        await app.request(`/v1/runs?dataset=${dataset.id}&status=succeeded&sort=test_accuracy`)
      ).json()) as {
        items: { id: string; epochsDone: number; testAccuracy: number }[];
        total: number;
      };
      expect(list.items.find((r) => r.id === run.id)).toMatchObject({
        epochsDone: CONFIG.epochs,
        testAccuracy: test?.accuracy,
      });
    } finally {
      await stop();
    }
  });

  it('gives the same metrics for the same seed twice', async () => {
    const a = await startDirect({ ...CONFIG, seed: 3 });
    const b = await startDirect({ ...CONFIG, seed: 3 });
    expect(await trainRun(database.db, a)).toBe('succeeded');
    expect(await trainRun(database.db, b)).toBe('succeeded');
    const [da, dbb] = [await getRunDetail(database.db, a), await getRunDetail(database.db, b)];
    const strip = (d: typeof da) => ({
      epochs: d.epochs.map(({ loss, accuracy, valLoss, valAccuracy }) => ({
        loss,
        accuracy,
        valLoss,
        valAccuracy,
      })),
      evaluations: d.evaluations.map(({ accuracy, rocAuc, confusion, threshold }) => ({
        accuracy,
        rocAuc,
        confusion,
        threshold,
      })),
    });
    expect(strip(dbb)).toEqual(strip(da));
    expect(da.model?.version).not.toBe(dbb.model?.version);
  });

  it('stops a cancelled run between batches without registering a model', async () => {
    const id = await startDirect({ ...CONFIG, epochs: 200 });
    const outcome = await trainRun(database.db, id, {
      pollMs: 50,
      afterEpoch: async (m) => {
        if (m.epoch === 2) expect((await post(`/v1/runs/${id}/cancel`, {})).status).toBe(200);
      },
    });
    expect(outcome).toBe('cancelled');
    const detail = await getRunDetail(database.db, id);
    expect(detail.run.status).toBe('cancelled');
    expect(detail.epochs.length).toBeGreaterThanOrEqual(2);
    expect(detail.epochs.length).toBeLessThan(200);
    expect(detail.model).toBeNull();
    // a job that starts after the cancel does nothing
    expect(await trainRun(database.db, id)).toBe('skipped');
  });

  it('serves an artifact that tfjs loads and that reproduces the stored test evaluation', async () => {
    const id = await startDirect({ ...CONFIG, pooling: 'avg', threshold: 'accuracy' });
    expect(await trainRun(database.db, id)).toBe('succeeded');
    const detail = await getRunDetail(database.db, id);
    const modelId = detail.model?.id as string;
    const res = await app.request(`/v1/models/${modelId}/artifact`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      files: Record<'model.json' | 'weights.bin' | 'manifest.json', string>;
    };
    const files = {
      'model.json': Buffer.from(body.files['model.json'], 'base64'),
      'weights.bin': Buffer.from(body.files['weights.bin'], 'base64'),
      'manifest.json': Buffer.from(body.files['manifest.json'], 'base64'),
    };
    const head = await loadHead({
      'model.json': new Uint8Array(files['model.json']),
      'weights.bin': new Uint8Array(files['weights.bin']),
      'manifest.json': new Uint8Array(files['manifest.json']),
    });
    expect(head.manifest).toMatchObject({
      format: 'edgehead-head/2',
      featureSet: { id: petsFeatureSet.id, key: petsFeatureSet.key, backbone: FEATURE_SET },
      featureShape: SHAPE,
      classes: ['cat', 'dog'],
      task: 'binary',
      runId: id,
    });

    const raw = await app.request(`/v1/models/${modelId}/artifact?file=weights.bin`);
    expect(Buffer.from(await raw.arrayBuffer()).equals(files['weights.bin'])).toBe(true);

    const modelJson = JSON.parse(files['model.json'].toString('utf8'));
    const weightData = files['weights.bin'].buffer.slice(
      files['weights.bin'].byteOffset,
      files['weights.bin'].byteOffset + files['weights.bin'].byteLength,
    );
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData,
      }),
    );
    const test = await loadFeatureMatrix(database.db, dataset.id, petsFeatureSet.id, 'test');
    const out = tf.tidy(
      () => model.predict(tf.tensor(test.data, [test.labels.length, ...SHAPE])) as tf.Tensor,
    );
    const probs = (await out.data()) as Float32Array;
    out.dispose();
    model.dispose();
    const labels = test.labels.map((l) => (l === 'dog' ? 1 : 0));
    const rescored = scorePredictions(probs, labels, ['cat', 'dog'], head.manifest.threshold as number);
    const stored = detail.evaluations.find((e) => e.split === 'test');
    expect(rescored.confusion).toEqual(stored?.confusion);
    expect(rescored.accuracy).toBe(stored?.accuracy);
    expect(rescored.rocAuc).toBeCloseTo(stored?.rocAuc as number, 10);
    // the edge runtime on the same artifact agrees with tfjs
    const edgeOut = head.model.predict(test.data, test.labels.length);
    for (let i = 0; i < probs.length; i++)
      expect(Math.abs((edgeOut[i] as number) - (probs[i] as number))).toBeLessThanOrEqual(1e-5);
  });
});

describe('dead workers', () => {
  it('retries a run whose worker froze until its job expired, and the retry finishes it', async () => {
    const freeze = deferred();
    let attempt = 0;
    const stop = await registerTrainingWorker(queue, database.db, {
      pollSeconds: 0.5,
      pollMs: 100,
      queue: { expireSeconds: 5, retryLimit: 1, retryDelaySeconds: 0 },
      afterEpoch: async (m) => {
        if (m.epoch === 1 && ++attempt === 1) await freeze.promise; // the first attempt never comes back
      },
    });
    try {
      const id = await startDirect(CONFIG);
      await queue.boss.send(
        TRAIN_HEAD_QUEUE,
        { runId: id },
        { expireInSeconds: 5, retryLimit: 1, retryDelay: 0 },
      );
      const run = await waitFor('the retried run to finish', async () => {
        const r = await getRun(database.db, id);
        return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
      });
      expect(run).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(await listEpochs(database.db, id)).toHaveLength(CONFIG.epochs);
    } finally {
      freeze.resolve();
      await stop();
    }
  });

  it('marks a run failed with the reason when its last attempt expires', async () => {
    const freeze = deferred();
    const stop = await registerTrainingWorker(queue, database.db, {
      pollSeconds: 0.5,
      pollMs: 100,
      queue: { expireSeconds: 1, retryLimit: 0, retryDelaySeconds: 0 },
      afterEpoch: () => freeze.promise,
    });
    try {
      const id = await startDirect(CONFIG);
      await queue.boss.send(TRAIN_HEAD_QUEUE, { runId: id }, { expireInSeconds: 1, retryLimit: 0 });
      const run = await waitFor('the run to be failed', async () => {
        const r = await getRun(database.db, id);
        return r.status === 'failed' ? r : undefined;
      });
      expect(run.error).toMatch(/gave up after 1 attempt/);
      expect(run.error).toMatch(/exceeded|timeout/);
    } finally {
      freeze.resolve();
      await stop();
    }
  });
});

/** Creates a queued run without enqueueing it (the test drives `trainRun` itself). */
async function startDirect(config: HeadConfigRequest): Promise<string> {
  const { createRun } = await import('@edgehead/db');
  const { headConfigRequest } = await import('@edgehead/contracts');
  const resolved = headConfigRequest.parse(config);
  const run = await createRun(database.db, {
    datasetId: dataset.id,
    featureSetId: petsFeatureSet.id,
    config: resolved,
    epochsTotal: resolved.epochs,
  });
  return run.id;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
