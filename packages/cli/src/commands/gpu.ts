import path from 'node:path';
import {
  type AugmentationRequest,
  type CreateRunRequest,
  type EpochMetrics,
  type ExtractionProgress,
  featureSetLabel,
  type HeadRunRequest,
  headConfig,
  headPresetName,
  modelAlias,
  pooling,
  RUNS_MAX_PAGE_SIZE,
  type RunDetailResponse,
} from '@edgehead/contracts';
import { z } from 'zod';
import { type CommandGroup, defineCommand, flag, intFlag, numberFlag, type Values } from '../args.ts';
import { augmentFlag } from '../augment.ts';
import { type CommonOptions, classifyOptions, gpuOptions } from '../common-options.ts';
import { type Context, createContext, requireToken } from '../context.ts';
import { CliError } from '../errors.ts';
import { type GpuClient, ok } from '../http.ts';
import { type IngestResult, scanDataset, uploadFiles } from '../ingest.ts';
import { emit, epochLine, formatDuration, formatNumber, Progress, table } from '../output.ts';
import { resolveDatasetId } from './datasets.ts';
import { EXTRACTION_COLUMNS, extractionRow } from './extractions.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a polling request, retrying while the service is unreachable for up to `patienceMs`: a busy
 * service (training in its main thread) may drop a poll without anything being wrong.
 */
export async function patiently<T>(request: () => Promise<T>, patienceMs = 120_000): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof CliError) || error.code !== 'unreachable' || Date.now() > deadline) throw error;
      await sleep(1000);
    }
  }
}

/** A context for commands that write to the gpu service (its token required). */
export async function writeContext(options: CommonOptions): Promise<Context> {
  const ctx = await createContext(options);
  requireToken(ctx.endpoints.gpuToken, 'gpu service token', '--gpu-token', 'EDGEHEAD_GPU_TOKEN');
  return ctx;
}

/** The dataset named/identified by `ref`, created with `classes` when `create` and it does not exist. */
export async function ensureDataset(
  gpu: GpuClient,
  ref: string,
  classes: string[],
): Promise<{ id: string; created: boolean }> {
  try {
    return { id: await resolveDatasetId(gpu, ref), created: false };
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'usage') throw error;
  }
  const created = await ok(gpu.v1.datasets.$post({ json: { name: ref, classes } }));
  return { id: created.id, created: true };
}

/** Uploads a `split/class/file` tree with a progress bar; used by `ingest` and `demo`. */
export async function ingestTree(
  ctx: Context,
  dir: string,
  dataset: string,
  quiet = false,
): Promise<IngestResult & { datasetId: string }> {
  const { files, classes } = await scanDataset(dir);
  if (files.length === 0) throw new CliError('usage', `${dir}: no files under split/class/ folders`);
  const { id, created } = await ensureDataset(ctx.gpu, dataset, classes);
  const log = (line: string) => !quiet && process.stderr.write(`${line}\n`);
  log(
    `${created ? 'created' : 'using'} dataset ${dataset} (${id}); uploading ${files.length} files (${classes.join(', ')})`,
  );
  const progress = quiet ? null : new Progress(process.stderr, files.length);
  const result = await uploadFiles(ctx.gpu, id, files, {
    onProgress: (done, r) => progress?.update(done, r.rejected.length ? `${r.rejected.length} rejected` : ''),
  });
  progress?.finish();
  return { ...result, datasetId: id };
}

/** `edgehead ingest <dir> [--dataset <id|name>]`. */
export const ingest = defineCommand({
  name: 'ingest',
  summary: 'upload a split/class/file tree (creates the dataset when missing)',
  description:
    'Uploads every image under <dir>/<split>/<class>/ (split: train, validation, test) in multipart batches, ' +
    'with a progress bar; duplicates are skipped, rejected files listed at the end. Creates the dataset, with ' +
    'the class folders as its classes, when it does not exist. Exits 1 when every file was rejected.',
  arguments: [['<dir>', 'the folder holding train/, validation/ and test/']],
  options: {
    ...gpuOptions,
    dataset: flag('-d, --dataset <id|name>', 'the dataset to upload into', z.string().min(1).optional(), {
      fallback: "the folder's name",
    }),
  },
  examples: ['edgehead ingest ./cats_and_dogs_small --dataset cats-vs-dogs'],
  async run(options, [dir]) {
    const folder = dir as string;
    const ctx = await writeContext(options);
    const result = await ingestTree(
      ctx,
      folder,
      options.dataset ?? path.basename(path.resolve(folder)),
      ctx.json,
    );
    emit(ctx.json, result, () => {
      const lines = [
        `${result.accepted} accepted, ${result.duplicates} duplicates, ${result.rejected.length} rejected of ${result.files} files in ${formatDuration(result.ms)} (${((result.files * 1000) / Math.max(1, result.ms)).toFixed(1)} files/s)`,
      ];
      for (const r of result.rejected) lines.push(`  rejected ${r.name}: ${r.reason}: ${r.message}`);
      return lines.join('\n');
    });
    return result.rejected.length > 0 && result.accepted + result.duplicates === 0 ? 1 : 0;
  },
});

