// The demo's last stage: every test image classified through the edge, by its features and by itself.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CLASSIFY_LIMITS, FEATURE_HEADERS } from '@edgehead/contracts';
import type { Context } from '../context.ts';
import { CliError } from '../errors.ts';
import { ok } from '../http.ts';
import type { FoundFile } from '../ingest.ts';
import { latencySummary } from '../output.ts';
import { RateBudget } from '../rate-budget.ts';

/** Outcome of classifying the test images through the edge, per path. */
export interface PathResult {
  n: number;
  correct: number;
  accuracy: number;
  /** Edge requests this path sent, and their latency (a features request carries a batch). */
  requests: number;
  latencyMs: ReturnType<typeof latencySummary>;
  errors: string[];
}

/** The predicted label of each image (null where it failed), each edge request's outcome, other failures. */
interface Classified {
  labels: (string | null)[];
  requests: { ms: number; error?: string }[];
  failures: string[];
}

function tally(files: readonly FoundFile[], out: Classified): PathResult {
  const correct = files.filter((f, i) => out.labels[i] === f.label).length;
  return {
    n: files.length,
    correct,
    accuracy: files.length ? correct / files.length : 0,
    requests: out.requests.length,
    latencyMs: latencySummary(out.requests.filter((r) => r.error === undefined).map((r) => r.ms)),
    errors: [...out.failures, ...out.requests.flatMap((r) => (r.error ? [r.error] : []))].slice(0, 10),
  };
}

function imageType(file: string): string {
  const ext = path.extname(file).toLowerCase();
  return ext === '.png' ? 'image/png' : ext === '.webp' ? 'image/webp' : 'image/jpeg';
}

/** Images per `POST /v1/features` of the features path (one multipart batch, one forward pass). */
const GPU_BATCH = 32;

/** Runs `work` on every item with `concurrency` workers; resolves when all are done. */
async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** Consecutive slices of `items` of at most `size`. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

/** Float32 features of `files` from the gpu service, in multipart batches; each row is one image's vector. */
async function gpuFeatures(ctx: Context, files: readonly FoundFile[], featureSet: string) {
  const rows: (Uint8Array | Error)[] = new Array(files.length);
  const batches = chunks(
    files.map((f, i) => ({ f, i })),
    GPU_BATCH,
  );
  await inParallel(batches, 2, async (batch) => {
    const form = new FormData();
    for (const { f } of batch)
      form.append(
        'file',
        new Blob([await readFile(f.file)], { type: imageType(f.file) }),
        path.basename(f.file),
      );
    try {
      const res = await ctx.gpu.v1.features.$post(
        { query: { featureSet } },
        { headers: { accept: 'application/octet-stream' }, init: { body: form } },
      );
      if (res.headers.get(FEATURE_HEADERS.dtype) === 'float16')
        throw new CliError('api', 'gpu service sent float16 features; the demo expects float32');
      const bytes = new Uint8Array(await res.arrayBuffer());
      const size = bytes.length / batch.length;
      batch.forEach(({ i }, k) => {
        rows[i] = bytes.subarray(k * size, (k + 1) * size);
      });
    } catch (error) {
      for (const { i } of batch) rows[i] = error as Error;
    }
  });
  return rows;
}

