// Embedded Postgres cold start (+ migrations), restart on existing data, and 1000 idempotent image inserts,
// against the real server too when DATABASE_URL is set. Run: npx tsx test/bench/db-timings.ts
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addImage, createDataset } from '@edgehead/db';
import { connect, type Database } from '@edgehead/db/node';
import { BenchReport, sized } from './lib/harness.ts';

const N = sized(1000, 50);

async function insertImages(database: Database): Promise<number> {
  const ds = await createDataset(database.db, { name: `timing-${Date.now()}`, classes: ['a', 'b'] });
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    const data = Buffer.from(`image-${i}-${ds.id}`);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await addImage(database.db, {
      datasetId: ds.id,
      split: 'train',
      label: 'a',
      width: 1,
      height: 1,
      bytes: data.length,
      data,
      sha256,
    });
  }
  return performance.now() - started;
}

const rows: {
  target: string;
  coldStartMs: number;
  restartMs: number | null;
  insertsMs: number;
  insertsPerS: number;
}[] = [];
const dataDir = await mkdtemp(path.join(tmpdir(), 'edgehead-bench-pg-'));
try {
  let t = performance.now();
  const embedded = await connect({ embedded: true, dataDir });
  const coldStartMs = performance.now() - t;
  const insertsMs = await insertImages(embedded);
  await embedded.close();
  t = performance.now();
  const again = await connect({ embedded: true, dataDir });
  const restartMs = performance.now() - t;
  await again.close();
  rows.push({
    target: 'embedded PGlite',
    coldStartMs,
    restartMs,
    insertsMs,
    insertsPerS: N / (insertsMs / 1000),
  });
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
if (process.env.DATABASE_URL) {
  const t = performance.now();
  const server = await connect({ url: process.env.DATABASE_URL });
  const coldStartMs = performance.now() - t;
  const insertsMs = await insertImages(server);
  await server.close();
  rows.push({
    target: 'server (DATABASE_URL)',
    coldStartMs,
    restartMs: null,
    insertsMs,
    insertsPerS: N / (insertsMs / 1000),
  });
}
new BenchReport('db-timings').finish(
  rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v])),
  ),
  { inserts: N, rows },
);
