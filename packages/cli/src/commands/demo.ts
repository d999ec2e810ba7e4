import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CLASSIFY_LIMITS,
  classifyResponse,
  FEATURE_HEADERS,
  headPresetName,
  modelAlias,
  type RunEvaluation,
} from '@edgehead/contracts';
import { z } from 'zod';
import { commonSchema, intFlag, parseCommand } from '../args.ts';
import { type Context, createContext, requireToken } from '../context.ts';
import { CliError } from '../errors.ts';
import { type FoundFile, scanDataset } from '../ingest.ts';
import { emit, epochLine, formatDuration, formatNumber, latencySummary, table } from '../output.ts';
import { RateBudget } from '../rate-budget.ts';
import { extractAndWait, ingestTree, publishRun, startAndFollow, weightsArg } from './gpu.ts';

export const DEMO_USAGE =
  'edgehead demo --data <dir> --backbone <name> [--weights <path|url>] [--preset P] [--epochs N] [--alias A] ' +
  '[--concurrency N] [--rate-limit N] [--limit N]';

const spec = {
  data: { type: 'string' },
  backbone: { type: 'string', short: 'b' },
  weights: { type: 'string' },
  dataset: { type: 'string' },
  preset: { type: 'string' },
  epochs: { type: 'string' },
  alias: { type: 'string' },
  concurrency: { type: 'string' },
  'rate-limit': { type: 'string' },
  limit: { type: 'string' },
} as const;

