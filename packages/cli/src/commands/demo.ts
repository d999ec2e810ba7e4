import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  classifyResponse,
  FEATURE_HEADERS,
  featureSetLabel,
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
import { extractAndWait, ingestTree, publishRun, startAndFollow, weightsArg } from './gpu.ts';

export const DEMO_USAGE =
  'edgehead demo --data <dir> --backbone <name> [--weights <path|url>] [--preset P] [--epochs N] [--alias A]';

const spec = {
  data: { type: 'string' },
  backbone: { type: 'string', short: 'b' },
  weights: { type: 'string' },
  dataset: { type: 'string' },
  preset: { type: 'string' },
  epochs: { type: 'string' },
  alias: { type: 'string' },
  concurrency: { type: 'string' },
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
  concurrency: intFlag(1, 64).default(2),
  /** Classify only the first N test images (all by default). */
  limit: intFlag(1).optional(),
});

/** Outcome of classifying the test images through the edge, per path. */
export interface PathResult {
  n: number;
  correct: number;
  accuracy: number;
  latencyMs: ReturnType<typeof latencySummary>;
  errors: string[];
}

function tally(results: { ok: boolean; ms: number; error?: string }[]): PathResult {
  const good = results.filter((r) => r.error === undefined);
  const correct = good.filter((r) => r.ok).length;
  return {
    n: results.length,
    correct,
    accuracy: results.length ? correct / results.length : 0,
    latencyMs: latencySummary(good.map((r) => r.ms)),
    errors: results.flatMap((r) => (r.error ? [r.error] : [])).slice(0, 10),
  };
}

/** Features of one image from the gpu service, as the raw float32 bytes `POST /v1/features` returns. */
async function gpuFeatures(ctx: Context, file: FoundFile, featureSet: string): Promise<Uint8Array> {
  const res = await ctx.gpu.raw('POST', '/v1/features', {
    query: { featureSet },
    body: await readFile(file.file),
    headers: { 'content-type': imageType(file.file), accept: 'application/octet-stream' },
  });
  if (res.headers.get(FEATURE_HEADERS.dtype) === 'float16')
    throw new CliError('api', 'gpu service sent float16 features; the demo expects float32');
  return new Uint8Array(await res.arrayBuffer());
}

function imageType(file: string): string {
  const ext = path.extname(file).toLowerCase();
  return ext === '.png' ? 'image/png' : ext === '.webp' ? 'image/webp' : 'image/jpeg';
}

async function timedClassify(
  ctx: Context,
  route: string,
  body: Uint8Array,
  contentType: string,
  expected: string,
) {
  const started = performance.now();
  try {
    const answer = await ctx.edge.call(
      'POST',
      route,
      { body, headers: { 'content-type': contentType } },
      classifyResponse,
    );
    const ms = performance.now() - started;
    return { ok: answer.predictions[0]?.label === expected, ms, source: answer.source };
  } catch (error) {
    return { ok: false, ms: performance.now() - started, error: (error as Error).message };
  }
}

/**
 * Classifies every test image through the edge twice: precomputed features (computed by the gpu service for
 * `featureSet`, the id of the head's feature set), and the image itself.
 */
export async function classifyTestSet(
  ctx: Context,
  alias: string,
  featureSet: string,
  files: FoundFile[],
  concurrency: number,
  quiet: boolean,
) {
  const features: { ok: boolean; ms: number; error?: string }[] = [];
  const images: { ok: boolean; ms: number; error?: string; source?: string | undefined }[] = [];
  const queue = [...files];
  let done = 0;
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      images.push(
        await timedClassify(
          ctx,
          `/v1/models/${alias}/classify-image`,
          await readFile(f.file),
          imageType(f.file),
          f.label,
        ),
      );
      const vector = await gpuFeatures(ctx, f, featureSet).catch((error: Error) => error);
      if (vector instanceof Error) features.push({ ok: false, ms: 0, error: vector.message });
      else
        features.push(
          await timedClassify(
            ctx,
            `/v1/models/${alias}/classify`,
            vector,
            'application/octet-stream',
            f.label,
          ),
        );
      done++;
      if (!quiet && (done % 50 === 0 || done === files.length))
        process.stderr.write(`  classified ${done}/${files.length} test images through the edge\n`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    features: tally(features),
    image: { ...tally(images), fromCache: images.filter((r) => r.source === 'cache').length },
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
        // exactly the vectors just extracted (the backbone may have vectors of other weights too)
        featureSet: extraction.featureSet.id,
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
    classifyTestSet(ctx, options.alias, extraction.featureSet.id, tests, options.concurrency, quiet),
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
      `p50 ${formatNumber(r.latencyMs.p50)} ms  p90 ${formatNumber(r.latencyMs.p90)} ms  p99 ${formatNumber(r.latencyMs.p99)} ms`;
    const test = evaluation('test');
    const val = evaluation('validation');
    const last = run.epochs.at(-1);
    return [
      '',
      `edgehead demo: ${datasetName}, backbone ${options.backbone}, preset ${options.preset}`,
      `  images      ${ingested.accepted} new, ${ingested.duplicates} already there, ${ingested.rejected.length} rejected`,
      `  features    ${featureSetLabel(extraction.featureSet)}: ${extraction.done}/${extraction.total}`,
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
