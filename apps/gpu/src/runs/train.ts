import {
  augmentationConfig,
  type EpochMetrics,
  featureSetLabel,
  headConfig,
  type Split,
} from '@edgehead/contracts';
import {
  type Db,
  failRun,
  finishRun,
  getDataset,
  getFeatureSet,
  getRun,
  isConnectionError,
  loadAugmentedCopies,
  loadFeatureMatrix,
  type Run,
  recordEpoch,
  startRun,
} from '@edgehead/db';
import { type FeatureSplit, initTrainingBackend, type TrainingBackend, trainHead } from '@edgehead/training';
import type { ExtractorRegistry } from '../extractors/registry.ts';
import { retryOnConnectionLoss } from '../queue/connection.ts';
import { attemptFineTune } from './finetune.ts';
import { evaluateAndRegister } from './head-result.ts';

/** Knobs of one training attempt. */
export interface TrainRunOptions {
  /** How often the run's row is polled for a cancel between epochs (ms, default 1000). */
  pollMs?: number;
  /** Force a tfjs backend (tests); default: the best available. */
  backend?: TrainingBackend;
  /** Awaited after each recorded epoch (tests use it to slow a run down or to freeze a worker). */
  afterEpoch?: (metrics: EpochMetrics) => Promise<void>;
  /** Loads backbones for fine-tuning runs (the service's registry); a fine-tuning run fails without it. */
  extractors?: ExtractorRegistry;
}

/** How an attempt ended: `skipped` when the run was no longer queued/running when the job started. */
export type TrainRunOutcome = 'succeeded' | 'failed' | 'cancelled' | 'superseded' | 'skipped';

/** A failure whose message is the run's `error`. */
export class RunFailure extends Error {
  readonly code = 'run_failed';
}

/**
 * One attempt of a training run (a head, or with kind `finetune` the backbone's top and a head, see
 * `attemptFineTune`): start it (a retried job restarts it from scratch), load the stored
 * features, train with every epoch written as it ends, evaluate on validation and test, save and register
 * the head artifact, finish with stage timings. A cancel (or a newer attempt of the same run) stops it
 * between two batches; any failure marks the run failed with the reason. Never throws for a run failure.
 * @example await trainRun(db, runId, { pollMs: 1000 });
 */
export async function trainRun(
  db: Db,
  runId: string,
  options: TrainRunOptions = {},
): Promise<TrainRunOutcome> {
  const backend = await initTrainingBackend(options.backend);
  const run = await startRun(db, runId, { backend });
  if (run === null) return 'skipped';
  const attempt = run.attempts;
  const controller = new AbortController();
  let superseded = false;
  // Between batches trainHead only checks the signal; this poll turns a cancel (or a newer attempt
  // started by a retry after this worker was presumed dead) into an abort.
  const check = async (): Promise<boolean> => {
    let now: Run | null;
    try {
      now = await getRun(db, runId);
    } catch (error) {
      // a database that is away says nothing about a cancel: keep going, the next write waits for it
      if (isConnectionError(error)) return !controller.signal.aborted;
      now = null;
    }
    const current = now !== null && now.status === 'running' && now.attempts === attempt;
    if (!current && !controller.signal.aborted) {
      superseded = now !== null && now.status === 'running';
      controller.abort();
    }
    return current;
  };
  const timer = setInterval(() => void check(), options.pollMs ?? 1000);
  try {
    const work = run.kind === 'finetune' ? attemptFineTune : attemptRun;
    return await work(db, run, controller, check, options, () => superseded);
  } catch (error) {
    // lost for longer than the retry window: fail the job, so pg-boss retries the run from scratch
    if (isConnectionError(error)) throw error;
    if (!(await check())) return superseded ? 'superseded' : 'cancelled';
    const reason = error instanceof Error ? error.message : String(error);
    await failRun(db, runId, reason);
    return 'failed';
  } finally {
    clearInterval(timer);
  }
}

/**
 * What an attempt of a run keeps about itself: milliseconds per stage (`lap(stage)` closes one) and the
 * outcome when it stops early (superseded by a newer attempt, else cancelled).
 */
export function attemptClock(isSuperseded: () => boolean) {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round(now - t);
    t = now;
  };
  const stopped = (): TrainRunOutcome => (isSuperseded() ? 'superseded' : 'cancelled');
  return { timings, lap, stopped };
}

