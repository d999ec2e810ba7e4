/**
 * Edge load benchmark on `wrangler dev` (local workerd, loopback only): a recipe-shaped head
 * (8192 -> 256 -> 1) is published, then REQUESTS binary classify requests are sent at CONNECTIONS
 * concurrent connections, with /health at the same concurrency and count as the baseline. At 1 connection
 * also a control row: the same 32 KiB body refused at once (401, no key), what moving the body costs.
 *
 * Run: npx tsx test/bench/load-edge.ts   (writes bench-results/load-edge.json)
 * Env: LOAD_REQUESTS (default 20000), LOAD_CONNECTIONS (32), LOAD_SERIAL_REQUESTS (2000, the 1-connection runs).
 * The scenarios of one connection count run interleaved, in 10 slices each, so that other load on the machine
 * changing during the run weighs on all of them alike (the ratios are what to read).
 * Bounded: fixed request counts; wrangler dev is stopped and its state removed at the end. Each classify row
 * has its own key and the per-key limit is raised for the run; rates count successful requests only, and
 * any error fails the run (exit 1).
 */
import { createKey, publishRecipe, recipeArtifact, startBenchEdge } from './lib/edge.ts';
import {
  BenchReport,
  drive,
  driveInterleaved,
  envNumber,
  httpOperation,
  type LoadResult,
  sized,
} from './lib/harness.ts';

const REQUESTS = envNumber('LOAD_REQUESTS', 20_000, 300);
const CONNECTIONS = envNumber('LOAD_CONNECTIONS', 32, 8);
const SERIAL_REQUESTS = envNumber('LOAD_SERIAL_REQUESTS', 2_000, 100);
/** Slices each scenario is cut into, interleaved with the others of its connection count. */
const ROUNDS = sized(10, 2);
const ADMIN = 'load-bench-admin-token';
const report = new BenchReport('load-edge');

const files = await recipeArtifact();
const edge = await startBenchEdge({
  adminToken: ADMIN,
  rateLimit: 10 * (REQUESTS + SERIAL_REQUESTS) + 10_000,
});
const rows: (LoadResult & { scenario: string })[] = [];
try {
  const base = edge.url;
  await publishRecipe(base, ADMIN, files);
  const vector = Float32Array.from({ length: 8192 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const body = new Uint8Array(vector.buffer);
  const classify = (key: string) => () =>
    fetch(`${base}/v1/models/recipe/classify`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/octet-stream' },
      body,
    });
  const health = () => fetch(`${base}/health`);
  // the same 32 KiB body refused at once (no key): what moving the body costs, without any classify work
  const bodyOnly = () =>
    fetch(`${base}/v1/models/recipe/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });

  // warm-up: compile the head, fill the isolate's caches, open the connections (its own key)
  const warmKey = await createKey(base, ADMIN, 'warm-up');
  const WARM = sized(500, 50);
  report.noErrors(
    'warm-up /health',
    await drive({ concurrency: CONNECTIONS, count: WARM, op: httpOperation(health) }),
  );
  report.noErrors(
    'warm-up classify',
    await drive({ concurrency: CONNECTIONS, count: WARM, op: httpOperation(classify(warmKey)) }),
  );

  // each connection count's scenarios interleaved in ROUNDS slices, so a change of load meets them all
  const scenarios = [
    { scenario: 'GET /health', concurrency: 1, count: SERIAL_REQUESTS, op: httpOperation(health) },
    {
      scenario: 'classify binary f32',
      concurrency: 1,
      count: SERIAL_REQUESTS,
      op: httpOperation(classify(await createKey(base, ADMIN, 'serial'))),
    },
    {
      scenario: 'same body, 401 at once',
      concurrency: 1,
      count: SERIAL_REQUESTS,
      op: httpOperation(bodyOnly, (res) => res.status === 401),
    },
    { scenario: 'GET /health', concurrency: CONNECTIONS, count: REQUESTS, op: httpOperation(health) },
    {
      scenario: 'classify binary f32',
      concurrency: CONNECTIONS,
      count: REQUESTS,
      op: httpOperation(classify(await createKey(base, ADMIN, 'concurrent'))),
    },
  ];
  for (const connections of [1, CONNECTIONS]) {
    const group = scenarios.filter((s) => s.concurrency === connections);
    const results = await driveInterleaved(group, ROUNDS);
    for (const [i, r] of results.entries()) {
      const { scenario } = group[i] as (typeof group)[number];
      report.noErrors(`${scenario}, ${connections} conns`, r);
      rows.push({ scenario, ...r });
    }
  }
} finally {
  await edge.stop();
}

const ratio = (scenario: string, c: number) => {
  const h = rows.find((r) => r.scenario === 'GET /health' && r.concurrency === c);
  const k = rows.find((r) => r.scenario === scenario && r.concurrency === c);
  return h && k ? k.perSecond / h.perSecond : Number.NaN;
};
const ratios = {
  conns1: ratio('classify binary f32', 1),
  [`conns${CONNECTIONS}`]: ratio('classify binary f32', CONNECTIONS),
  control401Conns1: ratio('same body, 401 at once', 1),
};
const ok = report.finish(
  rows.map((r) => ({
    scenario: r.scenario,
    conns: r.concurrency,
    ok: r.ok,
    errors: r.errors,
    'req/s': r.perSecond.toFixed(0),
    'p50 ms': r.p50_ms.toFixed(2),
    'p99 ms': r.p99_ms.toFixed(2),
  })),
  { database: edge.database, rows, classifyToHealthRatio: ratios },
);
if (ok) {
  const pct = (v: number | undefined) => `${((v ?? Number.NaN) * 100).toFixed(0)}%`;
  console.log(
    `of /health requests/s: classify 1 conn ${pct(ratios.conns1)}, ${CONNECTIONS} conns ${pct(ratios[`conns${CONNECTIONS}`])}; ` +
      `the 401 control row 1 conn ${pct(ratios.control401Conns1)} (classify target >= 80%)`,
  );
}
