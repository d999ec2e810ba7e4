/**
 * gpu service under load, loopback only, on the real process (`node --import tsx apps/gpu/src/server.ts`):
 * 1. 2,000 uploads (batches of 50, 4 at a time) while a training run writes epochs, against a baseline of
 *    the same uploads with no training in the same run -> nothing lost: every image stored exactly once,
 *    every epoch present; throughput ratio reported.
 * 2. RSS of the service before and after 10 extract jobs (each a fresh dataset, alternating pooling so the
 *    extractor cache holds two entries, a one-thread extractor pool): growth per job reported.
 * Prints a table and writes bench-results/load-gpu.json. Exits 1 when something was lost.
 * Run: `nice npx tsx test/bench/load-gpu.ts` (EDGEHEAD_BENCH_LOAD_UPLOADS=2000).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '@edgehead/db/testing';
import sharp from 'sharp';
import {
  AUTH,
  api,
  featureCounts,
  inspect,
  ROOT,
  startGpu,
  uploadDataset,
  waitFor,
} from '../e2e/faults-harness.ts';
import { writeDataset, writeTinyBackbone } from '../e2e/fixtures.ts';

const UPLOADS = Math.min(Number(process.env.EDGEHEAD_BENCH_LOAD_UPLOADS ?? 2000), 20_000);
const BATCH = 50;
const PARALLEL = 4;
const EXTRACT_JOBS = 10;

const work = await mkdtemp(path.join(tmpdir(), 'edgehead-load-'));
await writeTinyBackbone(path.join(work, 'tiny'));
await writeDataset(path.join(work, 'data'), { train: 16, validation: 4, test: 4 });
const testDb = await createTestDatabase();
const sql = await inspect(testDb.url);
const gpu = await startGpu({
  DATABASE_URL: testDb.url,
  EDGEHEAD_BACKBONES: JSON.stringify([
    { name: 'tiny', weights: path.join(work, 'tiny'), preprocessing: 'rescale' },
  ]),
  EDGEHEAD_WEIGHTS_CACHE: path.join(work, 'weights'),
  EDGEHEAD_GPU_POOL_SIZE: '1',
  EDGEHEAD_QUEUE_POLL_SECONDS: '0.5',
  EDGEHEAD_EXTRACT_BATCH: '8',
});

const rssMiB = async () => {
  const status = await readFile(`/proc/${gpu.child.pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
};

/** Distinct 16x16 PNGs (the index is written into the pixels). */
const png = (i: number) => {
  const raw = Buffer.alloc(16 * 16 * 3, 128);
  raw.writeUInt32BE(i, 0);
  raw.writeUInt32BE((i * 2654435761) >>> 0, 8);
  return sharp(raw, { raw: { width: 16, height: 16, channels: 3 } })
    .png()
    .toBuffer();
};
const bodies = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => png(i)));

