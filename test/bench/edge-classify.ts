/**
 * Edge classify throughput on `wrangler dev` (local mode, loopback only) against a trivial JSON route in
 * the same run, plus the head kernel alone in Node.
 *
 * Run: npx tsx test/bench/edge-classify.ts   (writes bench-results/edge-classify.json)
 * Bounded: each load scenario runs SECONDS seconds after a short warm-up; wrangler dev is stopped at the end.
 * Target: binary classify >= 80% of /health requests/s at the same connection count.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HeadArtifactFiles, loadHead } from '@edgehead/head';
import { freePort, publishRecipe, recipeArtifact, startWranglerDev } from './edge-bench.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ADMIN = 'bench-admin-token';
const root = new URL('../../', import.meta.url);

async function kernelBench(files: HeadArtifactFiles) {
  const out: Record<string, number> = {};
  for (const kernel of ['wasm', 'js'] as const) {
    const head = await loadHead(files, { kernel });
    for (const rows of [1, 32]) {
      const x = Float32Array.from({ length: rows * 8192 }, (_, i) => (i % 97) / 97);
      for (let i = 0; i < 20; i++) head.model.predict(x, rows);
      const n = Math.max(20, Math.round(400 / rows));
      const t = performance.now();
      for (let i = 0; i < n; i++) head.model.predict(x, rows);
      out[`${kernel}_batch${rows}_ms_per_vector`] = (performance.now() - t) / n / rows;
    }
  }
  return out;
}

interface Scenario {
  name: string;
  connections: number;
  vectorsPerRequest: number;
  request: () => Promise<Response>;
}

async function load(s: Scenario) {
  const warm = Date.now() + 500;
  while (Date.now() < warm) await (await s.request()).arrayBuffer();
  const latencies: number[] = [];
  let failures = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: s.connections }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const res = await s.request();
        await res.arrayBuffer();
        if (!res.ok) failures++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  const rps = latencies.length / SECONDS;
  return {
    scenario: s.name,
    connections: s.connections,
    requests: latencies.length,
    failures,
    rps,
    vectorsPerSecond: rps * s.vectorsPerRequest,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
  };
}

async function main() {
  const files = await recipeArtifact();
  const kernel = await kernelBench(files);
  console.log('head kernel in Node (ms per vector):', kernel);

  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'edgehead-bench-'));
  const wrangler = await startWranglerDev({ port, persist, adminToken: ADMIN });
  const base = `http://127.0.0.1:${port}`;
  try {
    const key = await publishRecipe(base, ADMIN, files);

    const vector = Float32Array.from({ length: 8192 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const one = new Uint8Array(vector.buffer);
    const batch = new Uint8Array(32 * one.byteLength);
    for (let r = 0; r < 32; r++) batch.set(one, r * one.byteLength);
    const json = JSON.stringify({ features: Array.from(vector) });
    const url = `${base}/v1/models/recipe/classify`;
    const post = (body: BodyInit, type: string) => () =>
      fetch(url, { method: 'POST', headers: { 'x-api-key': key, 'content-type': type }, body });
    const health = () => fetch(`${base}/health`);

    const rows: Awaited<ReturnType<typeof load>>[] = [];
    for (const connections of [1, 8]) {
      rows.push(await load({ name: 'GET /health', connections, vectorsPerRequest: 0, request: health }));
      rows.push(
        await load({
          name: 'classify binary f32',
          connections,
          vectorsPerRequest: 1,
          request: post(one, 'application/octet-stream'),
        }),
      );
    }
    rows.push(
      await load({
        name: 'classify JSON',
        connections: 1,
        vectorsPerRequest: 1,
        request: post(json, 'application/json'),
      }),
    );
    rows.push(
      await load({
        name: 'classify binary batch 32',
        connections: 1,
        vectorsPerRequest: 32,
        request: post(batch, 'application/octet-stream'),
      }),
    );

    const ratio = (c: number) => {
      const h = rows.find((r) => r.scenario === 'GET /health' && r.connections === c);
      const k = rows.find((r) => r.scenario === 'classify binary f32' && r.connections === c);
      return h && k ? k.rps / h.rps : Number.NaN;
    };
    console.table(
      rows.map((r) => ({
        scenario: r.scenario,
        conns: r.connections,
        'req/s': r.rps.toFixed(0),
        'vectors/s': r.vectorsPerSecond.toFixed(0),
        'p50 ms': r.p50_ms.toFixed(2),
        'p99 ms': r.p99_ms.toFixed(2),
        failures: r.failures,
      })),
    );
    const ratios = { conns1: ratio(1), conns8: ratio(8) };
    console.log(
      `binary classify / health requests/s: 1 conn ${(ratios.conns1 * 100).toFixed(0)}%, 8 conns ${(ratios.conns8 * 100).toFixed(0)}% (target >= 80%)`,
    );
    mkdirSync(new URL('bench-results/', root), { recursive: true });
    writeFileSync(
      new URL('bench-results/edge-classify.json', root),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          secondsPerScenario: SECONDS,
          kernel,
          rows,
          classifyToHealthRatio: ratios,
        },
        null,
        2,
      ),
    );
  } finally {
    if (wrangler.pid) process.kill(-wrangler.pid, 'SIGTERM');
    rmSync(persist, { recursive: true, force: true });
  }
}

await main();
