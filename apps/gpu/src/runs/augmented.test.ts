// Runs on an augmented feature set: each epoch draws the original or one of its copies per training image;
// validation and test (and the head's manifest) use the plain vectors only.
import { createHash } from 'node:crypto';
import { augmentationRequest, type FeatureSetRecord, type HeadConfigRequest } from '@edgehead/contracts';
import {
  addImage,
  createDataset,
  ensureFeatureSet,
  getModel,
  getRunDetail,
  inTransaction,
  loadFeatureMatrix,
  openExtraction,
  saveFeatures,
} from '@edgehead/db';
import { connect, type Database } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import { syntheticFeatures } from '@edgehead/training/testing';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { onError } from '../http/errors.ts';
import { type JobQueue, startQueue } from '../queue/index.ts';
import { runRoutes } from './routes.ts';
import { trainRun } from './train.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

const SHAPE = [16];
const DIM = 16;
const COPIES = 2;
const CONFIG = {
  preset: 'edgehead-default',
  hiddenUnits: 8,
  dropout: 0,
  optimizer: 'adam',
  learningRate: 0.01,
  epochs: 10,
  batchSize: 16,
  earlyStopping: null,
  seed: 7,
} satisfies HeadConfigRequest;

let testDb: TestDatabase;
let database: Database;
let queue: JobQueue;
let app: Hono;
let plain: FeatureSetRecord;
let augmented: FeatureSetRecord;

/**
 * A dataset whose plain training vectors carry no signal (zeros) and whose augmented copies are separable:
 * a head learns only from the copies. Validation and test hold separable plain vectors, and, planted beside
 * them, "augmented" rows of the other class's pattern that a run must never read.
 */
async function seed(): Promise<void> {
  const db = database.db;
  const identity = {
    backbone: 'tinynet',
    weights: { sha256: createHash('sha256').update('w').digest('hex'), source: '/weights/w' },
    pooling: 'none' as const,
    preprocessing: 'rescale' as const,
    inputSize: [8, 8] as [number, number],
    featureLayer: 'out',
    featureShape: SHAPE,
    provenance: null,
  };
  plain = await ensureFeatureSet(db, identity);
  augmented = await ensureFeatureSet(db, {
    ...identity,
    provenance: {
      kind: 'augmented',
      baseFeatureSetId: plain.id,
      params: augmentationRequest.parse({ copies: COPIES, seed: 1 }),
    },
  });
  const ds = await createDataset(db, { name: 'aug-pets', classes: ['cat', 'dog'] });
  const sizes = { train: 80, validation: 40, test: 40 } as const;
  let s = 1;
  for (const [split, n] of Object.entries(sizes)) {
    const good = syntheticFeatures({
      n: n * (COPIES + 1),
      dim: DIM,
      numClasses: 2,
      separation: 1.5,
      seed: s++,
    });
    const vectors = [];
    for (let i = 0; i < n; i++) {
      const data = new TextEncoder().encode(`aug-${split}-${i}`);
      const y = i % 2;
      const { image } = await addImage(db, {
        datasetId: ds.id,
        split,
        label: y === 1 ? 'dog' : 'cat',
        sha256: createHash('sha256').update(data).digest('hex'),
        data,
        width: 1,
        height: 1,
        bytes: data.length,
      });
      // rows of `good` alternate classes: row 2j + y is of class y, 2j + 1 - y of the other
      const row = (j: number, cls: number) =>
        good.train.features.slice((2 * j + cls) * DIM, (2 * j + cls + 1) * DIM);
      const original = split === 'train' ? new Float32Array(DIM) : row(i, y);
      vectors.push({ imageId: image.id, featureSetId: plain.id, shape: SHAPE, values: original });
      for (let c = 0; c < COPIES; c++) {
        const j = n + i * COPIES + c;
        const values =
          split === 'train' ? row(j % ((n * (COPIES + 1)) / 2), y) : row(j % ((n * (COPIES + 1)) / 2), 1 - y);
        vectors.push({ imageId: image.id, featureSetId: augmented.id, copy: c, shape: SHAPE, values });
      }
    }
    await saveFeatures(db, vectors);
  }
  await inTransaction(database.sql, (tx) => openExtraction(tx.db, ds.id, plain.id));
  await inTransaction(database.sql, (tx) => openExtraction(tx.db, ds.id, augmented.id));
}

async function post(path: string, body: unknown) {
  const res = await app.request(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as { id: string; error?: { message: string } } };
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await connect({ url: testDb.url });
  queue = await startQueue(database.sql, { supervise: false });
  await seed();
  app = new Hono();
  app.onError(onError);
  app.route('/', runRoutes({ db: database.db, queue }));
});

afterAll(async () => {
  await queue?.stop();
  await database?.close();
  await testDb?.drop();
});

async function trained(featureSet: string) {
  const res = await post('/v1/runs', { dataset: 'aug-pets', featureSet, ...CONFIG });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(await trainRun(database.db, res.body.id)).toBe('succeeded');
  return getRunDetail(database.db, res.body.id);
}

describe('a run on an augmented feature set', () => {
  it('learns from the copies, evaluates on the plain vectors only, and says which feature set it used', async () => {
    const onCopies = await trained(augmented.id);
    const onPlain = await trained(plain.id);
    const accuracy = (d: typeof onCopies, split: string) =>
      d.evaluations.find((e) => e.split === split)?.accuracy ?? Number.NaN;
    // the plain originals are blank: only the copies teach the head anything
    expect(accuracy(onPlain, 'test')).toBeLessThanOrEqual(0.6);
    // the planted validation/test copies are of the other class: had they been read, accuracy would be ~0
    expect(accuracy(onCopies, 'validation')).toBeGreaterThanOrEqual(0.9);
    expect(accuracy(onCopies, 'test')).toBeGreaterThanOrEqual(0.9);
    expect(onCopies.evaluations.map((e) => e.n)).toEqual([40, 40]);
    expect(onCopies.run).toMatchObject({
      featureSetId: augmented.id,
      featureSet: `tinynet@rescale#${plain.weights.sha256?.slice(0, 8)} (augmented)`,
    });
    // the head classifies plain features: its manifest names the plain feature set
    const model = await getModel(database.db, onCopies.model?.id as string);
    expect((model.manifest as { featureSet: { id: string } }).featureSet.id).toBe(plain.id);
    // the loader of plain matrices never hands out copies
    const test = await loadFeatureMatrix(database.db, onCopies.run.datasetId, plain.id, 'test');
    expect(test.imageIds).toHaveLength(40);
  });

  it('refuses an augmented feature set whose copies are missing for a training image', async () => {
    const res = await post('/v1/runs', { dataset: 'aug-pets', featureSet: augmented.id, ...CONFIG });
    await database.sql`delete from features where feature_set_id = ${augmented.id} and copy = 1
      and image_id = (select image_id from features where feature_set_id = ${augmented.id} limit 1)`;
    expect(await trainRun(database.db, res.body.id)).toBe('failed');
    const detail = await getRunDetail(database.db, res.body.id);
    expect(detail.run.error).toMatch(/augmented copy 1 of 2 is not stored/);
  });
});
