/**
 * Head-of-line blocking of feature extraction, on two real gpu service processes (one extraction worker each,
 * `node --import tsx apps/gpu/src/server.ts`) sharing one Postgres and its pg-boss queue:
 *   baseline   a 200-image extraction with nothing else queued, once before and once after;
 *   contended  another 200-image extraction queued while a 4,000-image extraction of another dataset runs
 *              (5% done), which is then cancelled.
 * Each is timed from its extract request to its `finishedAt`; the ratio contended / mean baseline is the figure
 * (target <= 2.5; a FIFO queue makes the small one wait for the whole big one). The load average around each
 * timing is printed: on a shared machine it says how comparable the timings are. The backbone is a small CNN
 * with seeded random weights (64x64 input), so the run takes minutes on 2 cores. Every image must end with
 * exactly one vector and every request must succeed; anything else exits 1.
 * Prints a table and writes bench-results/extract-fairness.json.
 * Run: `nice npx tsx test/bench/extract-fairness.ts` (BENCH_SMALL=200, BENCH_BIG=4000, BENCH_BATCH=32);
 * `EDGEHEAD_BENCH_SMOKE=1` runs tiny sizes (a check that the bench works, not a measurement).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { saveLayersModelFolder } from '@edgehead/backbones';
import type { ExtractionProgress, ExtractResponse } from '@edgehead/contracts';
import { createTestDatabase } from '@edgehead/db/testing';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { AUTH, api, featureCounts, inspect, startGpu } from '../e2e/faults-harness.ts';
import { BenchReport, envNumber, SMOKE } from './lib/harness.ts';

const SMALL = envNumber('BENCH_SMALL', 200, 12);
const BIG = envNumber('BENCH_BIG', 4000, 120);
const BATCH = envNumber('BENCH_BATCH', 32, 4);
const SIZE = 64;
/** How much of the big extraction is done before the small one is queued (its workers are busy by then). */
const HEAD_START = 0.05;

const errors: string[] = [];
const fail = (what: string) => {
  errors.push(what);
  console.error(`error: ${what}`);
};