/** What `extract` sends: the feature set, and with `augment` an augmented feature set of it too. */
export interface ExtractBody {
  backbone?: string;
  weights?: string;
  pooling?: 'none' | 'avg';
  augment?: AugmentationRequest;
}

/**
 * Starts (or joins) an extraction and waits for it, reporting progress; used by `extract` and `demo`.
 * A failed or cancelled extraction, or one whose batches gave up, ends with its reason. An extraction that
 * goes idle with nothing failed has images that came after its batches (an upload meanwhile): they are
 * asked for once more, which queues just those. With `augment`, the plain extraction is followed first,
 * then the augmented one (the answer).
 */
export async function extractAndWait(
  ctx: Context,
  datasetId: string,
  body: ExtractBody,
  quiet = false,
): Promise<ExtractionProgress> {
  return (await extractBothAndWait(ctx, datasetId, body, quiet)).progress;
}

/** `extractAndWait` answering both extractions: `plain` is `progress` itself without `augment`. */
export async function extractBothAndWait(
  ctx: Context,
  datasetId: string,
  body: ExtractBody,
  quiet = false,
): Promise<{ progress: ExtractionProgress; plain: ExtractionProgress }> {
  const post = () => ok(ctx.gpu.v1.datasets[':id'].extract.$post({ param: { id: datasetId }, json: body }));
  const queued = await post();
  if (!quiet) {
    process.stderr.write(`${queued.queuedImages} images queued now in ${queued.queuedJobs} batches\n`);
  }
  const plain = queued.base
    ? await follow(ctx, datasetId, queued.base, quiet, async () => {
        const again = await post();
        return { queuedImages: again.queuedImages, progress: again.base ?? again.progress };
      })
    : null;
  const progress = await follow(ctx, datasetId, queued.progress, quiet, post);
  return { progress, plain: plain ?? progress };
}

/** Polls one extraction to its end; `askAgain` posts the request again (for an extraction gone idle). */
async function follow(
  ctx: Context,
  datasetId: string,
  start: ExtractionProgress,
  quiet: boolean,
  askAgain: () => Promise<{ queuedImages: number; progress: ExtractionProgress }>,
): Promise<ExtractionProgress> {
  let progress = start;
  const label = featureSetLabel(progress.featureSet);
  if (!quiet) {
    process.stderr.write(`extraction ${progress.id} of ${label}: ${progress.done}/${progress.total} done\n`);
  }
  const bar = quiet ? null : new Progress(process.stderr, Math.max(progress.total, 1), 5000, 'images');
  while (progress.state !== 'done') {
    if (progress.state === 'idle' && !progress.error) {
      const again = await askAgain();
      progress = again.progress;
      if (again.queuedImages > 0 || progress.state !== 'idle') continue;
    }
    if (progress.state === 'failed' || progress.state === 'cancelled' || progress.state === 'idle') {
      bar?.finish();
      throw new CliError(
        'failed',
        `extraction ${progress.id} of ${label} ${progress.state === 'idle' ? 'stopped' : progress.state}` +
          `${progress.error ? `: ${progress.error}` : ''} (${progress.done}/${progress.total} done)`,
      );
    }
    bar?.update(
      progress.done,
      progress.etaSeconds === null ? '' : `eta ${formatDuration(progress.etaSeconds * 1000)}`,
    );
    await sleep(1000);
    const id = progress.id;
    progress = await patiently(() =>
      ok(ctx.gpu.v1.datasets[':id'].extract.$get({ param: { id: datasetId }, query: { extraction: id } })),
    );
  }
  bar?.update(progress.done);
  bar?.finish();
  return progress;
}

