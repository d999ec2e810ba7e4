import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { cp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeImage } from '@edgehead/backbones';
import {
  type ExtractionProgress,
  FEATURE_HEADERS,
  featuresJsonResponse,
  type UploadResponse,
  uploadResponse,
} from '@edgehead/contracts';
import { EXTRACTION_QUEUE, type ExtractionBatch, getFeatureSet, schema } from '@edgehead/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../deps.ts';
import { startQueue } from '../queue/index.ts';
import { registryFromEnv } from '../services.ts';
import { auth, form, image, useTestApp, writeTinyBackbone } from '../test-support.ts';
import {
  addImages,
  batchStates,
  datasetWithImages,
  extract,
  progressOf,
  until,
  vectorsPerImage,
  whenSettled,
} from './testing.ts';
import { type JobOutcome, registerExtractionWorker, runExtractJob } from './worker.ts';

const importRoot = mkdtempSync(path.join(tmpdir(), 'edgehead-import-'));
afterAll(() => rm(importRoot, { recursive: true, force: true }));

const ctx = useTestApp({
  EDGEHEAD_EXTRACT_BATCH: '3',
  EDGEHEAD_EXTRACT_EXPIRE_SECONDS: '2',
  EDGEHEAD_EXTRACT_RETRY_DELAY: '0',
  EDGEHEAD_IMPORT_ROOT: importRoot,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs this process's extraction workers while `f` runs. */
async function withWorkers<T>(
  deps: AppDeps,
  f: () => Promise<T>,
  onJob?: (o: JobOutcome) => void,
): Promise<T> {
  const workers = await registerExtractionWorker(deps, { onJob: (_b, o) => onJob?.(o) });
  try {
    return await f();
  } finally {
    for (const w of workers) await deps.queue.boss.offWork({ id: w });
  }
}

/** A second replica on the same database: its own pg-boss and an empty extractor cache (as after a start). */
async function replica(
  deps: AppDeps,
  env: AppDeps['env'] = deps.env,
): Promise<AppDeps & { stop(): Promise<void> }> {
  const queue = await startQueue(deps.sql, { supervise: false });
  const extractors = registryFromEnv(env);
  return {
    ...deps,
    queue,
    extractors,
    async stop() {
      await queue.stop();
      await extractors.dispose();
    },
  };
}

/** The stored vector bytes of (image, feature set). */
async function storedBytes(deps: AppDeps, imageId: string, featureSetId: string): Promise<Buffer> {
  const [row] = await deps.db
    .select({ vector: schema.features.vector })
    .from(schema.features)
    .where(and(eq(schema.features.imageId, imageId), eq(schema.features.featureSetId, featureSetId)));
  return Buffer.from(row?.vector ?? []);
}

describe('feature extraction', () => {
  it('computes exactly one vector per image through pg-boss and answers repeated requests with the same extraction', async () => {
    const t = ctx();
    const { id, ids } = await datasetWithImages(t, 'extract-once', 7, 100);
    const first = await extract(t, id);
    expect(first).toMatchObject({ queuedImages: 7, queuedJobs: 3 });
    expect(first.progress).toMatchObject({
      state: 'queued',
      total: 7,
      done: 0,
      jobs: { queued: 3, active: 0, failed: 0 },
      datasetName: 'extract-once',
      featureSet: { backbone: 'tiny', pooling: 'none', preprocessing: 'rescale', featureShape: [8, 8, 4] },
    });
    expect(first.progress.featureSet.weights.sha256).toMatch(/^[0-9a-f]{64}$/);
    // a repeated request while the batches wait: the same extraction, nothing queued
    const again = await extract(t, id, { backbone: 'tiny' });
    expect(again).toMatchObject({ queuedImages: 0, queuedJobs: 0, progress: { id: first.progress.id } });
    expect(await batchStates(t, first.progress.id)).toEqual({ created: 3 });

    const outcomes: JobOutcome[] = [];
    const done = await withWorkers(
      t.deps,
      () => whenSettled(t, id, first.progress.id),
      (o) => outcomes.push(o),
    );
    expect(done).toMatchObject({ total: 7, done: 7, failed: 0, etaSeconds: 0, error: null });
    expect(done.finishedAt).not.toBeNull();
    expect(done.imagesPerSecond).toBeGreaterThan(0);
    expect([...(await vectorsPerImage(t, ids)).values()]).toEqual(Array(7).fill(1));
    expect(outcomes.reduce((n, o) => n + o.stored, 0)).toBe(7);
    expect(outcomes[0]?.featureSet).toMatch(/^tiny@rescale#[0-9a-f]{8}$/);

    expect(await extract(t, id)).toMatchObject({
      queuedImages: 0,
      queuedJobs: 0,
      progress: { state: 'done' },
    });
    const detail = (await (await t.app.request(`/v1/datasets/${id}`)).json()) as {
      extractions: ExtractionProgress[];
    };
    expect(detail.extractions).toMatchObject([{ id: first.progress.id, done: 7, state: 'done' }]);

    // images added since: the same extraction queues only those
    const added = await addImages(t, id, 2, 150);
    expect((await progressOf(t, id, first.progress.id)).state).toBe('idle');
    const more = await extract(t, id);
    expect(more).toMatchObject({
      queuedImages: 2,
      queuedJobs: 1,
      progress: { id: first.progress.id, total: 9 },
    });
    await withWorkers(t.deps, () => whenSettled(t, id, first.progress.id));
    expect([...(await vectorsPerImage(t, [...ids, ...added])).values()]).toEqual(Array(9).fill(1));
  });

  it('retries the batch of a worker that died mid-batch, still one vector per image', async () => {
    const t = ctx();
    const { deps } = t;
    const { id, ids } = await datasetWithImages(t, 'extract-crash', 6, 200);
    const queued = await extract(t, id);
    // a "worker" takes a batch, stores part of it, and dies without completing it
    const [dead] = await deps.queue.boss.fetch<ExtractionBatch>(EXTRACTION_QUEUE);
    expect(dead).toBeDefined();
    const partial = { ...(dead?.data as ExtractionBatch), imageIds: (dead?.data.imageIds ?? []).slice(0, 1) };
    expect((await runExtractJob(deps, partial)).stored).toBe(1);
    await withWorkers(deps, async () => {
      await sleep(2500);
      await deps.queue.boss.expire();
      await whenSettled(t, id, queued.progress.id);
    });
    const job = await deps.queue.boss.getJobById(EXTRACTION_QUEUE, dead?.id as string);
    expect(job?.state).toBe('completed');
    expect(job?.retryCount).toBeGreaterThanOrEqual(1);
    expect([...(await vectorsPerImage(t, ids)).values()]).toEqual(Array(6).fill(1));
  });

  it('lets two replicas share an extraction, a duplicated batch included, without storing any vector twice', async () => {
    const t = ctx();
    const { deps } = t;
    const { id, ids } = await datasetWithImages(t, 'extract-two', 9, 300);
    const queued = await extract(t, id);
    // a batch queued twice (as by a client that bypassed the service): the copy finds nothing left to do
    const [job] = await deps.queue.boss.fetch<ExtractionBatch>(EXTRACTION_QUEUE);
    await deps.queue.boss.insert([{ name: EXTRACTION_QUEUE, data: job?.data }]);
    await deps.queue.boss.fail(EXTRACTION_QUEUE, job?.id as string, { message: 'handed back' });
    const other = await replica(deps);
    const outcomes: JobOutcome[] = [];
    const record = (_b: ExtractionBatch, o: JobOutcome) => outcomes.push(o);
    const a = await registerExtractionWorker(deps, { onJob: record });
    const b = await registerExtractionWorker(other, { onJob: record });
    try {
      await whenSettled(t, id, queued.progress.id);
      await until('the duplicate to run', async () => (outcomes.length >= 4 ? true : undefined));
    } finally {
      for (const w of a) await deps.queue.boss.offWork({ id: w });
      for (const w of b) await other.queue.boss.offWork({ id: w });
      await other.stop();
    }
    expect(outcomes.reduce((n, o) => n + o.stored, 0)).toBe(9);
    expect([...(await vectorsPerImage(t, ids)).values()]).toEqual(Array(9).fill(1));
  });

  it('refuses an unknown backbone and weights that cannot be loaded with a 400 naming the field, queuing nothing', async () => {
    const t = ctx();
    const { id } = await datasetWithImages(t, 'extract-refused', 3, 500);
    const corrupt = path.join(t.dir, 'corrupt');
    await cp(path.join(t.dir, 'tiny'), corrupt, { recursive: true });
    await truncate(path.join(corrupt, 'weights.bin'), 10);
    const jobsBefore = await batchStates(t);
    const extractionsBefore = await t.deps.db.select().from(schema.extractions);
    const refused = [
      [{ backbone: 'resnet9000' }, 'backbone', undefined],
      [{ backbone: 'mobilenet_v2_0.35' }, 'weights', 'EDGEHEAD_WEIGHTS_MOBILENET_V2_0_35'],
      [{ backbone: 'vgg16', weights: '/no/such/weights.h5' }, 'weights', 'EDGEHEAD_WEIGHTS_VGG16'],
      [{ backbone: 'vgg16', weights: 'http://127.0.0.1:9/vgg16.h5' }, 'weights', 'EDGEHEAD_WEIGHTS_VGG16'],
      [{ backbone: 'tiny', weights: corrupt }, 'weights', 'EDGEHEAD_BACKBONES'],
    ] as const;
    for (const [body, field, variable] of refused) {
      const res = await extract(t, id, body, 400);
      expect(res.error?.details, JSON.stringify(body)).toMatchObject({
        field,
        ...(variable ? { variable } : {}),
      });
      if (variable) expect(res.error?.message).toContain(variable);
    }
    const reasons = (await Promise.all(refused.slice(2).map(([body]) => extract(t, id, body, 400)))).map(
      (r) => r.error?.details?.reason,
    );
    expect(reasons).toEqual(['weights_not_found', 'download_failed', 'weights_truncated']);
    expect(await batchStates(t)).toEqual(jobsBefore);
    expect(await t.deps.db.select().from(schema.extractions)).toEqual(extractionsBefore);
  });

  it('fails an extraction once when a replica finds its weights damaged, drops its batches, and another finishes', async () => {
    const t = ctx();
    const { deps } = t;
    // other weights than `tiny`'s (the same tensors would be the same feature set, read from tiny's folder)
    const doomedWeights = await writeTinyBackbone(t.dir, { name: 'doomed', seed: 9 });
    const doomed = await datasetWithImages(t, 'extract-doomed', 12, 600);
    const healthy = await datasetWithImages(t, 'extract-healthy', 6, 700);
    const bad = await extract(t, doomed.id, { backbone: 'tiny', weights: doomedWeights });
    const good = await extract(t, healthy.id, { backbone: 'tiny' });
    expect(bad.queuedJobs).toBe(4);
    // the weights loaded when the request came; now they are damaged where the replica reads them
    await truncate(path.join(doomedWeights, 'weights.bin'), 10);
    const other = await replica(deps);
    const outcomes: JobOutcome[] = [];
    try {
      await withWorkers(
        other,
        () => whenSettled(t, healthy.id, good.progress.id),
        (o) => outcomes.push(o),
      );
    } finally {
      await other.stop();
    }
    const failed = await progressOf(t, doomed.id, bad.progress.id);
    expect(failed).toMatchObject({ state: 'failed', done: 0, jobs: { queued: 0, active: 0, failed: 0 } });
    expect(failed.error).toMatch(/^weights_truncated: /);
    expect(outcomes.filter((o) => o.error !== undefined)).toHaveLength(1);
    // one batch ran once and completed (no retries); the three waiting ones are gone
    expect(await batchStates(t, bad.progress.id)).toEqual({ completed: 1 });
    expect(await vectorsPerImage(t, doomed.ids)).toEqual(new Map());
    expect([...(await vectorsPerImage(t, healthy.ids)).values()]).toEqual(Array(6).fill(1));
  });

  it('runs the first batches of every extraction before later ones of any other, and cancels without losing vectors', async () => {
    const t = ctx();
    const { deps } = t;
    const big = await datasetWithImages(t, 'extract-big', 12, 800);
    const small = await datasetWithImages(t, 'extract-small', 6, 900);
    const a = (await extract(t, big.id)).progress.id;
    const b = (await extract(t, small.id)).progress.id;
    const fetched = [];
    for (let i = 0; i < 4; i++)
      fetched.push(...(await deps.queue.boss.fetch<ExtractionBatch>(EXTRACTION_QUEUE)));
    // the small extraction, queued second, interleaves with the big one instead of waiting for it
    expect(fetched.map((j) => (j.data.extractionId === a ? 'big' : 'small'))).toEqual([
      'big',
      'small',
      'big',
      'small',
    ]);
    const [a0, b0, a1, b1] = fetched as [
      (typeof fetched)[0],
      (typeof fetched)[0],
      (typeof fetched)[0],
      (typeof fetched)[0],
    ];
    expect((await runExtractJob(deps, a0.data)).stored).toBe(3);

    const res = await t.app.request(`/v1/datasets/${big.id}/extract/cancel`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const cancelled = (await res.json()) as { cancelled: ExtractionProgress[]; droppedJobs: number };
    expect(cancelled).toMatchObject({ droppedJobs: 2, cancelled: [{ id: a, state: 'cancelled', done: 3 }] });
    // the batch a worker already holds computes nothing once it sees the cancel
    expect(await runExtractJob(deps, a1.data)).toMatchObject({ stopped: 'cancelled', stored: 0 });
    for (const j of [b0, b1]) await runExtractJob(deps, j.data);
    await deps.queue.boss.complete(
      EXTRACTION_QUEUE,
      fetched.map((j) => j.id),
    );
    expect(await batchStates(t, a)).toEqual({ completed: 2 });
    expect((await progressOf(t, small.id, b)).state).toBe('done');
    expect([...(await vectorsPerImage(t, big.ids)).values()]).toEqual([1, 1, 1]);

    // asked for again, the cancelled extraction resumes with what is missing
    const resumed = await extract(t, big.id);
    expect(resumed).toMatchObject({ queuedImages: 9, queuedJobs: 3, progress: { id: a, state: 'queued' } });
    await withWorkers(deps, () => whenSettled(t, big.id, a));
    expect([...(await vectorsPerImage(t, big.ids)).values()]).toEqual(Array(12).fill(1));
  });

  it('keeps a feature set per weights: other weights extract beside the old vectors, which stay served by id', async () => {
    const t = ctx();
    const { deps } = t;
    const { id, ids } = await datasetWithImages(t, 'extract-weights', 4, 1000);
    const old = await extract(t, id);
    await withWorkers(deps, () => whenSettled(t, id, old.progress.id));
    const before = await Promise.all(ids.map((i) => storedBytes(deps, i, old.progress.featureSet.id)));
    const otherWeights = await writeTinyBackbone(t.dir, { name: 'tiny-other', seed: 8 });
    const fresh = await extract(t, id, { backbone: 'tiny', weights: otherWeights });
    expect(fresh.progress.id).not.toBe(old.progress.id);
    expect(fresh.progress.featureSet.id).not.toBe(old.progress.featureSet.id);
    expect(fresh.progress.featureSet.weights).toEqual({
      sha256: expect.not.stringMatching(old.progress.featureSet.weights.sha256 as string),
      source: otherWeights,
    });
    expect(fresh).toMatchObject({ queuedImages: 4 });
    await withWorkers(deps, () => whenSettled(t, id, fresh.progress.id));
    expect([...(await vectorsPerImage(t, ids)).values()]).toEqual(Array(4).fill(2));
    expect(await Promise.all(ids.map((i) => storedBytes(deps, i, old.progress.featureSet.id)))).toEqual(
      before,
    );
    const detail = (await (await t.app.request(`/v1/datasets/${id}`)).json()) as {
      extractions: ExtractionProgress[];
    };
    expect(detail.extractions.map((e) => e.featureSet.id).sort()).toEqual(
      [old.progress.featureSet.id, fresh.progress.featureSet.id].sort(),
    );
  });
});

describe('server folders', () => {
  it('registers a folder by reference, refuses links and escapes, and marks vanished files failed', async () => {
    const t = ctx();
    const { app, deps } = t;
    const root = path.join(importRoot, 'pets');
    for (const d of ['train/cats', 'train/dogs']) mkdirSync(path.join(root, d), { recursive: true });
    await writeFile(path.join(root, 'train/cats/a.jpg'), await image(400));
    await writeFile(path.join(root, 'train/dogs/b.jpg'), await image(401));
    await writeFile(path.join(root, 'train/dogs/c.jpg'), await image(402));
    await symlink('/etc/hostname', path.join(root, 'train/cats/link.jpg'));
    const res = await app.request('/v1/datasets', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'folder', classes: ['cats', 'dogs'] }),
    });
    const { id } = (await res.json()) as { id: string };
    const register = (p: string) =>
      app.request(`/v1/datasets/${id}/folder`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ path: p }),
      });
    expect((await register('../..')).status).toBe(403);
    const ok = await register('pets');
    expect(ok.status).toBe(200);
    const r: UploadResponse = uploadResponse.parse(await ok.json());
    expect(r.files.map((f) => `${f.name}:${f.status}`)).toEqual([
      'train/cats/a.jpg:accepted',
      'train/cats/link.jpg:rejected',
      'train/dogs/b.jpg:accepted',
      'train/dogs/c.jpg:accepted',
    ]);
    const [stored] = await deps.db
      .select({ storageKey: schema.images.storageKey })
      .from(schema.images)
      .where(eq(schema.images.datasetId, id))
      .limit(1);
    expect(stored?.storageKey.startsWith('file:')).toBe(true);
    await rm(path.join(root, 'train/dogs/c.jpg'));
    const queued = await extract(t, id);
    const done = await withWorkers(deps, () => whenSettled(t, id, queued.progress.id));
    expect(done).toMatchObject({ total: 2, done: 2, failed: 1 });
    const [failed] = await deps.db
      .select({ error: schema.images.error })
      .from(schema.images)
      .where(eq(schema.images.status, 'failed'));
    expect(failed?.error).toContain('c.jpg');
  });
});