/** A run's stored config parsed by `schema`, and the model name it asked for; RunFailure when invalid. */
export function storedRunConfig<T>(
  run: Run,
  schema: {
    safeParse(
      value: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
  },
): { config: T; modelName: string | undefined } {
  const { modelName, ...stored } = run.config;
  const parsed = schema.safeParse(stored);
  if (!parsed.success) throw new RunFailure(`run config: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return { config: parsed.data, modelName: typeof modelName === 'string' ? modelName : undefined };
}

async function attemptRun(
  db: Db,
  run: Run,
  controller: AbortController,
  check: () => Promise<boolean>,
  options: TrainRunOptions,
  isSuperseded: () => boolean,
): Promise<TrainRunOutcome> {
  const { stopped, timings, lap } = attemptClock(isSuperseded);

  const { config, modelName } = storedRunConfig(run, headConfig);
  const [dataset, featureSet] = await Promise.all([
    getDataset(db, run.datasetId),
    getFeatureSet(db, run.featureSetId),
  ]);
  const classes = dataset.classes;
  const label = featureSetLabel(featureSet);
  // an augmented feature set trains on its base's originals plus its copies; validation and test (and the
  // head's manifest: the edge classifies plain images) use the base's plain vectors only
  const augmented = featureSet.provenance?.kind === 'augmented' ? featureSet.provenance : null;
  const plainSet = augmented ? await getFeatureSet(db, augmented.baseFeatureSetId) : featureSet;
  const load = async (split: Split) => {
    const m = await loadFeatureMatrix(db, dataset.id, plainSet.id, split);
    const labels = new Int32Array(m.labels.length);
    m.labels.forEach((label, i) => {
      labels[i] = classes.indexOf(label);
    });
    return {
      shape: m.shape,
      imageIds: m.imageIds,
      split: { features: m.data, labels } satisfies FeatureSplit,
    };
  };
  const [train, validation, test] = await Promise.all([load('train'), load('validation'), load('test')]);
  if (train.split.labels.length === 0) {
    throw new RunFailure(`feature set '${label}': no stored train vectors`);
  }
  for (const [name, part] of [
    ['validation', validation],
    ['test', test],
  ] as const) {
    if (part.split.labels.length > 0 && part.shape.join(',') !== train.shape.join(',')) {
      throw new RunFailure(
        `feature set '${label}': ${name} vectors have shape [${part.shape}], train [${train.shape}]`,
      );
    }
  }
  const hasValidation = validation.split.labels.length > 0;
  let copies: { copies: number; features: Float32Array } | undefined;
  if (augmented) {
    const k = augmentationConfig.parse(augmented.params).copies;
    const d = train.shape.reduce((a, b) => a * b, 1);
    const features = await loadAugmentedCopies(db, featureSet.id, train.imageIds, k, d).catch(
      (error: unknown) => {
        throw new RunFailure(`feature set '${label}': ${(error as Error).message}; extract it again`);
      },
    );
    copies = { copies: k, features };
  }
  lap('load');

  const result = await trainHead(
    {
      featureShape: train.shape,
      numClasses: classes.length,
      train: train.split,
      ...(hasValidation ? { validation: validation.split } : {}),
      ...(copies ? { augmented: copies } : {}),
    },
    config,
    {
      signal: controller.signal,
      ...(options.backend ? { backend: options.backend } : {}),
      onEpoch: async (m) => {
        // a superseded or cancelled attempt must not write into the rows of the current one
        if (!(await check())) return;
        // an epoch write is idempotent (per run and epoch): a short database outage pauses training
        await retryOnConnectionLoss(() => recordEpoch(db, run.id, m));
        await options.afterEpoch?.(m);
      },
    },
  );
  const model = result.model;
  try {
    if (result.status === 'cancelled' || controller.signal.aborted) return stopped();
    lap('train');
    const registered = await evaluateAndRegister(
      db,
      {
        runId: run.id,
        model,
        featureSet: plainSet,
        featureShape: train.shape,
        classes,
        threshold: config.threshold,
        splits: { train: train.split, validation: validation.split, test: test.split },
        modelName: modelName ?? dataset.name,
      },
      check,
      lap,
    );
    if (!registered) return stopped();
    const finished = await finishRun(db, run.id, {
      ...timings,
      epochs: result.history.length,
      weightsEpoch: result.weightsEpoch,
      earlyStopped: result.status === 'early-stopped' ? 1 : 0,
    });
    return finished === null ? stopped() : 'succeeded';
  } finally {
    model.dispose();
  }
}