/** 64x64x3 -> conv 3x3x32 -> pool -> conv 3x3x64 -> pool -> conv 3x3x128 -> global average (128 features). */
async function writeBackbone(dir: string): Promise<void> {
  await tf.setBackend('cpu');
  const init = (seed: number) => tf.initializers.heNormal({ seed });
  const input = tf.input({ shape: [SIZE, SIZE, 3], name: 'image' });
  let x = input as tf.SymbolicTensor;
  for (const [i, filters] of [32, 64, 128].entries()) {
    x = tf.layers
      .conv2d({
        name: `conv${i}`,
        filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(i + 1),
      })
      .apply(x) as tf.SymbolicTensor;
    if (i < 2) x = tf.layers.maxPooling2d({ name: `pool${i}`, poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  }
  const out = tf.layers.globalAveragePooling2d({ name: 'features' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  await saveLayersModelFolder(model, dir);
  model.dispose();
}

/** A distinct JPEG per index (seeded noise). */
function jpeg(i: number): Promise<Buffer> {
  const raw = Buffer.alloc(SIZE * SIZE * 3);
  let s = (i + 1) * 2654435761;
  for (let k = 0; k < raw.length; k++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    raw[k] = s >>> 24;
  }
  return sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } })
    .jpeg()
    .toBuffer();
}

/** Creates dataset `name` with `n` images (from index `first`) uploaded 500 per request. */
async function dataset(base: string, name: string, first: number, n: number): Promise<string> {
  const created = await api<{ id: string }>(base, 'POST', '/v1/datasets', { name, classes: ['a', 'b'] });
  if (created.status !== 201)
    throw new Error(`create ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  for (let start = 0; start < n; start += 500) {
    const form = new FormData();
    for (let i = start; i < Math.min(n, start + 500); i++) {
      const blob = new Blob([new Uint8Array(await jpeg(first + i))], { type: 'image/jpeg' });
      form.append('files', blob, `train/${i % 2 ? 'b' : 'a'}/${first + i}.jpg`);
    }
    const res = await fetch(`${base}/v1/datasets/${name}/images`, {
      method: 'POST',
      headers: AUTH,
      body: form,
    });
    const body = (await res.json()) as { accepted: number };
    if (res.status !== 200 || body.accepted !== Math.min(500, n - start))
      throw new Error(`upload ${name}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return created.body.id;
}

/** Queues the extraction of `name`; the request time and the extraction. */
async function start(
  base: string,
  name: string,
): Promise<{ startedAt: number; extraction: ExtractionProgress }> {
  const startedAt = Date.now();
  const res = await api<ExtractResponse>(base, 'POST', `/v1/datasets/${name}/extract`, {
    backbone: 'bench-cnn',
  });
  if (res.status !== 202) throw new Error(`extract ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return { startedAt, extraction: res.body.progress };
}

async function progress(base: string, name: string, id: string): Promise<ExtractionProgress> {
  const res = await api<ExtractionProgress>(base, 'GET', `/v1/datasets/${name}/extract?extraction=${id}`);
  if (res.status !== 200) throw new Error(`progress ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  const p = res.body;
  if (p.state === 'failed' || p.state === 'cancelled' || p.error)
    throw new Error(`extraction of ${name}: ${p.state} ${p.error}`);
  return p;
}

/** Polls `probe` every 250 ms (the replicas compute on their main thread: polls are kept few). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 1_800_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A timed extraction: seconds from its request to its `finishedAt`, and the 1-minute load average around it. */
async function timed(base: string, name: string) {
  const load = os.loadavg()[0] as number;
  const job = await start(base, name);
  const done = await until(`extraction of ${name}`, async () => {
    const p = await progress(base, name, job.extraction.id);
    return p.state === 'done' && p.finishedAt ? p : undefined;
  });
  const seconds = (Date.parse(done.finishedAt as string) - job.startedAt) / 1000;
  return { seconds, load: (load + (os.loadavg()[0] as number)) / 2 };
}

const work = await mkdtemp(path.join(tmpdir(), 'edgehead-fairness-'));
const weights = path.join(work, 'bench-cnn');
await writeBackbone(weights);
const testDb = await createTestDatabase();
const sql = await inspect(testDb.url);
const env = {
  DATABASE_URL: testDb.url,
  EDGEHEAD_BACKBONES: JSON.stringify([{ name: 'bench-cnn', weights, preprocessing: 'rescale' }]),
  EDGEHEAD_WEIGHTS_CACHE: path.join(work, 'cache'),
  EDGEHEAD_GPU_POOL_SIZE: '0',
  EDGEHEAD_EXTRACT_CONCURRENCY: '1',
  EDGEHEAD_EXTRACT_BATCH: String(BATCH),
  EDGEHEAD_QUEUE_POLL_SECONDS: '0.5',
};
// the first replica migrates the database; the second starts on it
const a = await startGpu(env);
const b = await startGpu(env);
const results: Record<string, number> = {};
try {
  const sizes = { warmup: 4 * BATCH, alone1: SMALL, big: BIG, contended: SMALL, alone2: SMALL };
  for (const [i, [name, n]] of Object.entries(sizes).entries()) await dataset(a.url, name, i * 100_000, n);
  // both replicas load the model before anything is timed (4 batches: each replica takes some)
  await timed(a.url, 'warmup');
  const alone1 = await timed(a.url, 'alone1');

  const big = await start(b.url, 'big');
  await until('the big extraction to get going', async () => {
    const p = await progress(a.url, 'big', big.extraction.id);
    return p.done >= HEAD_START * BIG ? p : undefined;
  });
  const contended = await timed(a.url, 'contended');
  const bigThen = await progress(a.url, 'big', big.extraction.id);
  // the big one has made its point: cancel it (its queued batches dropped), then the second baseline
  const cancel = await api<{ droppedJobs: number }>(b.url, 'POST', '/v1/datasets/big/extract/cancel', {});
  if (cancel.status !== 200) fail(`cancel: ${cancel.status} ${JSON.stringify(cancel.body)}`);
  await until('the cancelled batches to finish', async () => {
    const res = await api<ExtractionProgress>(
      a.url,
      'GET',
      `/v1/datasets/big/extract?extraction=${big.extraction.id}`,
    );
    return res.body.state === 'cancelled' && res.body.jobs.active === 0 ? res.body : undefined;
  });
  const alone2 = await timed(a.url, 'alone2');

  const alone = (alone1.seconds + alone2.seconds) / 2;
  Object.assign(results, {
    alone1Seconds: alone1.seconds,
    alone2Seconds: alone2.seconds,
    contendedSeconds: contended.seconds,
    ratio: contended.seconds / alone,
    bigDoneWhenSmallFinished: bigThen.done,
    bigBatchesDropped: cancel.body.droppedJobs,
    loadAlone1: alone1.load,
    loadContended: contended.load,
    loadAlone2: alone2.load,
  });

  for (const name of ['alone1', 'contended', 'alone2', 'big'] as const) {
    const [row] = await sql<{ id: string }[]>`select id from datasets where name = ${name}`;
    const c = await featureCounts(sql, row?.id as string, 'bench-cnn');
    const whole = c.distinct === c.vectors && c.broken === 0;
    if (!whole || (name !== 'big' && c.vectors !== sizes[name]))
      fail(`${name}: ${JSON.stringify(c)}, expected every image once with one whole vector`);
  }
  if (bigThen.done >= BIG) fail('the big extraction finished before the small one: nothing was contended');
  for (const p of [a, b])
    if (/; extraction \S+ failed: |pg-boss: |Error/.test(p.log()))
      fail(`a replica logged an error:\n${p.log().slice(-2000)}`);
} catch (err) {
  fail((err as Error).message);
} finally {
  await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
  await sql.end();
  await testDb.drop();
  await rm(work, { recursive: true, force: true });
}

console.log(
  `\nextraction fairness: ${SMALL} images alone vs. queued behind a running ${BIG}-image extraction, batches of ${BATCH}, 2 replicas x 1 worker${SMOKE ? ' (smoke sizes)' : ''}\n`,
);
const load = (x: number | undefined) => `(load average ${x?.toFixed(1)})`;
const rows: [string, string][] = [
  [`${SMALL} images alone, before`, `${results.alone1Seconds?.toFixed(2)} s ${load(results.loadAlone1)}`],
  [
    `${SMALL} images while ${BIG} run`,
    `${results.contendedSeconds?.toFixed(2)} s ${load(results.loadContended)}`,
  ],
  [
    '  the big one then at',
    `${results.bigDoneWhenSmallFinished}/${BIG} (then cancelled: ${results.bigBatchesDropped} batches dropped)`,
  ],
  [`${SMALL} images alone, after`, `${results.alone2Seconds?.toFixed(2)} s ${load(results.loadAlone2)}`],
  ['ratio contended / mean alone (target <= 2.5)', `${results.ratio?.toFixed(2)}x`],
];
const report = new BenchReport('extract-fairness');
for (const e of errors) report.check(false, e);
report.finish(
  rows.map(([k, v]) => ({ measure: k, value: v })),
  { small: SMALL, big: BIG, batch: BATCH, ...results },
);