const schema = commonSchema.extend({
  data: z.string().min(1),
  backbone: z.string().min(1),
  weights: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
  preset: headPresetName.default('keras-vgg16-feature-extraction'),
  epochs: intFlag(1, 10000).optional(),
  alias: modelAlias.default('demo'),
  /** classify-image requests in flight. */
  concurrency: intFlag(1, 64).default(4),
  /** Requests per minute the API key may send: the edge's KEY_LIMITER (apps/edge/wrangler.jsonc). */
  'rate-limit': intFlag(1).default(600),
  /** Classify only the first N test images (all by default). */
  limit: intFlag(1).optional(),
});

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
async function gpuFeatures(ctx: Context, files: readonly FoundFile[], backbone: string) {
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
      const res = await ctx.gpu.raw('POST', '/v1/features', {
        query: { backbone },
        body: form,
        headers: { accept: 'application/octet-stream' },
      });
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
  backbone: string,
  files: readonly FoundFile[],
  budget: RateBudget,
): Promise<Classified> {
  const vectors = await gpuFeatures(ctx, files, backbone);
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
      const answer = await ctx.edge.call(
        'POST',
        `/v1/models/${alias}/classify`,
        { body, headers: { 'content-type': 'application/octet-stream' } },
        classifyResponse,
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

/** The image path: one classify-image request per image, `concurrency` at a time, within the key's budget. */
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
  await inParallel(
    files.map((f, i) => ({ f, i })),
    concurrency,
    async ({ f, i }) => {
      const image = await readFile(f.file);
      await budget.take();
      const started = performance.now();
      try {
        const answer = await ctx.edge.call(
          'POST',
          `/v1/models/${alias}/classify-image`,
          { body: image, headers: { 'content-type': imageType(f.file) } },
          classifyResponse,
        );
        requests.push({ ms: performance.now() - started });
        labels[i] = answer.predictions[0]?.label ?? null;
        if (answer.source === 'cache') fromCache++;
      } catch (error) {
        requests.push({ ms: performance.now() - started, error: (error as Error).message });
      }
      progress(requests.length);
    },
  );
  return { labels, requests, failures: [], fromCache };
}

/**
 * Classifies every test image through the edge twice: by precomputed features (from the gpu service in
 * batches, classified in batches) and by the image itself (in parallel), both within one per-key budget of
 * `ratePerMinute` requests so that the edge never answers 429.
 */
export async function classifyTestSet(
  ctx: Context,
  alias: string,
  backbone: string,
  files: FoundFile[],
  options: { concurrency: number; ratePerMinute: number; quiet: boolean },
) {
  const budget = new RateBudget(options.ratePerMinute, 60_000);
  const say = (line: string) => !options.quiet && process.stderr.write(`${line}\n`);
  const features = await classifyFeatures(ctx, alias, backbone, files, budget);
  say(`  features path: ${files.length} test images in ${features.requests.length} edge requests`);
  const image = await classifyImages(ctx, alias, files, budget, options.concurrency, (done) => {
    if (done % 100 === 0 || done === files.length)
      say(`  image path: classified ${done}/${files.length} test images through the edge`);
  });
  return {
    features: tally(files, features),
    image: { ...tally(files, image), fromCache: image.fromCache },
  };
}

/** `edgehead demo`: the Keras feature-extraction recipe end to end against a running system. */
export async function demo(argv: readonly string[]): Promise<number> {
  const { options } = parseCommand(argv, spec, schema, { max: 0, usage: DEMO_USAGE });
  const ctx = await createContext(options);
  requireToken(ctx.endpoints.gpuToken, 'gpu service token', '--gpu-token', 'EDGEHEAD_GPU_TOKEN');
  requireToken(ctx.endpoints.apiKey, 'API key', '--api-key', 'EDGEHEAD_API_KEY');
  const quiet = ctx.json;
  const say = (line: string) => !quiet && process.stderr.write(`${line}\n`);
  const stages: { stage: string; ms: number }[] = [];
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    say(`\n== ${name}`);
    const started = Date.now();
    const out = await fn();
    stages.push({ stage: name, ms: Date.now() - started });
    say(`   ${name}: ${formatDuration(Date.now() - started)}`);
    return out;
  };
  const dataDir = path.resolve(options.data);
  const datasetName = options.dataset ?? `${path.basename(dataDir)}`;

  const ingested = await stage('ingest', () => ingestTree(ctx, dataDir, datasetName, quiet));
  if (ingested.rejected.length)
    say(
      `   ${ingested.rejected.length} file(s) rejected, e.g. ${ingested.rejected[0]?.name}: ${ingested.rejected[0]?.message}`,
    );
  const extraction = await stage('extract', () =>
    extractAndWait(
      ctx,
      ingested.datasetId,
      { backbone: options.backbone, ...(options.weights ? { weights: weightsArg(options.weights) } : {}) },
      quiet,
    ),
  );
  const run = await stage('train', () =>
    startAndFollow(
      ctx,
      {
        dataset: ingested.datasetId,
        backbone: options.backbone,
        preset: options.preset,
        ...(options.epochs ? { epochs: options.epochs } : {}),
      },
      quiet,
    ),
  );
  if (run.run.status !== 'succeeded')
    throw new CliError(
      'failed',
      `training run ${run.run.id} ${run.run.status}: ${run.run.error ?? 'no error message'}`,
    );
  const published = await stage('publish', () => publishRun(ctx, run.run.id, options.alias, true));
  const { files } = await scanDataset(dataDir);
  const tests = files.filter((f) => f.split === 'test').slice(0, options.limit ?? Number.POSITIVE_INFINITY);
  const edge = await stage('classify at the edge', () =>
    classifyTestSet(ctx, options.alias, options.backbone, tests, {
      concurrency: options.concurrency,
      ratePerMinute: options['rate-limit'],
      quiet,
    }),
  );

  const evaluation = (split: string) => run.evaluations.find((e: RunEvaluation) => e.split === split) ?? null;
  const report = {
    dataset: {
      id: ingested.datasetId,
      name: datasetName,
      accepted: ingested.accepted,
      duplicates: ingested.duplicates,
      rejected: ingested.rejected.length,
    },
    features: extraction,
    run: {
      id: run.run.id,
      preset: options.preset,
      epochs: run.epochs,
      evaluation: { validation: evaluation('validation'), test: evaluation('test') },
    },
    published,
    edge,
    stages,
    dashboardUrl: ctx.endpoints.dashboardUrl,
  };
  emit(ctx.json, report, () => {
    const lat = (r: PathResult) =>
      `${r.requests} requests: p50 ${formatNumber(r.latencyMs.p50)} ms  p90 ${formatNumber(r.latencyMs.p90)} ms  p99 ${formatNumber(r.latencyMs.p99)} ms`;
    const test = evaluation('test');
    const val = evaluation('validation');
    const last = run.epochs.at(-1);
    return [
      '',
      `edgehead demo: ${datasetName}, backbone ${options.backbone}, preset ${options.preset}`,
      `  images      ${ingested.accepted} new, ${ingested.duplicates} already there, ${ingested.rejected.length} rejected`,
      `  features    ${extraction.featureSet}: ${extraction.done}/${extraction.total}`,
      `  training    run ${run.run.id}, ${run.epochs.length} epochs${last ? `; last ${epochLine(last)}` : ''}`,
      `  evaluation  validation accuracy ${val ? formatNumber(val.accuracy) : '-'}, test accuracy ${test ? formatNumber(test.accuracy) : '-'} (f1 ${test ? formatNumber(test.f1) : '-'}, roc auc ${test?.rocAuc === null || !test ? '-' : formatNumber(test.rocAuc)})`,
      `  published   ${published.alias} ${published.version}`,
      `  edge, features path  accuracy ${formatNumber(edge.features.accuracy)} (${edge.features.correct}/${edge.features.n})  ${lat(edge.features)}`,
      `  edge, image path     accuracy ${formatNumber(edge.image.accuracy)} (${edge.image.correct}/${edge.image.n})  ${lat(edge.image)}  (${edge.image.fromCache} from the edge cache)`,
      ...[...edge.features.errors, ...edge.image.errors].slice(0, 5).map((e) => `  error: ${e}`),
      '',
      table(
        stages.map((s) => ({ stage: s.stage, time: formatDuration(s.ms) })),
        ['stage', 'time'],
      ),
      '',
      `dashboard: ${ctx.endpoints.dashboardUrl}`,
    ].join('\n');
  });
  return 0;
}