/** The features path: every vector once, in batches of up to the edge's limit per classify request. */
async function classifyFeatures(
  ctx: Context,
  alias: string,
  featureSet: string,
  files: readonly FoundFile[],
  budget: RateBudget,
): Promise<Classified> {
  const vectors = await gpuFeatures(ctx, files, featureSet);
  const labels: (string | null)[] = files.map(() => null);
  const requests: Classified['requests'] = [];
  const ready = vectors.flatMap((v, i) => (v instanceof Error ? [] : [{ v, i }]));
  const failures = [...new Set(vectors.flatMap((v) => (v instanceof Error ? [v.message] : [])))];
  await inParallel(chunks(ready, CLASSIFY_LIMITS.maxBatch), 2, async (batch) => {
    const body = new Uint8Array(batch.reduce((n, { v }) => n + v.length, 0));
    let at = 0;
    for (const { v } of batch) {
      body.set(v, at);
      at += v.length;
    }
    await budget.take();
    const started = performance.now();
    try {
      const answer = await ok(
        ctx.edge.v1.models[':alias'].classify.$post(
          { param: { alias }, query: {} },
          { headers: { 'content-type': 'application/octet-stream' }, init: { body } },
        ),
      );
      requests.push({ ms: performance.now() - started });
      batch.forEach(({ i }, k) => {
        labels[i] = answer.predictions[k]?.label ?? null;
      });
    } catch (error) {
      requests.push({ ms: performance.now() - started, error: (error as Error).message });
    }
  });
  return { labels, requests, failures };
}

/** Images per classify-image request of the image path (one multipart batch). */
const IMAGE_BATCH = 32;

/** Consecutive batches of at most `IMAGE_BATCH` images and, with room for the multipart framing, of the edge's body limit. */
function imageBatches<T extends { bytes: Uint8Array }>(items: readonly T[]): T[][] {
  const maxBytes = CLASSIFY_LIMITS.maxBodyBytes * 0.9;
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length === IMAGE_BATCH || bytes + item.bytes.length > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.bytes.length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The image path: the images in multipart classify-image batches, `concurrency` at a time, within the key's budget. */
async function classifyImages(
  ctx: Context,
  alias: string,
  files: readonly FoundFile[],
  budget: RateBudget,
  concurrency: number,
  progress: (done: number) => void,
): Promise<Classified & { fromCache: number }> {
  const labels: (string | null)[] = files.map(() => null);
  const requests: Classified['requests'] = [];
  let fromCache = 0;
  let done = 0;
  const items = await Promise.all(files.map(async (f, i) => ({ f, i, bytes: await readFile(f.file) })));
  await inParallel(imageBatches(items), concurrency, async (batch) => {
    const form = new FormData();
    for (const { f, bytes } of batch)
      form.append('file', new Blob([bytes], { type: imageType(f.file) }), path.basename(f.file));
    await budget.take();
    const started = performance.now();
    try {
      const answer = await ok(
        ctx.edge.v1.models[':alias']['classify-image'].$post({ param: { alias } }, { init: { body: form } }),
      );
      requests.push({ ms: performance.now() - started });
      batch.forEach(({ i }, k) => {
        labels[i] = answer.predictions[k]?.label ?? null;
      });
      fromCache += answer.images?.filter((image) => image.source === 'cache').length ?? 0;
    } catch (error) {
      requests.push({ ms: performance.now() - started, error: (error as Error).message });
    }
    done += batch.length;
    progress(done);
  });
  return { labels, requests, failures: [], fromCache };
}

/**
 * Classifies every test image through the edge twice: by precomputed features (from the gpu service in
 * batches, classified in batches) and by the image itself (in multipart batches), both within one per-key budget of
 * `ratePerMinute` requests so that the edge never answers 429.
 */
export async function classifyTestSet(
  ctx: Context,
  alias: string,
  featureSet: string,
  files: FoundFile[],
  options: { concurrency: number; ratePerMinute: number; quiet: boolean },
) {
  const budget = new RateBudget(options.ratePerMinute, 60_000);
  const say = (line: string) => !options.quiet && process.stderr.write(`${line}\n`);
  const features = await classifyFeatures(ctx, alias, featureSet, files, budget);
  say(`  features path: ${files.length} test images in ${features.requests.length} edge requests`);
  let reported = 0;
  const image = await classifyImages(ctx, alias, files, budget, options.concurrency, (done) => {
    if (done - reported >= 100 || done === files.length) {
      reported = done;
      say(`  image path: classified ${done}/${files.length} test images through the edge`);
    }
  });
  return {
    features: tally(files, features),
    image: { ...tally(files, image), fromCache: image.fromCache },
  };
}
