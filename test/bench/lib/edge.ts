// Shared by the edge benchmarks: the recipe-shaped head they publish, and the edge worker under `wrangler dev`
// with its per-key rate limit raised and its Hyperdrive binding on a real, migrated test database.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FeatureSetIdentity, featureSetKey } from '@edgehead/contracts';
import { connect } from '@edgehead/db/node';
import { createTestDatabase } from '@edgehead/db/testing';
import { type HeadArtifactFiles, type TfjsModelArtifacts, writeHeadArtifact } from '@edgehead/head';
import * as tf from '@tensorflow/tfjs';
import ts from 'typescript';
import { benchEnv } from './env.ts';
import { ROOT } from './harness.ts';

const edgeDir = path.join(ROOT, 'apps/edge');
/** A temporary copy of wrangler.jsonc (git-ignored in apps/edge, where its relative paths resolve). */
const BENCH_CONFIG = 'wrangler.load-bench.jsonc';

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** wrangler.jsonc with every rate limit raised to `limit`, so that a run measures the worker, not the limiter. */
function writeBenchConfig(limit: number): void {
  const text = readFileSync(path.join(edgeDir, 'wrangler.jsonc'), 'utf8');
  const parsed = ts.parseConfigFileTextToJson('wrangler.jsonc', text);
  if (parsed.error) throw new Error(`wrangler.jsonc: ${String(parsed.error.messageText)}`);
  const config = parsed.config as { ratelimits?: { simple: { limit: number; period: number } }[] };
  if (!config.ratelimits?.length) throw new Error('wrangler.jsonc has no ratelimits binding to raise');
  for (const r of config.ratelimits) r.simple.limit = limit;
  writeFileSync(path.join(edgeDir, BENCH_CONFIG), JSON.stringify(config, null, 2));
}

/** The edge worker under `wrangler dev` on 127.0.0.1, and how to stop it (and remove what it used). */
export interface BenchEdge {
  url: string;
  /** The test database its Hyperdrive binding points at: 'embedded' (a throw-away PostgreSQL) or 'server' (DATABASE_URL's). */
  database: 'embedded' | 'server';
  stop(): Promise<void>;
}

/**
 * Builds the edge's static assets and starts `wrangler dev` with `ADMIN_TOKEN` set, local state in a temporary
 * folder, every per-key rate limit raised to `rateLimit` per window, and Hyperdrive on a fresh migrated test
 * database (on DATABASE_URL's server when set), so that publishing mirrors its deployment into a real
 * Postgres; resolves once `/health` answers.
 */
export async function startBenchEdge(options: {
  adminToken: string;
  rateLimit: number;
  timeoutMs?: number;
}): Promise<BenchEdge> {
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, ['scripts/assets.mjs'], { cwd: edgeDir, stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`assets step exited ${code}`))));
  });
  const testDb = await createTestDatabase();
  await (await connect({ url: testDb.url })).close(); // migrates it
  // miniflare refuses a Hyperdrive URL without a password; the test databases ignore it (trust auth)
  const hyperdrive = new URL(testDb.url);
  if (!hyperdrive.password) hyperdrive.password = 'postgres';
  writeBenchConfig(options.rateLimit);
  const [port, inspector] = [await freePort(), await freePort()];
  const persist = mkdtempSync(path.join(tmpdir(), 'edgehead-bench-'));
  // the edge's own wrangler (pinned there), run with this Node
  const wrangler = createRequire(path.join(edgeDir, 'package.json')).resolve('wrangler/bin/wrangler.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      wrangler,
      'dev',
      '--config',
      BENCH_CONFIG,
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspector),
      '--persist-to',
      persist,
      '--var',
      `ADMIN_TOKEN:${options.adminToken}`,
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
    ],
    {
      cwd: edgeDir,
      detached: true, // own process group: stop() ends wrangler and its workerd together
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...benchEnv,
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdrive.toString(),
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  /** Signals wrangler's process group; false when it is gone already. */
  const signal = (name: NodeJS.Signals) => {
    try {
      return child.pid !== undefined && process.kill(-child.pid, name);
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (signal('SIGTERM')) {
        const killer = setTimeout(() => signal('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
    }
    rmSync(persist, { recursive: true, force: true });
    rmSync(path.join(edgeDir, BENCH_CONFIG), { force: true });
    await testDb.drop();
  };
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited with ${child.exitCode}`);
    }
    try {
      if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })).ok)
        return { url, database: testDb.kind, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error(`wrangler dev did not answer /health within ${timeoutMs / 1000} s`);
}

/** The Keras recipe's head (Flatten 4x4x512 -> Dense 256 relu -> Dropout -> Dense 1 sigmoid) as an artifact. */
export async function recipeArtifact(): Promise<HeadArtifactFiles> {
  await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 512] }),
      tf.layers.dense({ units: 256, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  let saved: TfjsModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a as TfjsModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const vgg16: FeatureSetIdentity = {
    backbone: 'vgg16',
    weights: { sha256: '0'.repeat(64), source: 'bench' },
    pooling: 'none',
    preprocessing: 'rescale',
    inputSize: [150, 150],
    featureLayer: 'block5_pool',
    featureShape: [4, 4, 512],
    provenance: null,
  };
  const featureSet = {
    ...vgg16,
    id: randomUUID(),
    key: featureSetKey(vgg16),
    createdAt: new Date().toISOString(),
  };
  const { files } = await writeHeadArtifact(saved as TfjsModelArtifacts, {
    featureSet,
    featureShape: [4, 4, 512],
    task: 'binary',
    classes: ['cats', 'dogs'],
    threshold: 0.5,
  });
  return files;
}

/** Publishes `files` as version v1 of alias `recipe` at the edge on `base`. */
export async function publishRecipe(
  base: string,
  adminToken: string,
  files: HeadArtifactFiles,
): Promise<void> {
  const form = new FormData();
  for (const [name, bytes] of Object.entries(files)) form.append(name, new Blob([bytes]), name);
  const pub = await fetch(`${base}/admin/models/recipe/versions/v1`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}` },
    body: form,
  });
  if (pub.status !== 201) throw new Error(`publish answered ${pub.status}: ${await pub.text()}`);
}

/** A new API key for the classify routes (one per scenario, so no scenario spends another's budget). */
export async function createKey(base: string, adminToken: string, name: string): Promise<string> {
  const res = await fetch(`${base}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/keys answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}
