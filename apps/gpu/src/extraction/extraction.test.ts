import { mkdirSync, mkdtempSync } from 'node:fs';
import { rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type ExtractionProgress,
  FEATURE_HEADERS,
  featuresJsonResponse,
  type UploadResponse,
  uploadResponse,
} from '@edgehead/contracts';
import { schema } from '@edgehead/db';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../deps.ts';
import { startQueue } from '../queue/index.ts';
import { registryFromEnv } from '../services.ts';
import { auth, form, image, useTestApp } from '../test-support.ts';
import { EXTRACT_QUEUE, type ExtractJobData, type JobOutcome, registerExtractionWorker } from './jobs.ts';

const importRoot = mkdtempSync(path.join(tmpdir(), 'edgehead-import-'));
afterAll(() => rm(importRoot, { recursive: true, force: true }));

const ctx = useTestApp({
  EDGEHEAD_EXTRACT_BATCH: '3',
  EDGEHEAD_EXTRACT_EXPIRE_SECONDS: '2',
  EDGEHEAD_EXTRACT_RETRY_DELAY: '0',
  EDGEHEAD_IMPORT_ROOT: importRoot,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await sleep(200);
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function datasetWithImages(
  name: string,
  n: number,
  seed: number,
): Promise<{ id: string; ids: string[] }> {
  const { app } = ctx();
  const res = await app.request('/v1/datasets', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name, classes: ['cats', 'dogs'] }),
  });
  const { id } = (await res.json()) as { id: string };
  const files = await Promise.all(
    Array.from({ length: n }, async (_, i) => ({
      name: `train/${i % 2 ? 'dogs' : 'cats'}/${i}.jpg`,
      data: await image(seed + i),
    })),
  );
  const up = await app.request(`/v1/datasets/${id}/images`, {
    method: 'POST',
    headers: auth,
    body: form(files),
  });
  const r = uploadResponse.parse(await up.json());
  expect(r.accepted).toBe(n);
  return { id, ids: r.files.map((f) => (f as { imageId: string }).imageId) };
}

