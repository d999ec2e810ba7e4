// The embedded PostgreSQL server against the server at DATABASE_URL, same work in one run: cold start
// (a new cluster, or a new database, plus migrations), restart (start on existing data, migrations already
// applied), and 1000 idempotent image inserts. Medians of ROUNDS rounds, as ratios embedded / server.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test nice npx tsx test/bench/db-timings.ts
//
// Writes bench-results/db-timings.json; exits 1 on any error (an insert that failed, a missing row).
// Smoke mode (EDGEHEAD_BENCH_SMOKE=1): 50 inserts, one round.
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addImage, createDataset } from '@edgehead/db';
import { connect, type Database, startEmbeddedPostgres } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import { benchEnv } from './lib/env.ts';
import { BenchReport, envNumber, sized } from './lib/harness.ts';

const N = sized(1000, 50);
const ROUNDS = envNumber('ROUNDS', 3, 1);

if (!benchEnv.DATABASE_URL) {
  console.error(
    'db-timings compares against a server: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)',
  );
  process.exit(2);
}

/** Inserts N distinct images and checks that N rows arrived; resolves with the time the inserts took. */
async function insertImages(database: Database): Promise<number> {
  const ds = await createDataset(database.db, { name: `timing-${Date.now()}`, classes: ['a', 'b'] });
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    const data = Buffer.from(`image-${i}-${ds.id}`);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const { duplicate } = await addImage(database.db, {
      datasetId: ds.id,
      split: 'train',
      label: 'a',
      width: 1,
      height: 1,
      bytes: data.length,
      data,
      sha256,
    });
    if (duplicate) throw new Error(`image ${i} was stored as a duplicate`);
  }
  const ms = performance.now() - started;
  const [row] = await database.sql`select count(*)::int as n from images where dataset_id = ${ds.id}`;
  if (row?.n !== N) throw new Error(`${row?.n} of ${N} images stored`);
  return ms;
}

interface Round {
  coldStartMs: number;
  restartMs: number;
  insertsMs: number;
}

/** Starts a target and connects (migrating); resolves with the connection, how to stop, and the time it took. */
async function timedStart(start: () => Promise<{ url: string; stop(): Promise<void> }>) {
  const started = performance.now();
  const target = await start();
  try {
    const database = await connect({ url: target.url });
    return { database, stop: target.stop, ms: performance.now() - started };
  } catch (error) {
    await target.stop();
    throw error;
  }
}

/** One round on a target: cold start, the inserts, then a restart on the same data. */
async function round(
  cold: () => Promise<{ url: string; stop(): Promise<void> }>,
  again: () => Promise<{ url: string; stop(): Promise<void> }>,
): Promise<Round> {
  const first = await timedStart(cold);
  let insertsMs: number;
  try {
    insertsMs = await insertImages(first.database);
  } finally {
    await first.database.close();
    await first.stop();
  }
  const second = await timedStart(again);
  await second.database.close();
  await second.stop();
  return { coldStartMs: first.ms, restartMs: second.ms, insertsMs };
}

/** The embedded server as `edgehead up` runs it (durable): a new cluster, then a restart on it. */
async function embeddedRound(): Promise<Round> {
  const parent = await mkdtemp(path.join(tmpdir(), 'edgehead-bench-pg-'));
  await chmod(parent, 0o755); // as root the server runs as 'postgres'
  const options = { dataDir: path.join(parent, 'pg'), password: 'bench-password-0123456789' };
  try {
    return await round(
      () => startEmbeddedPostgres(options),
      () => startEmbeddedPostgres(options),
    );
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
}

/** The server at DATABASE_URL: a fresh database (created, migrated), then connecting to it again. */
async function serverRound(): Promise<Round> {
  let testDb: TestDatabase | undefined;
  const keep = async () => undefined; // the server itself keeps running
  try {
    return await round(
      async () => {
        testDb = await createTestDatabase();
        return { url: testDb.url, stop: keep };
      },
      async () => ({ url: (testDb as TestDatabase).url, stop: keep }),
    );
  } finally {
    await testDb?.drop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

try {
  const embedded: Round[] = [];
  const server: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // alternate the order, so that neither target always runs on a warmer machine
    if (r % 2 === 0) embedded.push(await embeddedRound());
    server.push(await serverRound());
    if (r % 2 === 1) embedded.push(await embeddedRound());
  }
  const metrics = ['coldStartMs', 'restartMs', 'insertsMs'] as const;
  const rows = metrics.map((m) => {
    const e = median(embedded.map((x) => x[m]));
    const s = median(server.map((x) => x[m]));
    return {
      metric: m,
      embeddedMs: Math.round(e),
      serverMs: Math.round(s),
      ratio: Number((e / s).toFixed(2)),
    };
  });
  console.log(`medians of ${ROUNDS} rounds; inserts: ${N} images each, all stored`);
  new BenchReport('db-timings').finish(rows, { rounds: ROUNDS, images: N, rows, embedded, server });
} catch (error) {
  console.error(`db-timings failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
}
