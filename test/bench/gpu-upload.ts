/**
 * gpu service upload throughput: multipart batches, the same files again (dedup), and one tar.gz archive,
 * through `createApp(...).request()` on a fresh test database (PGlite, or DATABASE_URL's server), against a
 * baseline measured in the same run: decode + sha256 of the same bytes in-process with no HTTP and no
 * database. Prints a table and writes bench-results/gpu-upload.json.
 * Run: `nice npx tsx test/bench/gpu-upload.ts` (EDGEHEAD_BENCH_UPLOAD_IMAGES=300, EDGEHEAD_BENCH_UPLOAD_BATCH=50).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { decodeImage } from '@edgehead/backbones';
import { connect } from '@edgehead/db/node';
import { createTestDatabase } from '@edgehead/db/testing';
import { createApp, parseEnv, registryFromEnv, startQueue } from '@edgehead/gpu';
import sharp from 'sharp';
import tar from 'tar-stream';

const N = Math.min(Number(process.env.EDGEHEAD_BENCH_UPLOAD_IMAGES ?? 300), 2000);
const BATCH = Number(process.env.EDGEHEAD_BENCH_UPLOAD_BATCH ?? 50);
const TOKEN = 'bench-token-0123456789abcdef';
const root = path.resolve(import.meta.dirname, '../..');

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
try {
  const baseline = await timed(async () => {
    for (const b of images) {
      await decodeImage(b, [8, 8]);
      createHash('sha256').update(b).digest('hex');
    }
  });
  const res = await app.request('/v1/datasets', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', classes: ['cats', 'dogs'] }),
  });
  const { id } = (await res.json()) as { id: string };
  const upload = async (set: Uint8Array[], expect: 'accepted' | 'duplicates') => {
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
  const first = await timed(() => upload(images, 'accepted'));
  const again = await timed(() => upload(images, 'duplicates'));
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
  const add = (stage: string, seconds: number) =>
    rows.push({ stage, images: N, seconds, imagesPerSecond: N / seconds, vsBaseline: baseline / seconds });
  add('baseline: decode + sha256 in-process', baseline);
  add(`multipart upload, batches of ${BATCH}`, first);
  add('same files again (all duplicates)', again);
  add('one tar.gz archive', archived);
} finally {
  await queue.stop();
  await database.close();
  await testDb.drop();
}

console.log(`\ngpu upload: ${N} JPEGs 256x192 (${mb.toFixed(1)} MB), database ${testDb.kind}\n`);
console.log(
  `${'stage'.padEnd(40)} ${'images/s'.padStart(10)} ${'seconds'.padStart(9)} ${'x baseline'.padStart(11)}`,
);
for (const r of rows) {
  console.log(
    `${r.stage.padEnd(40)} ${r.imagesPerSecond.toFixed(1).padStart(10)} ${r.seconds.toFixed(2).padStart(9)} ${r.vsBaseline.toFixed(2).padStart(11)}`,
  );
}
await mkdir(path.join(root, 'bench-results'), { recursive: true });
await writeFile(
  path.join(root, 'bench-results/gpu-upload.json'),
  `${JSON.stringify({ images: N, batch: BATCH, megabytes: mb, database: testDb.kind, rows }, null, 2)}\n`,
);