async function uploadAll(
  dataset: string,
  from: number,
): Promise<{ ms: number; accepted: number; errors: number }> {
  const created = await api(gpu.url, 'POST', '/v1/datasets', { name: dataset, classes: ['blue', 'red'] });
  if (created.status !== 201) throw new Error(`create ${dataset}: ${created.status}`);
  let next = 0;
  let accepted = 0;
  let errors = 0;
  const t = performance.now();
  const worker = async () => {
    for (;;) {
      const start = next;
      next += BATCH;
      if (start >= UPLOADS) return;
      const form = new FormData();
      for (let i = start; i < Math.min(start + BATCH, UPLOADS); i++) {
        form.append(
          'files',
          new Blob([new Uint8Array(bodies[i] as Buffer)]),
          `train/${i % 2 ? 'red' : 'blue'}/${from + i}.png`,
        );
      }
      const res = await fetch(`${gpu.url}/v1/datasets/${dataset}/images`, {
        method: 'POST',
        headers: AUTH,
        body: form,
      });
      if (!res.ok) errors++;
      else accepted += ((await res.json()) as { accepted: number }).accepted;
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return { ms: performance.now() - t, accepted, errors };
}

const stored = async (dataset: string) => {
  const [row] = await sql<{ n: number; distinct: number }[]>`
    select count(*)::int as n, count(distinct i.sha256)::int as distinct
    from images i join datasets d on d.id = i.dataset_id where d.name = ${dataset}`;
  return row ?? { n: 0, distinct: 0 };
};

// a trained-on dataset with vectors
await uploadDataset(gpu.url, 'train-set', path.join(work, 'data'));
await api(gpu.url, 'POST', '/v1/datasets/train-set/extract', { backbone: 'tiny' });
await waitFor('train-set vectors', async () => {
  const p = await api<{ state: string }>(gpu.url, 'GET', '/v1/datasets/train-set/extract?backbone=tiny');
  return p.body.state === 'done' ? true : undefined;
});

// baseline: the uploads alone
const baseline = await uploadAll('baseline', 0);

// the same uploads while a run trains (epochs enough to outlast them)
const run = await api<{ id: string }>(gpu.url, 'POST', '/v1/runs', {
  dataset: 'train-set',
  backbone: 'tiny',
  epochs: 10_000,
  earlyStopping: null,
  hiddenUnits: 8,
  dropout: 0,
  batchSize: 8,
});
if (run.status !== 202) throw new Error(`run: ${run.status} ${JSON.stringify(run.body)}`);
await waitFor('the first epoch', async () => {
  const [r] = await sql<{ n: number }[]>`select count(*)::int as n from epochs where run_id = ${run.body.id}`;
  return (r?.n ?? 0) > 0 ? true : undefined;
});
const loaded = await uploadAll('under-training', 0);
const epochsDuring =
  (await sql<{ n: number }[]>`select count(*)::int as n from epochs where run_id = ${run.body.id}`)[0]?.n ??
  0;
await api(gpu.url, 'POST', `/v1/runs/${run.body.id}/cancel`);
const ended = await waitFor('the run to stop', async () => {
  const d = await api<{ run: { status: string } }>(gpu.url, 'GET', `/v1/runs/${run.body.id}`);
  return d.body.run.status === 'running' ? undefined : d.body.run.status;
});
const epochRows = await sql<
  { epoch: number }[]
>`select epoch from epochs where run_id = ${run.body.id} order by epoch`;
const epochsContiguous = epochRows.every((r, i) => r.epoch === i + 1);
const [baseStored, loadStored] = [await stored('baseline'), await stored('under-training')];

// RSS across extract jobs
const rss: number[] = [await rssMiB()];
for (let j = 0; j < EXTRACT_JOBS; j++) {
  const name = `rss-${j}`;
  await uploadDataset(gpu.url, name, path.join(work, 'data'));
  const query = j % 2 ? 'backbone=tiny&pooling=avg' : 'backbone=tiny';
  await api(gpu.url, 'POST', `/v1/datasets/${name}/extract`, {
    backbone: 'tiny',
    ...(j % 2 ? { pooling: 'avg' } : {}),
  });
  await waitFor(`${name} vectors`, async () => {
    const p = await api<{ state: string }>(gpu.url, 'GET', `/v1/datasets/${name}/extract?${query}`);
    return p.body.state === 'done' ? true : undefined;
  });
  rss.push(await rssMiB());
}
const [lastDs] = await sql<
  { id: string }[]
>`select id from datasets where name = ${`rss-${EXTRACT_JOBS - 1}`}`;
const lastCounts = lastDs ? await featureCounts(sql, lastDs.id, 'tiny+avg') : null;

const lost =
  loaded.errors > 0 ||
  loadStored.n !== UPLOADS ||
  loadStored.distinct !== UPLOADS ||
  baseStored.n !== UPLOADS ||
  !epochsContiguous ||
  epochRows.length < epochsDuring;
const result = {
  uploads: UPLOADS,
  baseline: {
    ms: Math.round(baseline.ms),
    imagesPerSecond: (UPLOADS / baseline.ms) * 1000,
    stored: baseStored,
  },
  underTraining: {
    ms: Math.round(loaded.ms),
    imagesPerSecond: (UPLOADS / loaded.ms) * 1000,
    stored: loadStored,
    errors: loaded.errors,
    epochsWrittenMeanwhile: epochsDuring,
    runEnded: ended,
    epochRows: epochRows.length,
    epochsContiguous,
  },
  slowdown: loaded.ms / baseline.ms,
  rssMiB: {
    before: rss[0],
    after: rss.at(-1),
    perJob: rss,
    // after jobs 1 and 2 both cache entries (and their worker pools) are loaded
    growthPerJobAfterWarmup: ((rss.at(-1) ?? 0) - (rss[2] ?? 0)) / (EXTRACT_JOBS - 2),
  },
  lastExtract: lastCounts,
  lost,
};
console.table({
  'uploads alone': { images: baseStored.n, 'images/s': result.baseline.imagesPerSecond.toFixed(0), ratio: 1 },
  'uploads + training': {
    images: loadStored.n,
    'images/s': result.underTraining.imagesPerSecond.toFixed(0),
    ratio: (baseline.ms / loaded.ms).toFixed(2),
  },
});
console.log(
  `epochs written during the uploads: ${epochsDuring} (rows ${epochRows.length}, contiguous ${epochsContiguous}, run ${ended})`,
);
console.log(
  `gpu service RSS MiB over ${EXTRACT_JOBS} extract jobs: ${rss.map((m) => m.toFixed(0)).join(' -> ')}`,
);
console.log(lost ? 'LOST DATA' : 'nothing lost');
await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
await writeFile(path.join(ROOT, 'bench-results', 'load-gpu.json'), `${JSON.stringify(result, null, 2)}\n`);
await gpu.kill('SIGTERM');
await sql.end();
await testDb.drop();
await rm(work, { recursive: true, force: true });
process.exit(lost ? 1 : 0);