async function extract(id: string, body: object = {}) {
  const res = await ctx().app.request(`/v1/datasets/${id}/extract`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { queuedImages: number; queuedJobs: number; progress: ExtractionProgress };
}

async function progress(id: string): Promise<ExtractionProgress> {
  return (await (
    await ctx().app.request(`/v1/datasets/${id}/extract?backbone=tiny`)
  ).json()) as ExtractionProgress;
}

/** Vector rows per image id for the tiny feature set. */
async function vectorsPerImage(ids: string[]): Promise<Map<string, number>> {
  const rows = await ctx()
    .deps.db.select({ imageId: schema.features.imageId, shape: schema.features.shape })
    .from(schema.features)
    .where(inArray(schema.features.imageId, ids));
  const counts = new Map<string, number>();
  for (const r of rows) {
    expect(r.shape).toEqual([8, 8, 4]);
    counts.set(r.imageId, (counts.get(r.imageId) ?? 0) + 1);
  }
  return counts;
}

const whenDone = (id: string) =>
  until('extraction to finish', async () => {
    const p = await progress(id);
    return p.state === 'done' && p.jobs.active === 0 && p.jobs.queued === 0 ? p : undefined;
  });

describe('feature extraction jobs', () => {
  it('computes exactly one vector per image through pg-boss, reports progress, and skips done work', async () => {
    const { deps } = ctx();
    const { id, ids } = await datasetWithImages('extract-once', 7, 100);
    const queued = await extract(id);
    expect(queued).toMatchObject({ queuedImages: 7, queuedJobs: 3 });
    expect(queued.progress).toMatchObject({ state: 'queued', total: 7, done: 0, featureSet: 'tiny' });
    const outcomes: JobOutcome[] = [];
    const workers = await registerExtractionWorker(deps, { onJob: (_d, o) => outcomes.push(o) });
    const done = await whenDone(id);
    for (const w of workers) await deps.queue.boss.offWork({ id: w });
    expect(done).toMatchObject({ total: 7, done: 7, failed: 0, etaSeconds: 0 });
    expect(done.imagesPerSecond).toBeGreaterThan(0);
    const counts = await vectorsPerImage(ids);
    expect([...counts.values()]).toEqual(Array(7).fill(1));
    expect(outcomes.reduce((n, o) => n + o.stored, 0)).toBe(7);
    expect(await extract(id)).toMatchObject({ queuedImages: 0, queuedJobs: 0 });
    const detail = (await (await ctx().app.request(`/v1/datasets/${id}`)).json()) as {
      featureSets: ExtractionProgress[];
    };
    expect(detail.featureSets).toMatchObject([{ featureSet: 'tiny', done: 7, state: 'done' }]);
  });

  it('retries the batch of a worker that died mid-job, still one vector per image', async () => {
    const { deps } = ctx();
    const { id, ids } = await datasetWithImages('extract-crash', 6, 200);
    await extract(id);
    // A "worker" takes a job, stores part of it, and dies without completing it.
    const [dead] = await deps.queue.boss.fetch<ExtractJobData>(EXTRACT_QUEUE);
    expect(dead).toBeDefined();
    const { runExtractJob } = await import('./jobs.ts');
    const partial = { ...(dead?.data as ExtractJobData), imageIds: (dead?.data.imageIds ?? []).slice(0, 1) };
    expect((await runExtractJob(deps, partial)).stored).toBe(1);
    const workers = await registerExtractionWorker(deps);
    await sleep(2500);
    await deps.queue.boss.expire();
    await whenDone(id);
    for (const w of workers) await deps.queue.boss.offWork({ id: w });
    const job = await deps.queue.boss.getJobById(EXTRACT_QUEUE, dead?.id as string);
    expect(job?.state).toBe('completed');
    expect(job?.retryCount).toBeGreaterThanOrEqual(1);
    expect([...(await vectorsPerImage(ids)).values()]).toEqual(Array(6).fill(1));
  });

  it('lets two replicas share duplicated jobs without storing any vector twice', async () => {
    const { deps } = ctx();
    const { id, ids } = await datasetWithImages('extract-two', 9, 300);
    await extract(id);
    await extract(id); // the same 9 images queued twice
    const second = await startQueue(deps.sql, { supervise: false });
    const replica: AppDeps = { ...deps, queue: second, extractors: registryFromEnv(deps.env) };
    const outcomes: JobOutcome[] = [];
    const record = (_d: ExtractJobData, o: JobOutcome) => outcomes.push(o);
    const a = await registerExtractionWorker(deps, { onJob: record });
    const b = await registerExtractionWorker(replica, { onJob: record });
    try {
      await whenDone(id);
      await until('all jobs to settle', async () => (outcomes.length >= 6 ? true : undefined));
    } finally {
      for (const w of a) await deps.queue.boss.offWork({ id: w });
      for (const w of b) await second.boss.offWork({ id: w });
      await second.stop();
      await replica.extractors.dispose();
    }
    expect(outcomes.reduce((n, o) => n + o.stored, 0)).toBe(9);
    expect([...(await vectorsPerImage(ids)).values()]).toEqual(Array(9).fill(1));
  });
});

describe('server folders', () => {
  it('registers a folder by reference, refuses links and escapes, and marks vanished files failed', async () => {
    const { app, deps } = ctx();
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
    await extract(id);
    const workers = await registerExtractionWorker(deps);
    const done = await whenDone(id);
    for (const w of workers) await deps.queue.boss.offWork({ id: w });
    expect(done).toMatchObject({ total: 2, done: 2, failed: 1 });
    const [failed] = await deps.db
      .select({ error: schema.images.error })
      .from(schema.images)
      .where(eq(schema.images.status, 'failed'));
    expect(failed?.error).toContain('c.jpg');
  });
});

describe('POST /v1/features', () => {
  it('answers binary float32 with shape headers, equal to the stored vectors, and JSON on request', async () => {
    const { app } = ctx();
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
    expect(res.headers.get(FEATURE_HEADERS.featureSet)).toBe('tiny:rescale:8x8x4');
    const values = new Float32Array(await res.arrayBuffer());
    expect(values).toHaveLength(256);
    const { loadFeatureMatrix, getDataset } = await import('@edgehead/db');
    const ds = await getDataset(ctx().deps.db, 'extract-once');
    const m = await loadFeatureMatrix(ctx().deps.db, ds.id, 'tiny', 'train');
    const rows = Array.from({ length: m.imageIds.length }, (_, i) => m.data.slice(i * 256, (i + 1) * 256));
    expect(rows.some((r) => r.every((v, i) => Math.abs(v - (values[i] as number)) < 1e-6))).toBe(true);

    const batch = form([
      { name: 'a.jpg', data: jpeg },
      { name: 'b.png', data: await image(5, { format: 'png' }) },
    ]);
    const json = await app.request('/v1/features', {
      method: 'POST',
      headers: { ...auth, accept: 'application/json' },
      body: batch,
    });
    const parsed = featuresJsonResponse.parse(await json.json());
    expect(parsed.shape).toEqual([2, 8, 8, 4]);
    expect(parsed.features[0]?.[5]).toBeCloseTo(values[5] as number, 6);

    // A feature-set key asks for the pooling a head was trained on; the header names that feature set.
    const pooled = await app.request('/v1/features?backbone=tiny%2Bavg', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: jpeg,
    });
    expect(pooled.headers.get(FEATURE_HEADERS.shape)).toBe('1,4');
    expect(pooled.headers.get(FEATURE_HEADERS.featureSet)).toBe('tiny+avg:rescale:4');
    const avg = new Float32Array(await pooled.arrayBuffer());
    const mean = (c: number) => values.filter((_, i) => i % 4 === c).reduce((a, b) => a + b, 0) / 64;
    expect(
      Array.from(avg)
        .map((v, c) => v - mean(c))
        .every((d) => Math.abs(d) < 1e-5),
    ).toBe(true);
  });

  it('refuses what is not an image and unknown backbones with client errors', async () => {
    const { app } = ctx();
    const notImage = await app.request('/v1/features', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: 'definitely not a jpeg',
    });
    expect(notImage.status).toBe(415);
    const unknown = await app.request('/v1/features?backbone=nope', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: await image(1),
    });
    expect(unknown.status).toBe(400);
  });
});