/**
 * `edgehead extract --dataset <d> --backbone <name> [--weights <path|url>] [--pooling avg] [--no-wait]`;
 * `--cancel` stops the dataset's running extractions (of that backbone when given), `--list` shows them.
 */
export const extract = defineCommand({
  name: 'extract',
  summary: 'compute the feature vectors of a dataset (start, or join, an extraction and follow it)',
  description:
    'Starts the extraction of a feature set (a backbone with its weights, pooling and preprocessing) for ' +
    'every image of a dataset, or joins the one running, and follows it: state, done/total, images/s, ETA. ' +
    "A failed extraction ends with its reason (exit 1). With --cancel, stops the dataset's running " +
    'extractions (queued batches are dropped, stored vectors kept); with --list, lists every extraction.',
  options: {
    ...gpuOptions,
    dataset: flag(
      '-d, --dataset <id|name>',
      'the dataset (optional with --list)',
      z.string().min(1).optional(),
    ),
    backbone: flag(
      '-b, --backbone <name>',
      'backbone of the feature set, e.g. vgg16, mobilenet_v1_0.75+avg (with --cancel: only its extractions)',
      z.string().min(1).optional(),
      { fallback: "the gpu service's EDGEHEAD_DEFAULT_BACKBONE" },
    ),
    weights: flag(
      '--weights <path|url>',
      'weights of the backbone: a Keras .h5/.weights.h5/.keras file, a TF.js folder or an https URL',
      z.string().min(1).optional(),
      { fallback: "the gpu service's EDGEHEAD_WEIGHTS_<BACKBONE>" },
    ),
    pooling: flag('--pooling <pooling>', 'pooling over the feature map', pooling.optional(), {
      fallback: 'none, or the +avg of --backbone',
    }),
    augment: flag(
      '--augment [key=value,...]',
      'also extract k seeded augmented copies of every training image (validation/test never), e.g. ' +
        'copies=5,seed=1 or preset=edgehead-light; keys: preset (keras-vgg16-augmentation, edgehead-light), ' +
        'copies (1-50), seed, rotation, widthShift, heightShift, shear, zoom, horizontalFlip, fillMode',
      augmentFlag,
      { fallback: 'no augmentation; the flag alone: preset keras-vgg16-augmentation (5 copies, seed 0)' },
    ),
    wait: flag('--no-wait', 'queue the extraction and return without following it', z.boolean()),
    cancel: flag('--cancel', "cancel the dataset's running extractions", z.boolean().default(false)),
    list: flag('--list', 'list the extractions (of --dataset when given)', z.boolean().default(false)),
  },
  examples: [
    'edgehead extract --dataset cats-vs-dogs --backbone mobilenet_v1_0.75+avg --weights ./mobilenet_v1_0.75_224',
    'edgehead extract --dataset cats-vs-dogs --backbone mobilenet_v1_0.75+avg --augment copies=5,seed=1',
    'edgehead extract --list',
    'edgehead extract --dataset cats-vs-dogs --cancel',
  ],
  async run(options) {
    if (options.list) {
      const ctx = await createContext(options);
      const dataset = options.dataset ? await resolveDatasetId(ctx.gpu, options.dataset) : undefined;
      const answer = await ok(ctx.gpu.v1.extractions.$get({ query: { dataset } }));
      emit(ctx.json, answer, () =>
        answer.extractions.length === 0
          ? 'no extractions yet: `edgehead extract --dataset <d> --backbone <name>`'
          : table(answer.extractions.map(extractionRow), EXTRACTION_COLUMNS),
      );
      return 0;
    }
    if (!options.dataset) throw new CliError('usage', 'extract: --dataset is required (except with --list)');
    const ctx = await writeContext(options);
    const id = await resolveDatasetId(ctx.gpu, options.dataset);
    if (options.cancel) {
      const filter = {
        ...(options.backbone ? { backbone: options.backbone } : {}),
        ...(options.pooling ? { pooling: options.pooling } : {}),
      };
      const answer = await ok(
        ctx.gpu.v1.datasets[':id'].extract.cancel.$post({ param: { id }, json: filter }),
      );
      emit(ctx.json, answer, () =>
        answer.cancelled.length === 0
          ? 'no running extraction to cancel'
          : [
              `cancelled ${answer.cancelled.length} extraction(s), dropped ${answer.droppedJobs} queued batch(es); stored vectors are kept`,
              table(answer.cancelled.map(extractionRow), EXTRACTION_COLUMNS),
            ].join('\n'),
      );
      return 0;
    }
    const body = {
      ...(options.backbone ? { backbone: options.backbone } : {}),
      ...(options.weights ? { weights: weightsArg(options.weights) } : {}),
      ...(options.pooling ? { pooling: options.pooling } : {}),
      ...(options.augment ? { augment: options.augment } : {}),
    };
    if (!options.wait) {
      const queued = await ok(ctx.gpu.v1.datasets[':id'].extract.$post({ param: { id }, json: body }));
      emit(
        ctx.json,
        queued,
        () =>
          `extraction ${queued.progress.id} of ${featureSetLabel(queued.progress.featureSet)}: queued ${queued.queuedImages} images in ${queued.queuedJobs} batches`,
      );
      return 0;
    }
    const started = Date.now();
    const { progress: done, plain } = await extractBothAndWait(ctx, id, body, ctx.json);
    const line = (p: ExtractionProgress, what: string) =>
      `${what} ${featureSetLabel(p.featureSet)} (feature set ${p.featureSet.id}): ${p.done}/${p.total} images${p.failed ? `, ${p.failed} failed` : ''}`;
    emit(ctx.json, options.augment ? { ...done, base: plain } : done, () =>
      [
        ...(options.augment ? [line(plain, 'features')] : []),
        `${line(done, options.augment ? `augmented (${done.featureSet.provenance?.params.copies} copies of each training image)` : 'features')} in ${formatDuration(Date.now() - started)}`,
        ...(options.augment
          ? [`train on them: edgehead train --dataset ${options.dataset} --feature-set ${done.featureSet.id}`]
          : []),
      ].join('\n'),
    );
    return 0;
  },
});

