/**
 * gpu service upload throughput: multipart batches, the same files again (dedup), and one tar.gz archive,
 * through `createApp(...).request()` on a fresh test database (embedded PostgreSQL, or DATABASE_URL's server), against a
 * baseline measured in the same run doing the service's own per-file work without HTTP or a database: the
 * same decode check (`decodeImage` to 8x8 under the same pixel limit) + sha256 of the same bytes, as many at
 * once as the service (UPLOAD_DECODE_CONCURRENCY). Both sides are warmed up first on other images.
 * Prints a table and writes bench-results/gpu-upload.json; fails (exit 1) when an answer or the stored
 * image count is not what the uploads should give.
 * Run: `nice npx tsx test/bench/gpu-upload.ts` (EDGEHEAD_BENCH_UPLOAD_IMAGES=300, EDGEHEAD_BENCH_UPLOAD_BATCH=50).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { decodeImage } from '@edgehead/backbones';
import { connect } from '@edgehead/db/node';
import { createTestDatabase } from '@edgehead/db/testing';
import { createApp, parseEnv, registryFromEnv, startQueue, UPLOAD_DECODE_CONCURRENCY } from '@edgehead/gpu';
import sharp from 'sharp';
import tar from 'tar-stream';
import { BenchReport, envNumber } from './lib/harness.ts';

const N = Math.min(envNumber('EDGEHEAD_BENCH_UPLOAD_IMAGES', 300, 20), 2000);
const BATCH = envNumber('EDGEHEAD_BENCH_UPLOAD_BATCH', 50, 10);
const TOKEN = 'bench-token-0123456789abcdef';
const report = new BenchReport('gpu-upload');

async function jpeg(seed: number): Promise<Uint8Array> {
  const w = 256;
  const h = 192;
  const raw = Buffer.alloc(w * h * 3);
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < raw.length; i++) {
    // Smooth-ish content (photo-like sizes), not pure noise.
    if (i % 24 === 0) s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    raw[i] = (s >>> 24) ^ (i & 0x3f);
  }
  return new Uint8Array(
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .jpeg()
      .toBuffer(),
  );
}

async function tarGz(files: { name: string; data: Uint8Array }[]): Promise<Uint8Array> {
  const pack = tar.pack();
  for (const f of files) pack.entry({ name: f.name }, Buffer.from(f.data));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return new Uint8Array(gzipSync(Buffer.concat(chunks)));
}

const images = await Promise.all(Array.from({ length: N }, (_, i) => jpeg(i)));
const extra = await Promise.all(Array.from({ length: N }, (_, i) => jpeg(N + i)));
const warmUp = await Promise.all(Array.from({ length: BATCH }, (_, i) => jpeg(2 * N + i)));
const mb = images.reduce((n, b) => n + b.length, 0) / 1e6;

const testDb = await createTestDatabase();
const database = await connect({ url: testDb.url });
const queue = await startQueue(database.sql, { supervise: false });
const env = parseEnv({ EDGEHEAD_GPU_TOKEN: TOKEN, EDGEHEAD_GPU_POOL_SIZE: '0' });
const deps = { db: database.db, sql: database.sql, queue, extractors: registryFromEnv(env), env };
const app = createApp(deps);
const auth = { authorization: `Bearer ${TOKEN}` };

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

const rows: {
  stage: string;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  vsBaseline: number;
}[] = [];

/** The service's per-file work on `set` without HTTP or a database, as many files at once as it does. */
async function decodeAndHash(set: Uint8Array[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < set.length) {
      const b = set[next++] as Uint8Array;
      await decodeImage(b, [8, 8], { maxPixels: env.limits.maxPixels });
      createHash('sha256').update(b).digest('hex');
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_DECODE_CONCURRENCY }, worker));
}

let storedImages = -1;
try {
  const createDataset = async (name: string) => {
    const res = await app.request('/v1/datasets', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name, classes: ['cats', 'dogs'] }),
    });
    if (res.status !== 201) throw new Error(`create dataset ${name}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  };
  const upload = async (id: string, set: Uint8Array[], expect: 'accepted' | 'duplicates') => {
    for (let i = 0; i < set.length; i += BATCH) {
      const fd = new FormData();
      set.slice(i, i + BATCH).forEach((b, j) => {
        fd.append(
          'files',
          new Blob([b as Uint8Array<ArrayBuffer>]),
          `train/${(i + j) % 2 ? 'dogs' : 'cats'}/${i + j}.jpg`,
        );
      });
      const r = await app.request(`/v1/datasets/${id}/images`, { method: 'POST', headers: auth, body: fd });
      const body = (await r.json()) as Record<string, number>;
      if (body[expect] !== Math.min(BATCH, set.length - i))
        throw new Error(`unexpected answer ${JSON.stringify(body).slice(0, 300)}`);
    }
  };
  // warm-up of both sides on other images: the decoder, the database connection, the routes
  await decodeAndHash(warmUp);
  await upload(await createDataset('warm-up'), warmUp, 'accepted');

  const baseline = await timed(() => decodeAndHash(images));
  const id = await createDataset('bench');
  const first = await timed(() => upload(id, images, 'accepted'));
  const again = await timed(() => upload(id, images, 'duplicates'));
  const archive = await tarGz(
    extra.map((data, i) => ({ name: `set/train/${i % 2 ? 'dogs' : 'cats'}/x${i}.jpg`, data })),
  );
  const archived = await timed(async () => {
    const r = await app.request(`/v1/datasets/${id}/archive`, {
      method: 'POST',
      headers: auth,
      body: new Uint8Array(archive),
    });
    const body = (await r.json()) as { accepted: number };
    if (body.accepted !== N) throw new Error(`archive accepted ${body.accepted} of ${N}`);
  });
  const [counted] = await database.sql<{ n: number }[]>`
    select count(*)::int as n from images where dataset_id = ${id}`;
  storedImages = counted?.n ?? 0;
  report.check(storedImages === 2 * N, `dataset bench holds ${storedImages} images, expected ${2 * N}`);
  const add = (stage: string, seconds: number) =>
    rows.push({ stage, images: N, seconds, imagesPerSecond: N / seconds, vsBaseline: baseline / seconds });
  add(`baseline: decode + sha256, ${UPLOAD_DECODE_CONCURRENCY} at once`, baseline);
  add(`multipart upload, batches of ${BATCH}`, first);
  add('same files again (all duplicates)', again);
  add('one tar.gz archive', archived);
} finally {
  await queue.stop();
  await database.close();
  await testDb.drop();
}

console.log(`\ngpu upload: ${N} JPEGs 256x192 (${mb.toFixed(1)} MB), database ${testDb.kind}\n`);
report.finish(
  rows.map((r) => ({
    stage: r.stage,
    'images/s': r.imagesPerSecond.toFixed(1),
    seconds: r.seconds.toFixed(2),
    'x baseline': r.vsBaseline.toFixed(2),
  })),
  { images: N, batch: BATCH, megabytes: mb, database: testDb.kind, storedImages, rows },
);