describe('POST /v1/features', () => {
  it('answers binary float32 with shape headers, bit-equal to the stored vectors, and JSON on request', async () => {
    const t = ctx();
    const { app, deps } = t;
    const jpeg = await image(100); // image 0 of the first test's dataset
    const res = await app.request('/v1/features?backbone=tiny', {
      method: 'POST',
      headers: {
        ...auth,
        'content-type': 'image/jpeg',
        accept: 'application/octet-stream, application/json;q=0.5',
      },
      body: jpeg,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get(FEATURE_HEADERS.shape)).toBe('1,8,8,4');
    expect(res.headers.get(FEATURE_HEADERS.dtype)).toBe('float32');
    const featureSetId = res.headers.get(FEATURE_HEADERS.featureSet) as string;
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes).toHaveLength(256 * 4);
    const [imageRow] = await deps.db
      .select({ id: schema.images.id })
      .from(schema.images)
      .innerJoin(schema.datasets, eq(schema.datasets.id, schema.images.datasetId))
      .where(
        and(
          eq(schema.datasets.name, 'extract-once'),
          eq(schema.images.sha256, createHash('sha256').update(jpeg).digest('hex')),
        ),
      );
    // the image is in a dataset with a vector of this feature set: that vector, not a new forward pass
    expect(res.headers.get(FEATURE_HEADERS.stored)).toBe('1');
    expect(await storedBytes(deps, imageRow?.id as string, featureSetId)).toEqual(bytes);
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, 256);

    // bytes no dataset holds are computed, with exactly the extractor a stored vector came from
    const unseen = await image(424242);
    const fresh = await app.request(`/v1/features?featureSet=${featureSetId}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: unseen,
    });
    expect(fresh.headers.get(FEATURE_HEADERS.stored)).toBe('0');
    const extractor = await deps.extractors.forFeatureSet(await getFeatureSet(deps.db, featureSetId));
    const [expected] = await extractor.extract([
      (await decodeImage(unseen, extractor.info.inputSize)).pixels,
    ]);
    expect(new Float32Array(await fresh.arrayBuffer())).toEqual(expected);

    const batch = form([
      { name: 'a.jpg', data: jpeg },
      { name: 'b.png', data: await image(5, { format: 'png' }) },
    ]);
    const json = await app.request(`/v1/features?featureSet=${featureSetId}`, {
      method: 'POST',
      headers: { ...auth, accept: 'application/json' },
      body: batch,
    });
    const parsed = featuresJsonResponse.parse(await json.json());
    expect(parsed).toMatchObject({ featureSet: featureSetId, shape: [2, 8, 8, 4], stored: 1 });
    expect(parsed.features[0]).toEqual(Array.from(values));

    // a shorthand asks for the pooling a head was trained on: another feature set
    const pooled = await app.request('/v1/features?backbone=tiny%2Bavg', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: jpeg,
    });
    expect(pooled.headers.get(FEATURE_HEADERS.shape)).toBe('1,4');
    expect(pooled.headers.get(FEATURE_HEADERS.featureSet)).not.toBe(featureSetId);
    const avg = Array.from(new Float32Array(await pooled.arrayBuffer()));
    const mean = (c: number) => values.filter((_, i) => i % 4 === c).reduce((a, b) => a + b, 0) / 64;
    expect(avg).toHaveLength(4);
    expect(avg.map((v, c) => Math.abs(v - mean(c)))).toEqual(Array(4).fill(expect.closeTo(0, 5)));
  });

  it('serves a feature set bit-identically after a restart, and refuses weights that changed at its source', async () => {
    const t = ctx();
    const { id, ids } = await datasetWithImages(t, 'features-restart', 3, 1100);
    const weights = await writeTinyBackbone(t.dir, { name: 'tiny-restart', seed: 11 });
    const queued = await extract(t, id, { backbone: 'tiny', weights });
    await withWorkers(t.deps, () => whenSettled(t, id, queued.progress.id));
    const featureSetId = queued.progress.featureSet.id;
    // a restarted service: nothing loaded, nothing remembered of the request that named these weights
    const restarted = await replica(t.deps);
    const { createApp } = await import('../app.ts');
    const app = createApp(restarted);
    try {
      // the restarted replica's own forward pass (not the stored vectors /v1/features would hand back)
      const extractor = await restarted.extractors.forFeatureSet(
        await getFeatureSet(t.deps.db, featureSetId),
      );
      for (const [i, imageId] of ids.entries()) {
        const pixels = (await decodeImage(await image(1100 + i), extractor.info.inputSize)).pixels;
        const [vector] = await extractor.extract([pixels]);
        const computed = Buffer.from((vector as Float32Array).buffer);
        expect(computed).toEqual(await storedBytes(t.deps, imageId, featureSetId));
      }
      const res = await app.request(`/v1/features?featureSet=${featureSetId}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'image/jpeg' },
        body: await image(1100),
      });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(
        await storedBytes(t.deps, ids[0] as string, featureSetId),
      );
    } finally {
      await restarted.stop();
    }
    await writeTinyBackbone(t.dir, { name: 'tiny-restart', seed: 12 });
    const again = await replica(t.deps);
    try {
      const ask = async (body: Awaited<ReturnType<typeof image>>) =>
        createApp(again).request(`/v1/features?featureSet=${featureSetId}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'image/jpeg' },
          body,
        });
      // an image with a stored vector still gets it: no forward pass, so the changed weights do not matter
      const known = await ask(await image(1100));
      expect(known.status).toBe(200);
      expect(Buffer.from(await known.arrayBuffer())).toEqual(
        await storedBytes(t.deps, ids[0] as string, featureSetId),
      );
      const res = await ask(await image(1199));
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { message: string; details: Record<string, unknown> } };
      expect(body.error.details).toMatchObject({
        field: 'featureSet',
        expected: queued.progress.featureSet.weights.sha256,
        source: weights,
      });
      expect(body.error.message).toContain(weights);
    } finally {
      await again.stop();
    }
  });

  it('notices weights replaced at the same path while running: a new feature set, the old one refused', async () => {
    const t = ctx();
    const { id } = await datasetWithImages(t, 'features-replaced', 2, 1300);
    const weights = await writeTinyBackbone(t.dir, { name: 'tiny-replaced', seed: 31 });
    const first = await extract(t, id, { backbone: 'tiny', weights });
    await withWorkers(t.deps, () => whenSettled(t, id, first.progress.id));
    await writeTinyBackbone(t.dir, { name: 'tiny-replaced', seed: 32 }); // same folder, other weights
    const second = await extract(t, id, { backbone: 'tiny', weights });
    expect(second.progress.featureSet.id).not.toBe(first.progress.featureSet.id);
    expect(second.queuedImages).toBe(2);
    const old = await getFeatureSet(t.deps.db, first.progress.featureSet.id);
    await expect(t.deps.extractors.forFeatureSet(old)).rejects.toMatchObject({ code: 'checksum_mismatch' });
  });

  it('serves a feature set on a replica whose copy of the weights lives elsewhere, if it hashes the same', async () => {
    const t = ctx();
    const { id } = await datasetWithImages(t, 'features-moved', 2, 1200);
    const recorded = await writeTinyBackbone(t.dir, { name: 'tiny-moved-a', seed: 21 });
    const queued = await extract(t, id, { backbone: 'tiny', weights: recorded });
    await withWorkers(t.deps, () => whenSettled(t, id, queued.progress.id));
    const record = await getFeatureSet(t.deps.db, queued.progress.featureSet.id);
    // another machine: the recorded folder is not there, its copy is where this replica's tiny points
    const copy = path.join(t.dir, 'tiny-moved-b');
    await cp(recorded, copy, { recursive: true });
    await rm(recorded, { recursive: true });
    const configuredAt = (weights: string) => ({
      ...t.deps.env,
      userBackbones: [{ name: 'tiny', weights, preprocessing: 'rescale' as const }],
    });
    const elsewhere = await replica(t.deps, configuredAt(copy));
    try {
      const extractor = await elsewhere.extractors.forFeatureSet(record);
      expect(extractor.info.featureSet.weights.sha256).toBe(record.weights.sha256);
    } finally {
      await elsewhere.stop();
    }
    // other weights at the configured path are not taken for the recorded ones
    const other = await writeTinyBackbone(t.dir, { name: 'tiny-moved-c', seed: 22 });
    const wrong = await replica(t.deps, configuredAt(other));
    try {
      await expect(wrong.extractors.forFeatureSet(record)).rejects.toMatchObject({
        code: 'weights_not_found',
      });
    } finally {
      await wrong.stop();
    }
  });

  it('refuses what is not an image, unknown backbones and unknown feature sets with client errors', async () => {
    const { app } = ctx();
    const notImage = await app.request('/v1/features', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: 'definitely not a jpeg',
    });
    expect(notImage.status).toBe(415);
    const post = (query: string) =>
      app.request(`/v1/features?${query}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'image/jpeg' },
        body: 'x',
      });
    expect((await post('backbone=nope')).status).toBe(400);
    expect((await post('featureSet=00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await post('featureSet=x')).status).toBe(400);
    expect((await post('featureSet=00000000-0000-4000-8000-000000000000&backbone=tiny')).status).toBe(400);
  });
});
