import path from 'node:path';
import {
  featureSetLabel,
  headConfig,
  headPresetName,
  modelAlias,
  type RunEvaluation,
} from '@edgehead/contracts';
import { z } from 'zod';
import { defineCommand, flag, intFlag, numberFlag, type Values } from '../args.ts';
import { augmentFlag } from '../augment.ts';
import { systemOptions } from '../common-options.ts';
import { createContext, requireToken } from '../context.ts';
import { CliError } from '../errors.ts';
import { scanDataset } from '../ingest.ts';
import { emit, epochLine, formatDuration, formatNumber, table } from '../output.ts';
import { classifyTestSet, type PathResult } from './demo-classify.ts';
import { describeFineTune, startFineTune } from './finetune.ts';
import { extractBothAndWait, ingestTree, publishRun, startAndFollow, weightsArg } from './gpu.ts';

const demoOptions = {
  ...systemOptions,
  data: flag('--data <dir>', 'the split/class/file folder of the dataset', z.string().min(1)),
  backbone: flag(
    '-b, --backbone <name>',
    'backbone of the feature set, e.g. mobilenet_v1_0.75+avg',
    z.string().min(1),
  ),
  weights: flag('--weights <path|url>', 'weights of the backbone', z.string().min(1).optional(), {
    fallback: "the gpu service's EDGEHEAD_WEIGHTS_<BACKBONE>",
  }),
  dataset: flag('--dataset <name>', 'the dataset name', z.string().min(1).optional(), {
    fallback: "the folder's name",
  }),
  preset: flag('--preset <name>', 'hyperparameters of the head', headPresetName, {
    default: 'keras-vgg16-feature-extraction',
  }),
  epochs: flag('--epochs <n>', 'epochs', numberFlag(headConfig.shape.epochs).optional(), {
    fallback: "the preset's",
  }),
  augment: flag(
    '--augment [key=value,...]',
    'train on an augmented feature set: k seeded copies of every training image (e.g. copies=10 or ' +
      'preset=edgehead-light)',
    augmentFlag,
    { fallback: 'no augmentation; the flag alone: preset keras-vgg16-augmentation (5 copies)' },
  ),
  alias: flag('--alias <alias>', 'the alias to publish under', modelAlias, { default: 'demo' }),
  concurrency: flag(
    '--concurrency <n>',
    'classify-image requests in flight (each a batch of up to 32 images)',
    intFlag(1, 64),
    { default: 4 },
  ),
  // the edge's per-key limit: KEY_LIMITER in apps/edge/wrangler.jsonc
  rateLimit: flag('--rate-limit <n>', 'requests per minute the API key may send', intFlag(1), {
    default: 600,
  }),
  limit: flag('--limit <n>', 'classify only the first N test images', intFlag(1).optional(), {
    fallback: 'all',
  }),
  finetune: flag(
    '--finetune',
    "after the head, fine-tune the backbone's top with it and publish that head instead",
    z.boolean().default(false),
  ),
  unfreeze: flag(
    '--unfreeze <layers>',
    'with --finetune: comma-separated layers or presets to train',
    z.string().min(1).optional(),
    { fallback: 'block5 for vgg16, last-block for the mobilenets' },
  ),
  // the recipe's 100 epochs take about 3 h on 2 cores (115 s per MobileNet v1 epoch, training README)
  finetuneEpochs: flag(
    '--finetune-epochs <n>',
    "with --finetune: epochs of fine-tuning (the recipe's are 100)",
    numberFlag(headConfig.shape.epochs),
    { default: 10 },
  ),
  finetuneLr: flag(
    '--finetune-lr <x>',
    'with --finetune: learning rate of fine-tuning',
    numberFlag(headConfig.shape.learningRate).optional(),
    { fallback: "the recipe's 1e-5" },
  ),
};

/** The layers `demo --finetune` unfreezes by default: the recipe's block5 of VGG16, else the last block. */
function defaultUnfreeze(backbone: string): string {
  return backbone.startsWith('vgg16') ? 'block5' : 'last-block';
}

/** `edgehead demo`: the Keras feature-extraction recipe end to end against a running system. */
export const demo = defineCommand({
  name: 'demo',
  summary: 'the Keras feature-extraction recipe end to end: ingest, extract, train, publish, classify',
  description:
    'Against a running system (`edgehead up`): creates the dataset from <data> (split/class/file), uploads ' +
    'it, extracts the features, trains the preset, evaluates, publishes the head to the edge as --alias, ' +
    'classifies every test image through the edge twice (by its precomputed features, in batches of up to ' +
    '256 vectors, and by the images themselves, in multipart batches of 32, --concurrency requests at a ' +
    "time) within the API key's --rate-limit, and prints the " +
    'accuracy of both paths, the edge latency percentiles and the time of each stage. With --augment, the ' +
    'head trains on an augmented feature set (seeded copies of the training images) and is evaluated on ' +
    'the plain validation and test vectors.',
  options: demoOptions,
  examples: [
    'edgehead demo --data ../shared/datasets/cats_and_dogs_small --backbone mobilenet_v1_0.75+avg \\\n' +
      '    --weights ../shared/models/mobilenet_v1_0.75_224',
    'edgehead demo --data ../shared/datasets/cats_and_dogs_small --backbone mobilenet_v1_0.75+avg --augment copies=3',
    'edgehead demo --data ../shared/datasets/cats_and_dogs_small --backbone mobilenet_v1_0.75+avg \\\n' +
      '    --weights ../shared/models/mobilenet_v1_0.75_224 --finetune --finetune-epochs 10',
  ],
  run: runDemo,
});

