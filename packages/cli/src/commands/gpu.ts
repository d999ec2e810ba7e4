import path from 'node:path';
import {
  type CreateRunRequest,
  type EpochMetrics,
  type ExtractionProgress,
  featureSetLabel,
  headPresetName,
  type RunDetailResponse,
} from '@edgehead/contracts';
import { z } from 'zod';
import { commonSchema, intFlag, numberFlag, parseCommand } from '../args.ts';
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

async function writeContext(options: z.infer<typeof commonSchema>): Promise<Context> {
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

/** `edgehead ingest <dir> --dataset <id|name>`. */
export async function ingest(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(
    argv,
    { dataset: { type: 'string', short: 'd' } },
    commonSchema.extend({ dataset: z.string().min(1).optional() }),
    { min: 1, max: 1, usage: 'edgehead ingest <dir> --dataset <id|name>' },
  );
  const dir = positionals[0] as string;
  const ctx = await writeContext(options);
  const result = await ingestTree(ctx, dir, options.dataset ?? path.basename(path.resolve(dir)), ctx.json);
  emit(ctx.json, result, () => {
    const lines = [
      `${result.accepted} accepted, ${result.duplicates} duplicates, ${result.rejected.length} rejected of ${result.files} files in ${formatDuration(result.ms)} (${((result.files * 1000) / Math.max(1, result.ms)).toFixed(1)} files/s)`,
    ];
    for (const r of result.rejected) lines.push(`  rejected ${r.name}: ${r.reason}: ${r.message}`);
    return lines.join('\n');
  });
  return result.rejected.length > 0 && result.accepted + result.duplicates === 0 ? 1 : 0;
}

/**
 * Starts (or joins) an extraction and waits for it, reporting progress; used by `extract` and `demo`.
 * A failed or cancelled extraction, or one whose batches gave up, ends with its reason.
 */
export async function extractAndWait(
  ctx: Context,
  datasetId: string,
  body: { backbone?: string; weights?: string; pooling?: 'none' | 'avg' },
  quiet = false,
): Promise<ExtractionProgress> {
  const queued = await ok(ctx.gpu.v1.datasets[':id'].extract.$post({ param: { id: datasetId }, json: body }));
  let progress = queued.progress;
  const label = featureSetLabel(progress.featureSet);
  if (!quiet) {
    process.stderr.write(
      `extraction ${progress.id} of ${label}: ${queued.queuedImages} images queued now, ${progress.done}/${progress.total} done\n`,
    );
  }
  const bar = quiet ? null : new Progress(process.stderr, Math.max(progress.total, 1), 5000, 'images');
  while (progress.state !== 'done') {
    if (
      progress.state === 'failed' ||
      progress.state === 'cancelled' ||
      (progress.state === 'idle' && progress.error)
    ) {
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
    progress = await patiently(() =>
      ok(
        ctx.gpu.v1.datasets[':id'].extract.$get({
          param: { id: datasetId },
          query: { extraction: progress.id },
        }),
      ),
    );
  }
  bar?.update(progress.done);
  bar?.finish();
  return progress;
}

export const EXTRACT_USAGE =
  'edgehead extract --dataset <d> [--backbone <name>] [--weights <path|url>] [--pooling avg] [--no-wait] | ' +
  '--dataset <d> --cancel [--backbone <name>] | --list [--dataset <d>]';

/**
 * `edgehead extract --dataset <d> --backbone <name> [--weights <path|url>] [--pooling avg] [--no-wait]`;
 * `--cancel` stops the dataset's running extractions (of that backbone when given), `--list` shows them.
 */
export async function extract(argv: readonly string[]): Promise<number> {
  const { options } = parseCommand(
    argv,
    {
      dataset: { type: 'string', short: 'd' },
      backbone: { type: 'string', short: 'b' },
      weights: { type: 'string' },
      pooling: { type: 'string' },
      'no-wait': { type: 'boolean' },
      cancel: { type: 'boolean' },
      list: { type: 'boolean' },
    },
    commonSchema.extend({
      dataset: z.string().min(1).optional(),
      backbone: z.string().min(1).optional(),
      weights: z.string().min(1).optional(),
      pooling: z.enum(['none', 'avg']).optional(),
      'no-wait': z.boolean().default(false),
      cancel: z.boolean().default(false),
      list: z.boolean().default(false),
    }),
    { max: 0, usage: EXTRACT_USAGE },
  );
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
  if (!options.dataset) throw new CliError('usage', `extract: --dataset is required; ${EXTRACT_USAGE}`);
  const ctx = await writeContext(options);
  const id = await resolveDatasetId(ctx.gpu, options.dataset);
  if (options.cancel) {
    const filter = {
      ...(options.backbone ? { backbone: options.backbone } : {}),
      ...(options.pooling ? { pooling: options.pooling } : {}),
    };
    const answer = await ok(ctx.gpu.v1.datasets[':id'].extract.cancel.$post({ param: { id }, json: filter }));
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
  };
  if (options['no-wait']) {
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
  const done = await extractAndWait(ctx, id, body, ctx.json);
  emit(
    ctx.json,
    done,
    () =>
      `features ${featureSetLabel(done.featureSet)} (feature set ${done.featureSet.id}): ${done.done}/${done.total} images${done.failed ? `, ${done.failed} failed` : ''} in ${formatDuration(Date.now() - started)}`,
  );
  return 0;
}

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

const trainSpec = {
  dataset: { type: 'string', short: 'd' },
  backbone: { type: 'string', short: 'b' },
  'feature-set': { type: 'string' },
  preset: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  'learning-rate': { type: 'string' },
  optimizer: { type: 'string' },
  'hidden-units': { type: 'string' },
  dropout: { type: 'string' },
  pooling: { type: 'string' },
  seed: { type: 'string' },
  threshold: { type: 'string' },
  'no-wait': { type: 'boolean' },
} as const;

const trainSchema = commonSchema.extend({
  dataset: z.string().min(1),
  backbone: z.string().min(1).optional(),
  'feature-set': z.string().min(1).optional(),
  preset: headPresetName.optional(),
  epochs: intFlag(1, 10000).optional(),
  'batch-size': intFlag(1, 65536).optional(),
  'learning-rate': numberFlag.optional(),
  optimizer: z.enum(['rmsprop', 'adam', 'sgd']).optional(),
  'hidden-units': intFlag(0, 16384).optional(),
  dropout: numberFlag.optional(),
  pooling: z.enum(['flatten', 'avg']).optional(),
  seed: intFlag(0).optional(),
  threshold: z.enum(['fixed', 'accuracy', 'f1']).optional(),
  'no-wait': z.boolean().default(false),
});

/** The `POST /v1/runs` body of the train flags (only those given). */
export function trainBody(o: z.infer<typeof trainSchema>): CreateRunRequest {
  if (!o.backbone && !o['feature-set'])
    throw new CliError('usage', 'train: pass --backbone <name> or --feature-set <id>');
  const pick: [string, unknown][] = [
    ['dataset', o.dataset],
    ['backbone', o.backbone],
    ['featureSet', o['feature-set']],
    ['preset', o.preset],
    ['epochs', o.epochs],
    ['batchSize', o['batch-size']],
    ['learningRate', o['learning-rate']],
    ['optimizer', o.optimizer],
    ['hiddenUnits', o['hidden-units']],
    ['dropout', o.dropout],
    ['pooling', o.pooling],
    ['seed', o.seed],
    ['threshold', o.threshold],
  ];
  return Object.fromEntries(pick.filter(([, v]) => v !== undefined)) as CreateRunRequest;
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

/** `edgehead train --dataset <d> --backbone <b> [--preset P] [--epochs N] ...`. */
export async function train(argv: readonly string[]): Promise<number> {
  const { options } = parseCommand(argv, trainSpec, trainSchema, { max: 0 });
  const ctx = await writeContext(options);
  const body = trainBody(options);
  if (options['no-wait']) {
    const started = await ok(ctx.gpu.v1.runs.$post({ json: body }));
    emit(ctx.json, started, () => `queued run ${started.id}`);
    return 0;
  }
  const detail = await startAndFollow(ctx, body, ctx.json);
  emit(ctx.json, detail, () => describeRun(detail));
  return detail.run.status === 'succeeded' ? 0 : 1;
}

/** A run's detail as text: status, config, evaluation per split, registered model. */
export function describeRun(d: RunDetailResponse): string {
  const r = d.run;
  const lines = [
    `run ${r.id}: ${r.status}${r.error ? ` (${r.error})` : ''}`,
    `  dataset ${d.dataset?.name ?? r.datasetId}, features ${r.featureSet}, preset ${r.preset ?? '-'}, backend ${r.backend ?? '-'}`,
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

/** `edgehead runs list|show <id>|compare <a> <b>`. */
export async function runs(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'list') {
    const { options } = parseCommand(
      rest,
      { dataset: { type: 'string' }, limit: { type: 'string' } },
      commonSchema.extend({ dataset: z.string().optional(), limit: intFlag(1, 500).default(50) }),
      { max: 0 },
    );
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
  }
  if (sub === 'show') {
    const { options, positionals } = parseCommand(rest, {}, commonSchema, {
      min: 1,
      max: 1,
      usage: 'edgehead runs show <id>',
    });
    const ctx = await createContext(options);
    const detail = await ok(ctx.gpu.v1.runs[':id'].$get({ param: { id: positionals[0] as string } }));
    emit(ctx.json, detail, () =>
      [describeRun(detail), ...detail.epochs.map((m) => `  ${epochLine(m, detail.run.epochsTotal)}`)].join(
        '\n',
      ),
    );
    return 0;
  }
  if (sub === 'compare') {
    const { options, positionals } = parseCommand(rest, {}, commonSchema, {
      min: 2,
      max: 2,
      usage: 'edgehead runs compare <a> <b>',
    });
    const ctx = await createContext(options);
    const [a, b] = await Promise.all(
      positionals.map((id) => ok(ctx.gpu.v1.runs[':id'].$get({ param: { id } }))),
    );
    const rows = compareRuns(a as RunDetailResponse, b as RunDetailResponse);
    emit(ctx.json, { a, b, rows }, () => table(rows, ['field', 'a', 'b']));
    return 0;
  }
  throw new CliError(
    'usage',
    `runs ${JSON.stringify(sub ?? '')}: expected list, show <id> or compare <a> <b>`,
  );
}

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
export async function publish(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(
    argv,
    { alias: { type: 'string', short: 'a' }, 'no-activate': { type: 'boolean' } },
    commonSchema.extend({ alias: z.string().min(1), 'no-activate': z.boolean().default(false) }),
    { min: 1, max: 1, usage: 'edgehead publish <run> --alias <alias>' },
  );
  const ctx = await writeContext(options);
  const answer = await publishRun(ctx, positionals[0] as string, options.alias, !options['no-activate']);
  emit(
    ctx.json,
    answer,
    () =>
      `published ${answer.alias} ${answer.version}${answer.active ? ' (active)' : ''}; classify at ${ctx.endpoints.edgeUrl}/v1/models/${answer.alias}/classify`,
  );
  return 0;
}
