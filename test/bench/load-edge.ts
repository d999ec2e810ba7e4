/**
 * Edge load benchmark on `wrangler dev` (local workerd, loopback only): a recipe-shaped head
 * (8192 -> 256 -> 1) is published, then REQUESTS binary classify requests are sent at CONNECTIONS
 * concurrent connections, with /health at the same concurrency and count as the baseline; 0 errors expected.
 * Also 1 connection, the ratio the edge targets (binary classify >= 80% of /health requests/s).
 *
 * Run: npx tsx test/bench/load-edge.ts   (writes bench-results/load-edge.json)
 * Env: LOAD_REQUESTS (default 20000), LOAD_CONNECTIONS (32), LOAD_SERIAL_REQUESTS (2000, the 1-connection runs).
 * Bounded: fixed request counts; wrangler dev is stopped and its state removed at the end. The per-key rate
 * limit is raised for the run through a temporary copy of wrangler.jsonc (apps/edge/wrangler.load-bench.jsonc).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { freePort, publishRecipe, recipeArtifact, startWranglerDev } from './edge-bench.ts';

const REQUESTS = Number(process.env.LOAD_REQUESTS ?? 20_000);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 32);
const SERIAL_REQUESTS = Number(process.env.LOAD_SERIAL_REQUESTS ?? 2_000);
const ADMIN = 'load-bench-admin-token';
const BENCH_CONFIG = 'wrangler.load-bench.jsonc';
const root = new URL('../../', import.meta.url);
const edgeDir = new URL('apps/edge/', root);

/** wrangler.jsonc with the per-key limit raised so that the run measures the worker, not the limiter. */
function writeBenchConfig(limit: number): void {
  const text = readFileSync(new URL('wrangler.jsonc', edgeDir), 'utf8');
  const parsed = ts.parseConfigFileTextToJson('wrangler.jsonc', text);
  if (parsed.error) throw new Error(`wrangler.jsonc: ${String(parsed.error.messageText)}`);
  const config = parsed.config as { ratelimits?: { simple: { limit: number; period: number } }[] };
  if (!config.ratelimits?.length) throw new Error('wrangler.jsonc has no ratelimits binding to raise');
  for (const r of config.ratelimits) r.simple.limit = limit;
  writeFileSync(new URL(BENCH_CONFIG, edgeDir), JSON.stringify(config, null, 2));
}

interface Row {
  scenario: string;
  connections: number;
  requests: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

/** Sends `total` requests over `connections` concurrent loops; every non-2xx or network failure is an error. */
async function load(
  scenario: string,
  connections: number,
  total: number,
  request: () => Promise<Response>,
): Promise<Row> {
  const latencies = new Float64Array(total);
  let next = 0;
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t = performance.now();
        try {
          const res = await request();
          const body = await res.text();
          if (!res.ok && !(scenario.includes('401') && res.status === 401)) {
            errors++;
            firstError ??= `${res.status} ${body.slice(0, 200)}`;
          }
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
        latencies[i] = performance.now() - t;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  const q = (p: number) => latencies[Math.min(total - 1, Math.floor(p * total))] ?? Number.NaN;
  return {
    scenario,
    connections,
    requests: total,
    errors,
    firstError,
    seconds,
    rps: total / seconds,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
  };
}

async function main() {
  const files = await recipeArtifact();
  writeBenchConfig(10 * (REQUESTS + SERIAL_REQUESTS) + 10_000);
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'edgehead-load-'));
  let wrangler: ChildProcess | undefined;
  try {
    wrangler = await startWranglerDev({ port, persist, adminToken: ADMIN, config: BENCH_CONFIG });
    const base = `http://127.0.0.1:${port}`;
    const key = await publishRecipe(base, ADMIN, files, 'load-bench');

    const vector = Float32Array.from({ length: 8192 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const body = new Uint8Array(vector.buffer);
    const classify = () =>
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

    // warm-up: compile the head, fill the isolate's caches, open the connections
    await load('warm-up health', CONNECTIONS, 500, health);
    await load('warm-up classify', CONNECTIONS, 500, classify);

    const rows: Row[] = [];
    rows.push(await load('GET /health', 1, SERIAL_REQUESTS, health));
    rows.push(await load('classify binary f32', 1, SERIAL_REQUESTS, classify));
    rows.push(await load('same body, 401 at once', 1, SERIAL_REQUESTS, bodyOnly));
    rows.push(await load('GET /health', CONNECTIONS, REQUESTS, health));
    rows.push(await load('classify binary f32', CONNECTIONS, REQUESTS, classify));

    const ratio = (c: number) => {
      const h = rows.find((r) => r.scenario === 'GET /health' && r.connections === c);
      const k = rows.find((r) => r.scenario === 'classify binary f32' && r.connections === c);
      return h && k ? k.rps / h.rps : Number.NaN;
    };
    const ratios = { [`conns${1}`]: ratio(1), [`conns${CONNECTIONS}`]: ratio(CONNECTIONS) };
    console.table(
      rows.map((r) => ({
        scenario: r.scenario,
        conns: r.connections,
        requests: r.requests,
        errors: r.errors,
        'req/s': r.rps.toFixed(0),
        'p50 ms': r.p50_ms.toFixed(2),
        'p99 ms': r.p99_ms.toFixed(2),
      })),
    );
    console.log(
      `classify / health requests/s: 1 conn ${(ratio(1) * 100).toFixed(0)}%, ${CONNECTIONS} conns ${(ratio(CONNECTIONS) * 100).toFixed(0)}% (target >= 80%)`,
    );
    const errors = rows.reduce((n, r) => n + r.errors, 0);
    mkdirSync(new URL('bench-results/', root), { recursive: true });
    writeFileSync(
      new URL('bench-results/load-edge.json', root),
      JSON.stringify(
        { date: new Date().toISOString(), rows, classifyToHealthRatio: ratios, errors },
        null,
        2,
      ),
    );
    if (errors > 0) {
      console.error(`load-edge: ${errors} errors, first: ${rows.find((r) => r.firstError)?.firstError}`);
      process.exitCode = 1;
    }
  } finally {
    if (wrangler?.pid) process.kill(-wrangler.pid, 'SIGTERM');
    rmSync(persist, { recursive: true, force: true });
    rmSync(new URL(BENCH_CONFIG, edgeDir), { force: true });
  }
}

await main();
