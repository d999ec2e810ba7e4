/**
 * gpu service under load, loopback only, on the real process (`node --import tsx apps/gpu/src/server.ts`):
 * 1. 2,000 uploads (batches of 50, 4 at a time) while a training run writes epochs, against a baseline of
 *    as many uploads with no training in the same run. Both passes send images never seen before (the
 *    second pass's bytes differ from the first's, so neither is deduplicated into less work) -> nothing
 *    lost: every image stored exactly once, every epoch present; throughput ratio of accepted images.
 * 2. RSS of the service before and after 10 extract jobs (each a fresh dataset, alternating pooling so the
 *    extractor cache holds two entries, a one-thread extractor pool): growth per job reported.
 * Prints a table and writes bench-results/load-gpu.json. Exits 1 on any failed request or lost data.
 * Run: `nice npx tsx test/bench/load-gpu.ts` (EDGEHEAD_BENCH_LOAD_UPLOADS=2000).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '@edgehead/db/testing';
import sharp from 'sharp';
import {
  AUTH,
  api,
  featureCounts,
  inspect,
  startGpu,
  uploadDataset,
  waitFor,
} from '../e2e/faults-harness.ts';
import { writeDataset, writeTinyBackbone } from '../e2e/fixtures.ts';
import { BenchReport, drive, envNumber, sized } from './lib/harness.ts';

const UPLOADS = Math.min(envNumber('EDGEHEAD_BENCH_LOAD_UPLOADS', 2000, 100), 20_000);
const BATCH = sized(50, 10);
const PARALLEL = 4;
const EXTRACT_JOBS = sized(10, 3);
const report = new BenchReport('load-gpu');

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

/**
 * Uploads images `from`..`from + UPLOADS - 1` (distinct bytes for every index) into a new dataset, BATCH per
 * request, PARALLEL requests at a time; a batch counts as a success only when every file was accepted.
 */
async function uploadAll(dataset: string, from: number) {
  const created = await api(gpu.url, 'POST', '/v1/datasets', { name: dataset, classes: ['blue', 'red'] });
  if (created.status !== 201) throw new Error(`create ${dataset}: ${created.status}`);
  const bodies = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => png(from + i)));
  let next = 0;
  let accepted = 0;
  const result = await drive({
    concurrency: PARALLEL,
    count: Math.ceil(UPLOADS / BATCH),
    op: async () => {
      const start = next;
      next += BATCH;
      const end = Math.min(start + BATCH, UPLOADS);
      const form = new FormData();
      for (let i = start; i < end; i++) {
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
      const text = await res.text();
      if (!res.ok) return `${res.status} ${text.slice(0, 200)}`;
      const n = (JSON.parse(text) as { accepted: number }).accepted;
      accepted += n;
      return n === end - start ? null : `${n} of ${end - start} accepted: ${text.slice(0, 200)}`;
    },
  });
  report.noErrors(`uploads into ${dataset}`, result);
  return { ...result, accepted, imagesPerSecond: accepted / result.seconds };
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

// a run that trains throughout the second pass (epochs enough to outlast it)
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
// as many images again, none of them seen before (new bytes: stored, not deduplicated)
const loaded = await uploadAll('under-training', UPLOADS);
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
const [{ blobs } = { blobs: -1 }] = await sql<{ blobs: number }[]>`
  select count(distinct b.sha256)::int as blobs from image_blobs b
  join images i on i.sha256 = b.sha256 join datasets d on d.id = i.dataset_id
  where d.name in ('baseline', 'under-training')`;

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
const lastFeatureSet = (EXTRACT_JOBS - 1) % 2 ? 'tiny+avg' : 'tiny';
const lastCounts = lastDs ? await featureCounts(sql, lastDs.id, lastFeatureSet) : null;

for (const [name, s] of [
  ['baseline', baseStored],
  ['under-training', loadStored],
] as const)
  report.check(
    s.n === UPLOADS && s.distinct === UPLOADS,
    `${name}: ${s.n} images stored (${s.distinct} distinct), expected ${UPLOADS}`,
  );
report.check(blobs === 2 * UPLOADS, `${blobs} image blobs behind both passes, expected ${2 * UPLOADS}`);
report.check(epochsDuring > 0, 'no epoch was written during the uploads: the run did not train meanwhile');
report.check(ended === 'cancelled', `the training run ended ${ended}, expected cancelled`);
report.check(
  epochsContiguous && epochRows.length >= epochsDuring,
  `epochs not 1..n: ${epochRows.length} rows`,
);
report.check(
  lastCounts?.vectors === lastCounts?.images && (lastCounts?.images ?? 0) > 0,
  `the last extract job: ${JSON.stringify(lastCounts)}`,
);
const result = {
  uploads: UPLOADS,
  baseline: {
    seconds: baseline.seconds,
    imagesPerSecond: baseline.imagesPerSecond,
    stored: baseStored,
  },
  underTraining: {
    seconds: loaded.seconds,
    imagesPerSecond: loaded.imagesPerSecond,
    stored: loadStored,
    epochsWrittenMeanwhile: epochsDuring,
    runEnded: ended,
    epochRows: epochRows.length,
    epochsContiguous,
  },
  imageBlobs: blobs,
  ratio: loaded.imagesPerSecond / baseline.imagesPerSecond,
  rssMiB: {
    before: rss[0],
    after: rss.at(-1),
    perJob: rss,
    // after jobs 1 and 2 both cache entries (and their worker pools) are loaded
    growthPerJobAfterWarmup: ((rss.at(-1) ?? 0) - (rss[2] ?? 0)) / (EXTRACT_JOBS - 2),
  },
  lastExtract: lastCounts,
};
console.log(
  `epochs written during the uploads: ${epochsDuring} (rows ${epochRows.length}, contiguous ${epochsContiguous}, run ${ended})`,
);
console.log(
  `gpu service RSS MiB over ${EXTRACT_JOBS} extract jobs: ${rss.map((m) => m.toFixed(0)).join(' -> ')}`,
);
await gpu.kill('SIGTERM');
await sql.end();
await testDb.drop();
await rm(work, { recursive: true, force: true });
report.finish(
  [
    { scenario: 'uploads alone', pass: baseline, stored: baseStored },
    { scenario: 'uploads + training', pass: loaded, stored: loadStored },
  ].map(({ scenario, pass, stored: s }) => ({
    scenario,
    'batches ok': pass.ok,
    errors: pass.errors,
    'images stored (distinct)': `${s.n} (${s.distinct})`,
    'images/s': pass.imagesPerSecond.toFixed(0),
    ratio: (pass.imagesPerSecond / baseline.imagesPerSecond).toFixed(2),
  })),
  result,
);
process.exit();
