// Fixtures the gpu tests build themselves: a tiny user backbone, generated images, a test database,
// pg-boss on it and the app around them. No downloads, no shared data.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend, saveLayersModelFolder } from '@edgehead/backbones';
import { connect, type Database } from '@edgehead/db/node';
import { createTestDatabase, type TestDatabase } from '@edgehead/db/testing';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from './app.ts';
import type { AppDeps } from './deps.ts';
import { parseEnv } from './env.ts';
import { startQueue } from './queue/index.ts';
import { registryFromEnv } from './services.ts';

/** The token tests configure. */
export const TOKEN = 'test-token-0123456789abcdef';
export const auth = { authorization: `Bearer ${TOKEN}` };

/**
 * Writes a TF.js layers model folder `dir/<name>`: 16x16x3 -> conv(4, 3x3, stride 2, relu) -> features 8x8x4;
 * another `seed` gives other weights.
 */
export async function writeTinyBackbone(
  dir: string,
  options: { seed?: number; name?: string } = {},
): Promise<string> {
  await initBackend();
  const folder = path.join(dir, options.name ?? 'tiny');
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  const out = tf.layers
    .conv2d({
      name: 'features',
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.randomUniform({
        minval: -0.5,
        maxval: 0.5,
        seed: options.seed ?? 7,
      }),
      biasInitializer: tf.initializers.constant({ value: 0.1 }),
    })
    .apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  await saveLayersModelFolder(model, folder);
  model.dispose();
  return folder;
}

/** A JPEG (or PNG) of seeded noise; different seeds give different bytes. */
export async function image(seed: number, options: { size?: number; format?: 'jpeg' | 'png' } = {}) {
  const size = options.size ?? 24;
  const raw = Buffer.alloc(size * size * 3);
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < raw.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    raw[i] = s >>> 24;
  }
  const img = sharp(raw, { raw: { width: size, height: size, channels: 3 } });
  const buf = await (options.format === 'png' ? img.png() : img.jpeg()).toBuffer();
  return new Uint8Array(buf);
}

/** A test app: fresh database (embedded PostgreSQL, or a server database when DATABASE_URL is set), pg-boss, tiny backbone. */
export interface TestApp {
  deps: AppDeps;
  app: ReturnType<typeof createApp>;
  database: Database;
  dir: string;
}

/** Starts a test app before the file's tests and stops it after; `env` overrides configuration. */
export function useTestApp(env: Record<string, string> = {}): () => TestApp {
  let testDb: TestDatabase | undefined;
  let ctx: TestApp | undefined;
  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgehead-gpu-'));
    const weights = await writeTinyBackbone(dir);
    testDb = await createTestDatabase();
    const database = await connect({ url: testDb.url });
    const parsed = parseEnv({
      EDGEHEAD_GPU_TOKEN: TOKEN,
      EDGEHEAD_DEFAULT_BACKBONE: 'tiny',
      EDGEHEAD_BACKBONES: JSON.stringify([{ name: 'tiny', weights, preprocessing: 'rescale' }]),
      EDGEHEAD_GPU_POOL_SIZE: '0',
      // the tests read without the token; datasets.test.ts checks that reads need it by default
      EDGEHEAD_GPU_PROTECT_READS: 'false',
      EDGEHEAD_QUEUE_POLL_SECONDS: '0.5',
      EDGEHEAD_WEIGHTS_CACHE: path.join(dir, 'cache'),
      ...env,
    });
    const queue = await startQueue(database.sql, { supervise: false });
    const deps: AppDeps = {
      db: database.db,
      sql: database.sql,
      queue,
      extractors: registryFromEnv(parsed, database.db),
      env: parsed,
    };
    ctx = { deps, app: createApp(deps), database, dir };
  });
  afterAll(async () => {
    await ctx?.deps.queue.stop();
    await ctx?.deps.extractors.dispose();
    await ctx?.database.close();
    await testDb?.drop();
    if (ctx) await rm(ctx.dir, { recursive: true, force: true });
  });
  return () => {
    if (!ctx) throw new Error('test app not started');
    return ctx;
  };
}

/** Multipart body of files named as given (names may carry `split/label/` folders). */
export function form(
  files: { name: string; data: Uint8Array }[],
  fields: Record<string, string> = {},
): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const f of files) fd.append('files', new Blob([f.data as Uint8Array<ArrayBuffer>]), f.name);
  return fd;
}
