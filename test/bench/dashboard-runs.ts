/**
 * The runs list (`listRuns`, what `GET /api/runs` of the dashboard and `GET /v1/runs` of the gpu service
 * run) with thousands of seeded runs, against a plain page of the runs table without aggregates measured in
 * the same run (the baseline).
 *
 * Run: npx tsx test/bench/dashboard-runs.ts   (writes bench-results/dashboard-runs.json)
 * Env: BENCH_RUNS (default 3000), BENCH_EPOCHS per run (default 30), BENCH_ITERATIONS (default 20);
 *      DATABASE_URL: a fresh database on that server instead of a throw-away embedded PostgreSQL.
 * Fails (exit 1) when a scenario's page is empty or holds another number of runs than its total leaves.
 */
import { fromSql, type ListRunsOptions, listRuns } from '@edgehead/db';
import { connect } from '@edgehead/db/node';
import { createTestDatabase } from '@edgehead/db/testing';
import postgres from 'postgres';
import { BenchReport, envNumber } from './lib/harness.ts';

const RUNS = envNumber('BENCH_RUNS', 3000, 100);
const EPOCHS = envNumber('BENCH_EPOCHS', 30, 5);
const ITERATIONS = envNumber('BENCH_ITERATIONS', 20, 3);
const report = new BenchReport('dashboard-runs');

const testDb = await createTestDatabase();
const database = await connect({ url: testDb.url, max: 1 });
const { sql } = database;

const seedStart = performance.now();
// bulk seeding in SQL: 4 datasets, RUNS runs over 3 feature sets and every status, EPOCHS epochs each,
// a test evaluation for the succeeded ones
await sql`insert into datasets (name, task, classes) select 'bench-' || i, 'binary', '["a","b"]'::jsonb from generate_series(1, 4) i`;
await sql`
  insert into feature_sets (key, backbone, weights_sha256, weights_source, pooling, preprocessing, feature_shape)
  select 'bench-' || b, b, md5(b) || md5(b), 'bench', 'none', 'rescale', '{4,4,512}'
  from unnest(array['vgg16','mobilenet_v1_0.75','mobilenet_v2_1.0']) b`;
await sql`
  insert into runs (dataset_id, feature_set_id, preset, config, status, backend, epochs_total, created_at, started_at, finished_at)
  select d.id,
         (select id from feature_sets where backbone = (array['vgg16','mobilenet_v1_0.75','mobilenet_v2_1.0'])[1 + i % 3]),
         'edgehead-default',
         jsonb_build_object('hiddenUnits', 256, 'learningRate', 0.0001, 'epochs', ${EPOCHS}::int),
         (array['succeeded','succeeded','succeeded','failed','running','queued','cancelled'])[1 + i % 7]::run_status,
         'wasm', ${EPOCHS}::int,
         now() - make_interval(mins => i), now() - make_interval(mins => i), now() - make_interval(mins => i) + interval '90 seconds'
  from generate_series(1, ${RUNS}::int) i
  join (select id, row_number() over () - 1 as k from datasets) d on d.k = i % 4`;
await sql`
  insert into epochs (run_id, epoch, loss, accuracy, val_loss, val_accuracy, duration_ms)
  select r.id, e, 0.7 / e, 0.5 + 0.4 * (1 - exp(-e / 4.0)), 0.72 / e, 0.5 + (0.3 + random() * 0.15) * (1 - exp(-e / 4.0)), 900
  from runs r cross join generate_series(1, ${EPOCHS}::int) e
  where r.status <> 'queued'`;
await sql`
  insert into evaluations (run_id, split, n, accuracy, precision, recall, f1, confusion, per_class)
  select id, 'test', 1000, 0.8 + random() * 0.15, 0.9, 0.9, 0.9, '[[450,50],[50,450]]'::jsonb, '[]'::jsonb
  from runs where status = 'succeeded'`;
await sql`analyze`;
const seedMs = performance.now() - seedStart;
const [{ n: epochRows }] = (await sql`select count(*)::int as n from epochs`) as unknown as [{ n: number }];
const [{ id: datasetId }] = (await sql`select id from datasets order by name limit 1`) as unknown as [
  { id: string },
];
const [{ id: vgg16 }] = (await sql`select id from feature_sets where backbone = 'vgg16'`) as unknown as [
  { id: string },
];

async function time(fn: () => Promise<unknown>): Promise<{ medianMs: number; p90Ms: number }> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return { medianMs: at(0.5), p90Ms: at(0.9) };
}

const db = database.db;
const baseline = await time(() => sql`select * from runs order by created_at desc, id desc limit 25`);
/** The page 100 of 3000 runs shows (the last full page of fewer runs). */
const LAST_PAGE = Math.min(99, Math.floor(RUNS / 25) - 1);
const scenarios: [string, ListRunsOptions][] = [
  ['newest first, page 1', { sort: 'created_at', limit: 25 }],
  ['best val accuracy desc', { sort: 'best_val_accuracy', limit: 25 }],
  ['test accuracy desc', { sort: 'test_accuracy', limit: 25 }],
  ['duration desc', { sort: 'duration', limit: 25 }],
  ['status = running', { status: 'running', limit: 25 }],
  ['one dataset + feature set', { datasetId, featureSetId: vgg16, limit: 25 }],
  [
    `page ${LAST_PAGE + 1} (offset ${25 * LAST_PAGE})`,
    { sort: 'created_at', limit: 25, offset: 25 * LAST_PAGE },
  ],
];
const rows: { scenario: string; medianMs: number; p90Ms: number; ratio: number }[] = [
  { scenario: 'baseline: runs page without aggregates', ...baseline, ratio: 1 },
];
for (const [scenario, options] of scenarios) {
  const page = await listRuns(db, options);
  report.check(page.items.length > 0, `${scenario}: an empty page`);
  const expected = Math.min(options.limit ?? 50, page.total - (options.offset ?? 0));
  report.check(
    page.items.length === expected,
    `${scenario}: ${page.items.length} runs on the page, ${expected} expected of ${page.total}`,
  );
  // column sorts choose the page first and aggregate its rows only; aggregate sorts aggregate every run
  const t = await time(() => listRuns(db, options));
  rows.push({ scenario: `listRuns ${scenario}`, ...t, ratio: t.medianMs / baseline.medianMs });
}
// what the Worker does per request: a new postgres.js client (max 1, no prepare, no type fetch), query, end
const perRequest = await time(async () => {
  const client = postgres(testDb.url, {
    max: 1,
    fetch_types: false,
    prepare: false,
    onnotice: () => undefined,
  });
  await listRuns(fromSql(client), { limit: 25 });
  await client.end();
});
rows.push({
  scenario: 'new client + listRuns page 1 + end (per request)',
  ...perRequest,
  ratio: perRequest.medianMs / baseline.medianMs,
});

console.log(
  `\ndashboard runs list: ${RUNS} runs, ${epochRows} epoch rows, ${testDb.kind} (seeded in ${(seedMs / 1000).toFixed(1)} s), ${ITERATIONS} iterations\n`,
);
report.finish(
  rows.map((r) => ({
    scenario: r.scenario,
    'median ms': r.medianMs.toFixed(1),
    'p90 ms': r.p90Ms.toFixed(1),
    'x baseline': r.ratio.toFixed(1),
  })),
  { runs: RUNS, epochRows, database: testDb.kind, iterations: ITERATIONS, seedMs, rows },
);
await database.close();
await testDb.drop();