/** Runs the demo's stages in order and prints the report. */
async function runDemo(options: Values<typeof demoOptions>): Promise<number> {
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
  const extracted = await stage('extract', () =>
    extractBothAndWait(
      ctx,
      ingested.datasetId,
      {
        backbone: options.backbone,
        ...(options.weights ? { weights: weightsArg(options.weights) } : {}),
        ...(options.augment ? { augment: options.augment } : {}),
      },
      quiet,
    ),
  );
  // the head trains on the augmented set when asked; it classifies plain features (the edge's paths)
  const extraction = extracted.plain;
  const trainedOn = extracted.progress;
  const run = await stage('train', () =>
    startAndFollow(
      ctx,
      {
        dataset: ingested.datasetId,
        // exactly the vectors just extracted (the backbone may have vectors of other weights too)
        featureSet: trainedOn.featureSet.id,
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
  const tuned = options.finetune
    ? await stage('fine-tune', () =>
        startFineTune(
          ctx,
          {
            kind: 'finetune',
            fromRun: run.run.id,
            unfreeze: (options.unfreeze ?? defaultUnfreeze(options.backbone)).split(',').map((l) => l.trim()),
            epochs: options.finetuneEpochs,
            ...(options.finetuneLr ? { learningRate: options.finetuneLr } : {}),
          },
          quiet,
        ),
      )
    : null;
  if (tuned && tuned.run.status !== 'succeeded')
    throw new CliError('failed', `fine-tuning ${describeFineTune(tuned)}`);
  // the edge serves the fine-tuned head when there is one: its image path then asks for the tuned features
  const served = tuned ?? run;
  const servedFeatureSet = tuned?.run.outputFeatureSetId ?? extraction.featureSet.id;
  const published = await stage('publish', () => publishRun(ctx, served.run.id, options.alias, true));
  const { files } = await scanDataset(dataDir);
  const tests = files.filter((f) => f.split === 'test').slice(0, options.limit ?? Number.POSITIVE_INFINITY);
  const edge = await stage('classify at the edge', () =>
    classifyTestSet(ctx, options.alias, servedFeatureSet, tests, {
      concurrency: options.concurrency,
      ratePerMinute: options.rateLimit,
      quiet,
    }),
  );

  const evaluationOf = (d: typeof run, split: string) =>
    d.evaluations.find((e: RunEvaluation) => e.split === split) ?? null;
  const evaluation = (split: string) => evaluationOf(run, split);
  const accuracyOf = (e: RunEvaluation | null) => (e ? formatNumber(e.accuracy) : '-');
  const report = {
    dataset: {
      id: ingested.datasetId,
      name: datasetName,
      accepted: ingested.accepted,
      duplicates: ingested.duplicates,
      rejected: ingested.rejected.length,
    },
    features: extraction,
    ...(options.augment ? { augmented: trainedOn } : {}),
    run: {
      id: run.run.id,
      preset: options.preset,
      epochs: run.epochs,
      evaluation: { validation: evaluation('validation'), test: evaluation('test') },
    },
    finetune: tuned && {
      id: tuned.run.id,
      featureSet: tuned.run.outputFeatureSetId,
      epochs: tuned.epochs,
      evaluation: { validation: evaluationOf(tuned, 'validation'), test: evaluationOf(tuned, 'test') },
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
      `  features    ${featureSetLabel(extraction.featureSet)}: ${extraction.done}/${extraction.total}`,
      ...(options.augment
        ? [
            `  augmented   ${featureSetLabel(trainedOn.featureSet)} (${trainedOn.featureSet.id}): ${trainedOn.featureSet.provenance?.params.copies} copies of ${trainedOn.done} training images`,
          ]
        : []),
      `  training    run ${run.run.id}, ${run.epochs.length} epochs${last ? `; last ${epochLine(last)}` : ''}`,
      `  evaluation  validation accuracy ${val ? formatNumber(val.accuracy) : '-'}, test accuracy ${test ? formatNumber(test.accuracy) : '-'} (f1 ${test ? formatNumber(test.f1) : '-'}, roc auc ${test?.rocAuc === null || !test ? '-' : formatNumber(test.rocAuc)})`,
      ...(tuned
        ? [
            `  fine-tuned  run ${tuned.run.id}, ${tuned.epochs.length} epochs, feature set ${tuned.run.outputFeatureSetId}`,
            `  evaluation  validation accuracy ${accuracyOf(evaluationOf(tuned, 'validation'))}, test accuracy ${accuracyOf(evaluationOf(tuned, 'test'))} (fine-tuned)`,
          ]
        : []),
      `  published   ${published.alias} ${published.version}${tuned ? ' (the fine-tuned head)' : ''}`,
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
