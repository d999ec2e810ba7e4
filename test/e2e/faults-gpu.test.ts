// Faults of the gpu service, each on the real process: SIGKILL during extraction and training, the database
// cut away for a few seconds, two replicas sharing a dataset, a publish whose edge connection dies.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExtractionProgress, RunDetailResponse } from '@edgehead/contracts';
import type { Database } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  type CutProxy,
  featureCounts,
  type GpuProcess,
  hostPort,
  inspect,
  startGpu,
  startProxy,
  uploadDataset,
  viaPort,
  waitFor,
} from './faults-harness.ts';
import { writeDataset, writeTinyBackbone } from './fixtures.ts';

const FEATURE_SET = 'tiny';
// 2 classes x (6 train + 3 validation + 3 test) = 24 images
const COUNTS = { train: 6, validation: 3, test: 3 };
const IMAGES = 24;

describe('gpu service under faults', () => {
  let work: string;
  let database: TestDatabase;
  let sql: Database['sql'];
  let base: Record<string, string>;
  const running: GpuProcess[] = [];
  const proxies: CutProxy[] = [];

  const gpu = async (extra: Record<string, string> = {}) => {
    const p = await startGpu({ ...base, ...extra });
    running.push(p);
    return p;
  };

  const datasetId = async (name: string) => {
    const [row] = await sql<{ id: string }[]>`select id from datasets where name = ${name}`;
    if (!row) throw new Error(`no dataset ${name}`);
    return row.id;
  };

  const vectors = async (name: string) => featureCounts(sql, await datasetId(name), FEATURE_SET);

  /** Polls until every ready image has its vector and no extraction job of the dataset is left. */
  const extractionSettles = (url: string, name: string) =>
    waitFor(
      `extraction of ${name} to finish`,
      async () => {
        const p = await api<ExtractionProgress>(url, 'GET', `/v1/datasets/${name}/extract?backbone=tiny`);
        return p.status === 200 && p.body.state === 'done' ? p.body : undefined;
      },
      90_000,
    );

  const runDetail = async (url: string, id: string) =>
    (await api<RunDetailResponse>(url, 'GET', `/v1/runs/${id}`)).body;

  const epochRows = (runId: string) =>
    sql<
      { epoch: number; loss: number | null }[]
    >`select epoch, loss from epochs where run_id = ${runId} order by epoch`;

  /** A run ended (never stuck running) with its epochs numbered 1..n once each, as many as it reports. */
  const expectRunEndedConsistently = async (url: string, runId: string) => {
    const detail = await waitFor(
      `run ${runId} to end`,
      async () => {
        const d = await runDetail(url, runId);
        return d.run.status === 'succeeded' || d.run.status === 'failed' ? d : undefined;
      },
      60_000,
    );
    if (detail.run.status === 'failed') {
      expect(detail.run.error, 'a failed run names its reason').toMatch(/\S/);
    } else {
      const rows = await epochRows(runId);
      expect(rows.length, 'a succeeded run has epochs').toBeGreaterThan(0);
      expect(rows.map((r) => r.epoch)).toEqual(rows.map((_, i) => i + 1));
      expect(rows.length).toBe(detail.epochs.length);
      expect(rows.length).toBe(detail.run.timings.epochs);
      expect(rows.every((r) => r.loss !== null && Number.isFinite(r.loss))).toBe(true);
      expect(detail.evaluations.length).toBeGreaterThan(0);
      expect(detail.model).not.toBeNull();
    }
    return detail;
  };

  const startRun = async (url: string, dataset: string, epochs: number) => {
    const res = await api<{ id: string }>(url, 'POST', '/v1/runs', {
      dataset,
      backbone: 'tiny',
      preset: 'edgehead-default',
      epochs,
      earlyStopping: null,
      hiddenUnits: 8,
      dropout: 0,
      learningRate: 0.01,
      batchSize: 4,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.id;
  };

  /** Epochs of a run that lasts about 3 s on this machine (measured by the training test). */
  let epochs = 1000;

  const epochsWritten = async (runId: string) => (await epochRows(runId)).length;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgehead-faults-'));
    await writeTinyBackbone(path.join(work, 'tiny'));
    await writeDataset(path.join(work, 'data'), COUNTS);
    database = await createTestDatabase();
    sql = await inspect(database.url);
    base = {
      DATABASE_URL: database.url,
      EDGEHEAD_BACKBONES: JSON.stringify([
        { name: 'tiny', weights: path.join(work, 'tiny'), preprocessing: 'rescale' },
      ]),
      EDGEHEAD_WEIGHTS_CACHE: path.join(work, 'weights'),
      EDGEHEAD_GPU_POOL_SIZE: '0',
      EDGEHEAD_QUEUE_POLL_SECONDS: '0.5',
      EDGEHEAD_QUEUE_MAINTENANCE_SECONDS: '1',
      EDGEHEAD_EXTRACT_BATCH: '2',
      EDGEHEAD_EXTRACT_EXPIRE_SECONDS: '3',
      EDGEHEAD_EXTRACT_RETRY_DELAY: '0',
      EDGEHEAD_EXTRACT_RETRY_LIMIT: '10',
      EDGEHEAD_TRAIN_EXPIRE_SECONDS: '15',
      EDGEHEAD_TRAIN_RETRY_DELAY: '0',
      EDGEHEAD_TRAIN_RETRY_LIMIT: '3',
    };
  });

  afterEach(async (ctx) => {
    const failed = ctx.task.result?.state === 'fail';
    for (const p of running.splice(0)) {
      await p.kill('SIGKILL');
      if (failed) console.error(`gpu service log (${p.url}):\n${p.log().slice(-4000)}`);
    }
    for (const p of proxies.splice(0)) await p.close();
  });

  afterAll(async () => {
    await sql?.end();
    await database?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('SIGKILL in the middle of extraction: after a restart every image has exactly one complete vector', async () => {
    const a = await gpu();
    expect(await uploadDataset(a.url, 'killed-extract', path.join(work, 'data'))).toBe(IMAGES);
    const queued = await api<{ queuedJobs: number }>(a.url, 'POST', '/v1/datasets/killed-extract/extract', {
      backbone: 'tiny',
    });
    expect(queued.status).toBe(202);
    expect(queued.body.queuedJobs).toBe(IMAGES / 2);
    const before = await waitFor('a few vectors', async () => {
      const c = await vectors('killed-extract');
      return c.vectors >= 4 ? c : undefined;
    });
    await a.kill('SIGKILL');
    expect(before.vectors, 'the kill landed before the end of extraction').toBeLessThan(IMAGES);

    const b = await gpu();
    const progress = await extractionSettles(b.url, 'killed-extract');
    expect(progress).toMatchObject({ total: IMAGES, done: IMAGES, failed: 0 });
    expect(await vectors('killed-extract')).toEqual({
      images: IMAGES,
      vectors: IMAGES,
      distinct: IMAGES,
      broken: 0,
    });
  });

  it('SIGKILL during a training run: the run is retried and succeeds (or fails with a reason), never stuck running', async () => {
    const a = await gpu();
    // a short run first: it registers the model the publish test uses and measures this machine's epoch
    // time, so the killed run lasts a few seconds here (well under EDGEHEAD_TRAIN_EXPIRE_SECONDS)
    const calibration = await startRun(a.url, 'killed-extract', 100);
    await expectRunEndedConsistently(a.url, calibration);
    const [span] = await sql<{ ms: number }[]>`
      select extract(epoch from max(created_at) - min(created_at)) * 1000 / (count(*) - 1) as ms
      from epochs where run_id = ${calibration}`;
    epochs = Math.max(50, Math.min(10_000, Math.round(3000 / Math.max(Number(span?.ms ?? 1), 0.1))));

    const runId = await startRun(a.url, 'killed-extract', epochs);
    await waitFor('a few epochs', async () => ((await epochsWritten(runId)) >= 3 ? true : undefined));
    await a.kill('SIGKILL');
    const partial = await epochsWritten(runId);
    expect(partial, 'the kill landed before the end of training').toBeLessThan(epochs);

    const b = await gpu();
    const detail = await expectRunEndedConsistently(b.url, runId);
    expect(detail.run.status, detail.run.error ?? '').toBe('succeeded');
    expect(detail.run.attempts).toBeGreaterThanOrEqual(2);
    expect(detail.epochs.length).toBe(epochs);
  });

  it('the database goes away for a few seconds during extraction and training: the service survives and finishes', async () => {
    const proxy = await startProxy(hostPort(database.url));
    proxies.push(proxy);
    const a = await gpu({ DATABASE_URL: viaPort(database.url, proxy.port) });
    expect(await uploadDataset(a.url, 'outage', path.join(work, 'data'))).toBe(IMAGES);
    expect((await api(a.url, 'POST', '/v1/datasets/outage/extract', { backbone: 'tiny' })).status).toBe(202);
    await waitFor('a few vectors', async () => ((await vectors('outage')).vectors >= 2 ? true : undefined));
    proxy.cut();
    await new Promise((r) => setTimeout(r, 3000));
    // while it is away the service answers promptly that it is degraded, instead of crashing or hanging
    const health = await fetch(`${a.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('degraded');
    proxy.restore();
    await waitFor('health to recover', async () => ((await fetch(`${a.url}/health`)).ok ? true : undefined));
    await extractionSettles(a.url, 'outage');
    expect(await vectors('outage')).toEqual({ images: IMAGES, vectors: IMAGES, distinct: IMAGES, broken: 0 });

    const runId = await startRun(a.url, 'outage', epochs);
    await waitFor('a few epochs', async () => ((await epochsWritten(runId)) >= 3 ? true : undefined));
    proxy.cut();
    await new Promise((r) => setTimeout(r, 3000));
    proxy.restore();
    // the epoch writes waited out the outage: the run trains to its end, evaluated and registered
    const detail = await expectRunEndedConsistently(a.url, runId);
    expect(detail.run.status, detail.run.error ?? '').toBe('succeeded');
    expect(detail.epochs.length).toBe(epochs);
    expect(detail.evaluations.map((e) => e.split)).toContain('test');
    expect(detail.model).not.toBeNull();
    expect(a.child.exitCode, a.log().slice(-3000)).toBeNull();
    expect(a.child.signalCode).toBeNull();
  });

  it('two replicas on one database share a dataset extraction without doing an image twice', async () => {
    const [a, b] = await Promise.all([
      gpu({ EDGEHEAD_EXTRACT_BATCH: '1' }),
      gpu({ EDGEHEAD_EXTRACT_BATCH: '1' }),
    ]);
    if (!a || !b) throw new Error('two replicas expected');
    expect(await uploadDataset(a.url, 'replicas', path.join(work, 'data'))).toBe(IMAGES);
    const queued = await api<{ queuedJobs: number }>(a.url, 'POST', '/v1/datasets/replicas/extract', {
      backbone: 'tiny',
    });
    expect(queued.body.queuedJobs).toBe(IMAGES);
    await extractionSettles(b.url, 'replicas');
    expect(await vectors('replicas')).toEqual({
      images: IMAGES,
      vectors: IMAGES,
      distinct: IMAGES,
      broken: 0,
    });
    // every job logs what it computed: the two replicas' counts add up to the dataset, both did some
    const computed = (p: GpuProcess) =>
      [...p.log().matchAll(/extract-features tiny@\S+: \d+ images, (\d+) computed/g)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    const [byA, byB] = [computed(a), computed(b)];
    expect(byA + byB).toBe(IMAGES);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
  });

  it('a publish whose edge connection dies half way answers a clean error and records no deployment', async () => {
    // an "edge" that reads the start of the request, then resets the connection
    let received = 0;
    const edge: Server = createServer((socket) => {
      socket.on('data', (d) => {
        received += d.length;
        if (received > 2000) socket.resetAndDestroy();
      });
      socket.on('error', () => undefined);
    });
    const edgePort = await new Promise<number>((resolve) =>
      edge.listen(0, '127.0.0.1', () => resolve((edge.address() as { port: number }).port)),
    );
    try {
      const a = await gpu({
        EDGEHEAD_EDGE_URL: `http://127.0.0.1:${edgePort}`,
        EDGEHEAD_EDGE_ADMIN_TOKEN: 'edge-admin-token-0123456789',
      });
      const [model] = await sql<{ id: string }[]>`select id from models order by created_at limit 1`;
      if (!model) throw new Error('an earlier test registers a model');
      const [{ n: deploymentsBefore } = { n: -1 }] = await sql<{ n: number }[]>`
        select count(*)::int as n from deployments`;
      const res = await fetch(`${a.url}/v1/models/${model.id}/publish`, {
        method: 'POST',
        headers: { authorization: 'Bearer faults-token-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ alias: 'faulty', activate: true }),
      });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.status).not.toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unavailable');
      expect(body.error.message).not.toMatch(/edge-admin-token/);
      expect(received, 'the edge saw part of the upload').toBeGreaterThan(2000);
      const [{ n: deploymentsAfter } = { n: -2 }] = await sql<{ n: number }[]>`
        select count(*)::int as n from deployments`;
      expect(deploymentsAfter).toBe(deploymentsBefore);
      // and the service still works
      expect((await fetch(`${a.url}/health`)).status).toBe(200);
    } finally {
      await new Promise<void>((resolve) => edge.close(() => resolve()));
    }
  });
});
