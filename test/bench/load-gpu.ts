/**
 * gpu service under load, loopback only, on the real process (`node --import tsx apps/gpu/src/server.ts`):
 * 1. 2,000 uploads (batches of 50, 4 at a time) while a training run writes epochs, against a baseline of
 *    as many uploads with no training in the same run, in 4 alternating slices of each (a run started for
 *    each slice under training, cancelled after it), after a warm-up. Both passes send images never seen
 *    before (no upload is deduplicated into less work) -> nothing lost: every image stored exactly once,
 *    every epoch present; throughput ratio of accepted images.
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
import { BenchReport, drive, envNumber, type Outcomes, sized } from './lib/harness.ts';

const UPLOADS = Math.min(envNumber('EDGEHEAD_BENCH_LOAD_UPLOADS', 2000, 100), 20_000);
const BATCH = sized(50, 10);
const PARALLEL = 4;
const EXTRACT_JOBS = sized(10, 3);
/** Alternations of a baseline slice and a slice under training. */
const ROUNDS = sized(4, 1);
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

/** Creates a dataset of the two classes the uploads use. */
async function createDataset(name: string): Promise<void> {
  const created = await api(gpu.url, 'POST', '/v1/datasets', { name, classes: ['blue', 'red'] });
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status}`);
}

/** What the slices of one pass measured: batches ok and failed, seconds, images accepted. */
interface Pass extends Outcomes {
  seconds: number;
  accepted: number;
}
const newPass = (): Pass => ({ ok: 0, errors: 0, firstError: null, seconds: 0, accepted: 0 });

/**
 * Uploads `count` images numbered from `from` (distinct bytes for every number) into `dataset`, BATCH per
 * request, PARALLEL requests at a time, and adds the outcome to `pass`; a batch counts as a success only
 * when every file of it was accepted.
 */
async function upload(pass: Pass, dataset: string, from: number, count: number): Promise<void> {
  const bodies = await Promise.all(Array.from({ length: count }, (_, i) => png(from + i)));
  let next = 0;
  const result = await drive({
    concurrency: PARALLEL,
    count: Math.ceil(count / BATCH),
    op: async () => {
      const start = next;
      next += BATCH;
      const end = Math.min(start + BATCH, count);
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
      pass.accepted += n;
      return n === end - start ? null : `${n} of ${end - start} accepted: ${text.slice(0, 200)}`;
    },
  });
  pass.ok += result.ok;
  pass.errors += result.errors;
  pass.firstError ??= result.firstError;
  pass.seconds += result.seconds;
}

const stored = async (dataset: string) => {
  const [row] = await sql<{ n: number; distinct: number }[]>`
    select count(*)::int as n, count(distinct i.sha256)::int as distinct
    from images i join datasets d on d.id = i.dataset_id where d.name = ${dataset}`;
  return row ?? { n: 0, distinct: 0 };
};
const epochsOf = (runId: string) =>
  sql<{ epoch: number }[]>`select epoch from epochs where run_id = ${runId} order by epoch`;

// a trained-on dataset with vectors
await uploadDataset(gpu.url, 'train-set', path.join(work, 'data'));
await api(gpu.url, 'POST', '/v1/datasets/train-set/extract', { backbone: 'tiny' });
await waitFor('train-set vectors', async () => {
  const p = await api<{ state: string }>(gpu.url, 'GET', '/v1/datasets/train-set/extract?backbone=tiny');
  return p.body.state === 'done' ? true : undefined;
});

// warm-up on images of their own, then ROUNDS rounds of a slice of uploads alone (the baseline) followed by
// a slice while a run trains: other load on the machine changing during the run weighs on both passes.
// Every image of both passes is new (distinct bytes: stored, never deduplicated into less work).
for (const name of ['warm-up', 'baseline', 'under-training']) await createDataset(name);
await upload(newPass(), 'warm-up', 2 * UPLOADS, PARALLEL * BATCH);
const [baseline, loaded] = [newPass(), newPass()];
const runs: { id: string; epochsDuring: number; ended: string }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const from = Math.floor((UPLOADS * r) / ROUNDS);
  const count = Math.floor((UPLOADS * (r + 1)) / ROUNDS) - from;
  await upload(baseline, 'baseline', from, count);
  // a run that trains throughout the slice (epochs enough to outlast it)
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
  const id = run.body.id;
  await waitFor('the first epoch', async () => ((await epochsOf(id)).length > 0 ? true : undefined));
  await upload(loaded, 'under-training', UPLOADS + from, count);
  const epochsDuring = (await epochsOf(id)).length;
  await api(gpu.url, 'POST', `/v1/runs/${id}/cancel`);
  const ended = await waitFor('the run to stop', async () => {
    const d = await api<{ run: { status: string } }>(gpu.url, 'GET', `/v1/runs/${id}`);
    return d.body.run.status === 'running' ? undefined : d.body.run.status;
  });
  runs.push({ id, epochsDuring, ended });
}
report.noErrors('uploads alone', baseline);
report.noErrors('uploads while training', loaded);
const perSecond = (p: Pass) => p.accepted / p.seconds;
const epochsDuring = runs.reduce((n, r) => n + r.epochsDuring, 0);
for (const run of runs) {
  const rows = await epochsOf(run.id);
  report.check(run.epochsDuring > 0, `run ${run.id}: no epoch during its slice of uploads`);
  report.check(run.ended === 'cancelled', `run ${run.id} ended ${run.ended}, expected cancelled`);
  report.check(
    rows.length >= run.epochsDuring && rows.every((e, i) => e.epoch === i + 1),
    `run ${run.id}: epochs not 1..n (${rows.length} rows)`,
  );
}
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
const lastPooling = (EXTRACT_JOBS - 1) % 2 ? 'avg' : 'none';
const lastCounts = lastDs ? await featureCounts(sql, lastDs.id, 'tiny', lastPooling) : null;

for (const [name, s] of [
  ['baseline', baseStored],
  ['under-training', loadStored],
] as const)
  report.check(
    s.n === UPLOADS && s.distinct === UPLOADS,
    `${name}: ${s.n} images stored (${s.distinct} distinct), expected ${UPLOADS}`,
  );
report.check(blobs === 2 * UPLOADS, `${blobs} image blobs behind both passes, expected ${2 * UPLOADS}`);
report.check(
  lastCounts?.vectors === lastCounts?.images && (lastCounts?.images ?? 0) > 0,
  `the last extract job: ${JSON.stringify(lastCounts)}`,
);
const result = {
  uploads: UPLOADS,
  rounds: ROUNDS,
  baseline: { ...baseline, imagesPerSecond: perSecond(baseline), stored: baseStored },
  underTraining: { ...loaded, imagesPerSecond: perSecond(loaded), stored: loadStored, epochsDuring, runs },
  imageBlobs: blobs,
  ratio: perSecond(loaded) / perSecond(baseline),
  rssMiB: {
    before: rss[0],
    after: rss.at(-1),
    perJob: rss,
    // after jobs 1 and 2 both cache entries (and their worker pools) are loaded
    growthPerJobAfterWarmup: ((rss.at(-1) ?? 0) - (rss[2] ?? 0)) / (EXTRACT_JOBS - 2),
  },
  lastExtract: lastCounts,
};
console.log(`epochs written during the uploads: ${epochsDuring} (${runs.length} runs, each cancelled after)`);
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
    'images/s': perSecond(pass).toFixed(0),
    ratio: (perSecond(pass) / perSecond(baseline)).toFixed(2),
  })),
  result,
);
process.exit();
