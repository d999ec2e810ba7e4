/**
 * Edge load benchmark on `wrangler dev` (local workerd, loopback only): a recipe-shaped head
 * (8192 -> 256 -> 1) is published, then REQUESTS binary classify requests are sent at CONNECTIONS
 * concurrent connections, with /health at the same concurrency and count as the baseline. At 1 connection
 * also a control row: the same 32 KiB body refused at once (401, no key), what moving the body costs.
 *
 * Run: npx tsx test/bench/load-edge.ts   (writes bench-results/load-edge.json)
 * Env: LOAD_REQUESTS (default 20000), LOAD_CONNECTIONS (32), LOAD_SERIAL_REQUESTS (2000, the 1-connection runs).
 * Bounded: fixed request counts; wrangler dev is stopped and its state removed at the end. Each classify row
 * has its own key and the per-key limit is raised for the run; rates count successful requests only, and
 * any error fails the run (exit 1).
 */
import { createKey, publishRecipe, recipeArtifact, startBenchEdge } from './lib/edge.ts';
import { BenchReport, drive, envNumber, httpOperation, type LoadResult, sized } from './lib/harness.ts';

const REQUESTS = envNumber('LOAD_REQUESTS', 20_000, 300);
const CONNECTIONS = envNumber('LOAD_CONNECTIONS', 32, 8);
const SERIAL_REQUESTS = envNumber('LOAD_SERIAL_REQUESTS', 2_000, 100);
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

  const row = async (
    scenario: string,
    connections: number,
    count: number,
    op: ReturnType<typeof httpOperation>,
  ) => {
    const r = await drive({ concurrency: connections, count, op });
    report.noErrors(`${scenario}, ${connections} conns`, r);
    rows.push({ scenario, ...r });
  };
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

  await row('GET /health', 1, SERIAL_REQUESTS, httpOperation(health));
  await row(
    'classify binary f32',
    1,
    SERIAL_REQUESTS,
    httpOperation(classify(await createKey(base, ADMIN, 'serial'))),
  );
  await row(
    'same body, 401 at once',
    1,
    SERIAL_REQUESTS,
    httpOperation(bodyOnly, (res) => res.status === 401),
  );
  await row('GET /health', CONNECTIONS, REQUESTS, httpOperation(health));
  await row(
    'classify binary f32',
    CONNECTIONS,
    REQUESTS,
    httpOperation(classify(await createKey(base, ADMIN, 'concurrent'))),
  );
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