/** Local paths are sent absolute (the gpu service runs elsewhere in the tree); URLs unchanged. */
export function weightsArg(weights: string): string {
  return /^https?:\/\//.test(weights) ? weights : path.resolve(weights);
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Polls a run and calls `onEpoch` once per new epoch until it ends; resolves with the final detail. */
export async function followRun(
  gpu: GpuClient,
  id: string,
  onEpoch: (m: EpochMetrics, detail: RunDetailResponse) => void,
  everyMs = 500,
): Promise<RunDetailResponse> {
  let seen = 0;
  for (;;) {
    const detail = await patiently(() => ok(gpu.v1.runs[':id'].$get({ param: { id } })));
    for (const m of detail.epochs.slice(seen)) onEpoch(m, detail);
    seen = Math.max(seen, detail.epochs.length);
    if (TERMINAL.has(detail.run.status)) return detail;
    await sleep(everyMs);
  }
}

const field = headConfig.shape;
const fromPreset = "the preset's";

const trainOptions = {
  ...gpuOptions,
  dataset: flag('-d, --dataset <id|name>', 'the dataset to train on', z.string().min(1)),
  backbone: flag(
    '-b, --backbone <name>',
    'train on the vectors of this backbone (a feature-set shorthand: <backbone>[+avg][@preprocessing])',
    z.string().min(1).optional(),
  ),
  featureSet: flag(
    '--feature-set <id>',
    'train on this feature set (instead of --backbone)',
    z.string().min(1).optional(),
  ),
  augmented: flag(
    '--augmented',
    'with --backbone: train on the most recent augmented feature set of that backbone (`extract --augment`)',
    z.boolean().default(false),
  ),
  preset: flag(
    '--preset <name>',
    'hyperparameters to start from; the options below override them',
    headPresetName.optional(),
    { fallback: 'edgehead-default' },
  ),
  epochs: flag('--epochs <n>', 'epochs', numberFlag(field.epochs).optional(), { fallback: fromPreset }),
  batchSize: flag('--batch-size <n>', 'batch size', numberFlag(field.batchSize).optional(), {
    fallback: fromPreset,
  }),
  learningRate: flag('--learning-rate <x>', 'learning rate', numberFlag(field.learningRate).optional(), {
    fallback: fromPreset,
  }),
  optimizer: flag('--optimizer <name>', 'optimizer', field.optimizer.optional(), { fallback: fromPreset }),
  hiddenUnits: flag(
    '--hidden-units <n>',
    'units of the hidden Dense(relu) layer; 0: none',
    numberFlag(field.hiddenUnits).optional(),
    { fallback: fromPreset },
  ),
  dropout: flag(
    '--dropout <x>',
    'dropout rate after the hidden layer',
    numberFlag(field.dropout).optional(),
    { fallback: fromPreset },
  ),
  pooling: flag('--pooling <pooling>', 'how the head reads [h, w, c] features', field.pooling.optional(), {
    fallback: fromPreset,
  }),
  seed: flag('--seed <n>', 'seed of initializers, shuffling and dropout', numberFlag(field.seed).optional(), {
    fallback: fromPreset,
  }),
  threshold: flag(
    '--threshold <rule>',
    'how the binary threshold is chosen on validation data',
    field.threshold.optional(),
    { fallback: fromPreset },
  ),
  wait: flag('--no-wait', 'queue the run and return without following it', z.boolean()),
};

/** The head-config fields of `POST /v1/runs` that `train` takes as options. */
const RUN_FIELDS = [
  'dataset',
  'backbone',
  'featureSet',
  'preset',
  'epochs',
  'batchSize',
  'learningRate',
  'optimizer',
  'hiddenUnits',
  'dropout',
  'pooling',
  'seed',
  'threshold',
] as const;

/** The `POST /v1/runs` body of the train options (only those given). */
export function trainBody(o: Values<typeof trainOptions>): HeadRunRequest {
  if (!o.backbone && !o.featureSet)
    throw new CliError('usage', 'train: pass --backbone <name> or --feature-set <id>');
  const given = RUN_FIELDS.flatMap((key): [string, unknown][] =>
    o[key] === undefined ? [] : [[key, o[key]]],
  );
  return Object.fromEntries(given) as HeadRunRequest;
}

/** Starts a run and (unless `--no-wait`) prints one line per epoch as it happens, then the evaluation. */
export async function startAndFollow(
  ctx: Context,
  body: CreateRunRequest,
  quiet: boolean,
): Promise<RunDetailResponse> {
  const { id } = await ok(ctx.gpu.v1.runs.$post({ json: body }));
  if (!quiet) process.stderr.write(`run ${id} queued\n`);
  return followRun(ctx.gpu, id, (m, d) => {
    if (!quiet) process.stdout.write(`${epochLine(m, d.run.epochsTotal || undefined)}\n`);
  });
}

/** `edgehead train --dataset <d> --backbone <b> | --feature-set <id> [--preset P] [--epochs N] ...`. */
export const train = defineCommand({
  name: 'train',
  summary: 'train a head on stored vectors; one line per epoch as it happens, then the evaluation',
  description:
    'Trains a dense head on the vectors of one feature set of a dataset (extract them first), printing one ' +
    'line per epoch as it happens and then the evaluation on the validation and test splits. Exits 1 when ' +
    'the run fails or is cancelled.',
  options: trainOptions,
  examples: [
    'edgehead train --dataset cats-vs-dogs --backbone mobilenet_v1_0.75+avg',
    'edgehead train --dataset cats-vs-dogs --backbone vgg16 --preset keras-vgg16-feature-extraction --epochs 10',
    'edgehead train --dataset cats-vs-dogs --backbone mobilenet_v1_0.75+avg --augmented',
  ],
  async run(options) {
    const ctx = await writeContext(options);
    const body = options.augmented
      ? await withAugmentedFeatureSet(ctx, trainBody(options))
      : trainBody(options);
    if (!options.wait) {
      const started = await ok(ctx.gpu.v1.runs.$post({ json: body }));
      emit(ctx.json, started, () => `queued run ${started.id}`);
      return 0;
    }
    const detail = await startAndFollow(ctx, body, ctx.json);
    emit(ctx.json, detail, () => describeRun(detail));
    return detail.run.status === 'succeeded' ? 0 : 1;
  },
});

/**
 * The run body on the dataset's most recently extracted augmented feature set of `--backbone` (its
 * backbone, pooling and preprocessing as the shorthand gives them); a `--feature-set` id is kept as given.
 */
async function withAugmentedFeatureSet(ctx: Context, body: HeadRunRequest): Promise<HeadRunRequest> {
  if (body.featureSet !== undefined) return body;
  const shorthand = body.backbone as string;
  const [name = shorthand, pre] = shorthand.split('@');
  const [backbone, pooled] = name.split('+');
  const dataset = await resolveDatasetId(ctx.gpu, body.dataset);
  const { extractions } = await ok(ctx.gpu.v1.extractions.$get({ query: { dataset } }));
  const found = extractions.find(
    (e) =>
      e.featureSet.provenance?.kind === 'augmented' &&
      e.featureSet.backbone === backbone &&
      e.featureSet.pooling === (pooled === 'avg' ? 'avg' : 'none') &&
      (pre === undefined || e.featureSet.preprocessing === pre),
  );
  if (!found) {
    throw new CliError(
      'usage',
      `train --augmented: dataset '${body.dataset}' has no augmented feature set of ${shorthand}; ` +
        `extract one first: edgehead extract --dataset ${body.dataset} --backbone ${shorthand} --augment copies=5`,
    );
  }
  const { backbone: _named, ...rest } = body;
  return { ...rest, featureSet: found.featureSet.id };
}

/** A run's detail as text: status, config, evaluation per split, registered model. */
export function describeRun(d: RunDetailResponse): string {
  const r = d.run;
  const lines = [
    `run ${r.id}: ${r.status}${r.error ? ` (${r.error})` : ''}`,
    `  dataset ${d.dataset?.name ?? r.datasetId}, features ${r.featureSet}, ${r.kind === 'finetune' ? `fine-tuning of run ${r.fromRunId}` : `preset ${r.preset ?? '-'}`}, backend ${r.backend ?? '-'}`,
    `  epochs ${d.epochs.length}/${r.epochsTotal}`,
  ];
  const last = d.epochs.at(-1);
  if (last) lines.push(`  last  ${epochLine(last)}`);
  if (d.evaluations.length > 0) {
    lines.push(
      table(
        d.evaluations.map((e) => ({ ...e, rocAuc: e.rocAuc })),
        ['split', 'n', 'accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'threshold'],
      )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  if (d.model) lines.push(`  model ${d.model.name} v${d.model.version} (${d.model.id})`);
  return lines.join('\n');
}

/** `edgehead runs list [--dataset <d>] [--limit N]`. */
export const runsList = defineCommand({
  name: 'list',
  summary: 'list the training runs, newest first',
  options: {
    ...gpuOptions,
    dataset: flag('-d, --dataset <id|name>', 'only the runs of this dataset', z.string().optional()),
    limit: flag('--limit <n>', 'at most this many runs', intFlag(1, RUNS_MAX_PAGE_SIZE), { default: 50 }),
  },
  async run(options) {
    const ctx = await createContext(options);
    const dataset = options.dataset ? await resolveDatasetId(ctx.gpu, options.dataset) : undefined;
    const list = await ok(ctx.gpu.v1.runs.$get({ query: { dataset, pageSize: String(options.limit) } }));
    emit(ctx.json, list, () =>
      list.items.length === 0
        ? 'no runs yet: `edgehead train --dataset <d> --backbone <b>`'
        : table(
            list.items.map((r) => ({
              ...r,
              epochs: `${r.epochsDone}/${r.epochsTotal}`,
              duration: r.durationMs === null ? null : formatDuration(r.durationMs),
            })),
            [
              'id',
              'datasetName',
              'featureSet',
              'preset',
              'status',
              'epochs',
              'bestValAccuracy',
              'testAccuracy',
              'duration',
              'createdAt',
            ],
          ),
    );
    return 0;
  },
});

/** `edgehead runs show <id>`. */
export const runsShow = defineCommand({
  name: 'show',
  summary: 'one run: config, every epoch, the evaluation, its model',
  arguments: [['<id>', 'the run id']],
  options: gpuOptions,
  async run(options, [id]) {
    const ctx = await createContext(options);
    const detail = await ok(ctx.gpu.v1.runs[':id'].$get({ param: { id: id as string } }));
    emit(ctx.json, detail, () =>
      [describeRun(detail), ...detail.epochs.map((m) => `  ${epochLine(m, detail.run.epochsTotal)}`)].join(
        '\n',
      ),
    );
    return 0;
  },
});

/** `edgehead runs compare <a> <b>`. */
export const runsCompare = defineCommand({
  name: 'compare',
  summary: 'two runs side by side: the config fields that differ, then their metrics',
  arguments: [
    ['<a>', 'a run id'],
    ['<b>', 'another run id'],
  ],
  options: gpuOptions,
  async run(options, ids) {
    const ctx = await createContext(options);
    const [a, b] = await Promise.all(ids.map((id) => ok(ctx.gpu.v1.runs[':id'].$get({ param: { id } }))));
    const rows = compareRuns(a as RunDetailResponse, b as RunDetailResponse);
    emit(ctx.json, { a, b, rows }, () => table(rows, ['field', 'a', 'b']));
    return 0;
  },
});

/** `edgehead runs list|show|compare`. */
export const runs: CommandGroup = {
  name: 'runs',
  summary: 'list training runs, show one, or compare two',
  commands: [runsList, runsShow, runsCompare],
};

/** Side-by-side rows of two runs: config fields that differ, then outcome metrics. */
export function compareRuns(
  a: RunDetailResponse,
  b: RunDetailResponse,
): { field: string; a: string; b: string }[] {
  const show = (v: unknown) =>
    v === undefined || v === null
      ? '-'
      : typeof v === 'number'
        ? formatNumber(v)
        : typeof v === 'object'
          ? JSON.stringify(v)
          : String(v);
  const rows: { field: string; a: string; b: string }[] = [
    { field: 'id', a: a.run.id, b: b.run.id },
    { field: 'status', a: a.run.status, b: b.run.status },
    { field: 'featureSet', a: a.run.featureSet, b: b.run.featureSet },
    { field: 'preset', a: show(a.run.preset), b: show(b.run.preset) },
  ];
  const keys = [...new Set([...Object.keys(a.run.config), ...Object.keys(b.run.config)])].sort();
  for (const k of keys) {
    const va = show(a.run.config[k]);
    const vb = show(b.run.config[k]);
    if (va !== vb) rows.push({ field: `config.${k}`, a: va, b: vb });
  }
  const best = (d: RunDetailResponse) =>
    Math.max(...d.epochs.map((e) => e.valAccuracy ?? Number.NEGATIVE_INFINITY));
  rows.push({ field: 'epochs', a: String(a.epochs.length), b: String(b.epochs.length) });
  rows.push({
    field: 'best val_accuracy',
    a: show(Number.isFinite(best(a)) ? best(a) : null),
    b: show(Number.isFinite(best(b)) ? best(b) : null),
  });
  for (const split of ['validation', 'test'] as const) {
    for (const metric of ['accuracy', 'f1', 'rocAuc'] as const) {
      const va = a.evaluations.find((e) => e.split === split)?.[metric];
      const vb = b.evaluations.find((e) => e.split === split)?.[metric];
      if (va !== undefined || vb !== undefined)
        rows.push({ field: `${split} ${metric}`, a: show(va), b: show(vb) });
    }
  }
  return rows;
}

/** Publishes the model of a run to the edge; used by `publish` and `demo`. */
export async function publishRun(ctx: Context, runId: string, alias: string, activate: boolean) {
  const detail = await ok(ctx.gpu.v1.runs[':id'].$get({ param: { id: runId } }));
  if (!detail.model) {
    throw new CliError(
      'failed',
      `run ${runId} has no model to publish (status ${detail.run.status}${detail.run.error ? `: ${detail.run.error}` : ''})`,
    );
  }
  return ok(
    ctx.gpu.v1.models[':id'].publish.$post({ param: { id: detail.model.id }, json: { alias, activate } }),
  );
}

/** `edgehead publish <run> --alias <alias> [--no-activate]`. */
export const publish = defineCommand({
  name: 'publish',
  summary: "publish a run's head to the edge under an alias",
  description:
    "Publishes the head a run trained to the edge (the gpu service uploads it through the edge's admin API) " +
    'as the next version of the alias, and activates it unless --no-activate.',
  arguments: [['<run>', 'the run id']],
  options: {
    ...gpuOptions,
    edgeUrl: classifyOptions.edgeUrl,
    alias: flag('-a, --alias <alias>', 'the alias to publish under', modelAlias),
    activate: flag('--no-activate', 'publish the version without making it the active one', z.boolean()),
  },
  examples: ['edgehead publish 5f0c... --alias cats-vs-dogs'],
  async run(options, [runId]) {
    const ctx = await writeContext(options);
    const answer = await publishRun(ctx, runId as string, options.alias, options.activate);
    emit(
      ctx.json,
      answer,
      () =>
        `published ${answer.alias} ${answer.version}${answer.active ? ' (active)' : ''}; classify at ${ctx.endpoints.edgeUrl}/v1/models/${answer.alias}/classify`,
    );
    return 0;
  },
});
