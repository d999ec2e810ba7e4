/**
 * Edge classify throughput on `wrangler dev` (local mode, loopback only) against `GET /health` in the same
 * run, at 1 and 8 connections, plus JSON and batch-of-32 bodies, and the head kernel alone in Node.
 *
 * Run: npx tsx test/bench/edge-classify.ts   (writes bench-results/edge-classify.json)
 * Env: BENCH_SECONDS per scenario (default 3; smoke 0.5), run interleaved with the others in 6 slices.
 * Rates and latencies count successful requests only; each classify scenario has its own API key and the
 * per-key limit is raised for the run, so no request is refused; any error fails the run (exit 1).
 * Target: binary classify >= 80% of /health requests/s at the same connection count.
 */
import { type HeadArtifactFiles, loadHead } from '@edgehead/head';
import { createKey, publishRecipe, recipeArtifact, startBenchEdge } from './lib/edge.ts';
import {
  BenchReport,
  driveInterleaved,
  envNumber,
  httpOperation,
  type LoadResult,
  sized,
} from './lib/harness.ts';

const SECONDS = envNumber('BENCH_SECONDS', 3, 0.5);
/** Slices each scenario's SECONDS are cut into, interleaved with the other scenarios. */
const ROUNDS = sized(6, 1);
const ADMIN = 'bench-admin-token';
const report = new BenchReport('edge-classify');

async function kernelBench(files: HeadArtifactFiles) {
  const out: Record<string, number> = {};
  for (const kernel of ['wasm', 'js'] as const) {
    const head = await loadHead(files, { kernel });
    for (const rows of [1, 32]) {
      const x = Float32Array.from({ length: rows * 8192 }, (_, i) => (i % 97) / 97);
      for (let i = 0; i < sized(20, 2); i++) head.model.predict(x, rows);
      const n = sized(Math.max(20, Math.round(400 / rows)), 2);
      const t = performance.now();
      for (let i = 0; i < n; i++) head.model.predict(x, rows);
      out[`${kernel}_batch${rows}_ms_per_vector`] = (performance.now() - t) / n / rows;
    }
  }
  return out;
}

const files = await recipeArtifact();
const kernel = await kernelBench(files);
console.log('head kernel in Node (ms per vector):', kernel);
const reference = await loadHead(files, { kernel: 'js' });

const edge = await startBenchEdge({ adminToken: ADMIN, rateLimit: 1_000_000 });
const rows: (LoadResult & { scenario: string; vectorsPerSecond: number })[] = [];
try {
  const base = edge.url;
  await publishRecipe(base, ADMIN, files);
  const vector = Float32Array.from({ length: 8192 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const one = new Uint8Array(vector.buffer);
  const batch = new Uint8Array(32 * one.byteLength);
  for (let r = 0; r < 32; r++) batch.set(one, r * one.byteLength);
  const json = JSON.stringify({ features: Array.from(vector) });
  const url = `${base}/v1/models/recipe/classify`;
  const post = (key: string, body: BodyInit, type: string) => () =>
    fetch(url, { method: 'POST', headers: { 'x-api-key': key, 'content-type': type }, body });

  // the edge computes what the head computes in Node (so the requests timed below do the real work)
  const answer = (await (
    await post(await createKey(base, ADMIN, 'check'), one, 'application/octet-stream')()
  ).json()) as { predictions?: { probabilities: Record<string, number> }[] };
  const edgeDog = answer.predictions?.[0]?.probabilities.dogs ?? Number.NaN;
  const nodeDog = reference.model.predict(vector, 1)[0] ?? Number.NaN;
  report.check(
    Math.abs(edgeDog - nodeDog) <= 1e-5,
    `edge classify ${edgeDog} vs the head in Node ${nodeDog}`,
  );

  const health = () => fetch(`${base}/health`);
  const scenarios = [];
  for (const connections of [1, 8]) {
    scenarios.push({ scenario: 'GET /health', concurrency: connections, vectors: 0, request: health });
    const key = await createKey(base, ADMIN, `binary-${connections}`);
    scenarios.push({
      scenario: 'classify binary f32',
      concurrency: connections,
      vectors: 1,
      request: post(key, one, 'application/octet-stream'),
    });
  }
  scenarios.push({
    scenario: 'classify JSON',
    concurrency: 1,
    vectors: 1,
    request: post(await createKey(base, ADMIN, 'json'), json, 'application/json'),
  });
  scenarios.push({
    scenario: 'classify binary batch 32',
    concurrency: 1,
    vectors: 32,
    request: post(await createKey(base, ADMIN, 'batch'), batch, 'application/octet-stream'),
  });
  const loads = scenarios.map((s) => ({ ...s, op: httpOperation(s.request) }));
  // a warm-up of each, then each for SECONDS in ROUNDS interleaved slices: other load changing during the
  // run weighs on every scenario alike
  await driveInterleaved(loads.map((l) => ({ ...l, seconds: sized(0.5, 0.2) })));
  const results = await driveInterleaved(
    loads.map((l) => ({ ...l, seconds: SECONDS })),
    ROUNDS,
  );
  for (const [i, r] of results.entries()) {
    const s = scenarios[i] as (typeof scenarios)[number];
    report.noErrors(`${s.scenario}, ${s.concurrency} conns`, r);
    rows.push({ scenario: s.scenario, ...r, vectorsPerSecond: r.perSecond * s.vectors });
  }
} finally {
  await edge.stop();
}

const ratio = (c: number) => {
  const h = rows.find((r) => r.scenario === 'GET /health' && r.concurrency === c);
  const k = rows.find((r) => r.scenario === 'classify binary f32' && r.concurrency === c);
  return h && k ? k.perSecond / h.perSecond : Number.NaN;
};
const ratios = { conns1: ratio(1), conns8: ratio(8) };
const ok = report.finish(
  rows.map((r) => ({
    scenario: r.scenario,
    conns: r.concurrency,
    ok: r.ok,
    errors: r.errors,
    'req/s': r.perSecond.toFixed(0),
    'vectors/s': r.vectorsPerSecond.toFixed(0),
    'p50 ms': r.p50_ms.toFixed(2),
    'p99 ms': r.p99_ms.toFixed(2),
  })),
  { secondsPerScenario: SECONDS, database: edge.database, kernel, rows, classifyToHealthRatio: ratios },
);
if (ok)
  console.log(
    `binary classify / health requests/s: 1 conn ${(ratios.conns1 * 100).toFixed(0)}%, 8 conns ${(ratios.conns8 * 100).toFixed(0)}% (target >= 80%)`,
  );
