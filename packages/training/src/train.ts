import { availableParallelism } from 'node:os';
import { type EpochMetrics, type HeadConfig, headConfig } from '@edgehead/contracts';
import type * as tf from '@tensorflow/tfjs';
import { initTrainingBackend, type TrainingBackend } from './backend.ts';
import {
  checkSplit,
  permutation,
  resolveClassWeights,
  seededRandom,
  type TrainInput,
  withAugmentedRows,
} from './data.ts';
import type { TrainingEngine } from './engine.ts';
import { parseConfig, TrainingError } from './errors.ts';
import { FastEngine } from './fast-engine.ts';
import { LayersEngine } from './layers-engine.ts';
import { buildHeadModel } from './model.ts';
import { ParallelEngine } from './parallel-engine.ts';

/** Which trainer ran: the fast step on this thread, the fast step split across workers, or `model.fit`. */
export type EngineName = 'fast' | 'parallel' | 'layers';

/**
 * First-layer weights from which 'auto' splits the work across worker threads: below it the per-step
 * exchange and the workers' start-up (about a second) cost more than the halved products save.
 */
const PARALLEL_MIN_WEIGHTS = 1 << 20;
/** Most workers 'auto' starts (each step meets at a barrier: more threads, more waiting). */
const PARALLEL_MAX_WORKERS = 4;
/**
 * Cores from which 'auto' uses worker threads unless `workers` is given. On 2 cores two workers are faster
 * only while nothing else runs (recipe head, `test/bench/training-epoch.ts`: idle 0.91-0.96 s/epoch on one
 * thread vs 0.84-0.89 on two workers; with one other busy process 1.26 vs 1.48), and a gpu service rarely
 * trains alone (extraction jobs, uploads): one thread is the steadier choice there.
 */
const PARALLEL_MIN_CORES = 4;

/** Callbacks and controls of one training run. */
export interface TrainHooks {
  /** Awaited after every epoch (write the metrics row here); a throw aborts training. */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Aborting stops training between two batches; the result then has status 'cancelled'. */
  signal?: AbortSignal;
  /**
   * 'auto' (default): 'parallel' for a large first layer on a single-threaded backend (wasm, cpu) with
   * four or more cores (or `workers` given), else 'fast'. 'fast': the custom training step on this thread; 'parallel': the same
   * step split by hidden units across worker threads; 'layers': plain `model.fit` (the reference).
   */
  engine?: 'auto' | EngineName;
  /** Worker threads of the parallel engine (default: the cores, at most 4 and the hidden units). */
  workers?: number;
  /** Entry of the training worker when bundled (default: `training-worker.js` beside the bundle). */
  workerUrl?: URL;
  /** Force a backend instead of the best available one. */
  backend?: TrainingBackend;
}

/** What a training run produced. */
export interface TrainResult {
  /** The normal tfjs Sequential head with the trained weights; the caller disposes it. */
  model: tf.LayersModel;
  history: EpochMetrics[];
  backend: TrainingBackend;
  /** The trainer that ran ('parallel' used `workers` threads). */
  engine: EngineName;
  workers: number;
  /** 'early-stopped': patience ran out; 'cancelled': the signal aborted (the model holds the last weights). */
  status: 'completed' | 'early-stopped' | 'cancelled';
  /** The epoch whose weights the model holds (the best one when restoreBestWeights was used). */
  weightsEpoch: number;
}

/**
 * Trains a dense head on precomputed features, reporting every epoch.
 * @example
 * const { model, history } = await trainHead(
 *   { featureShape: [4, 4, 512], numClasses: 2, train, validation },
 *   headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' }),
 *   { onEpoch: (m) => db.insert(epochs).values({ runId, ...m }), signal },
 * );
 */
export async function trainHead(
  input: TrainInput,
  config: HeadConfig,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const cfg = parseConfig(headConfig, config);
  const dim = input.featureShape.reduce((a, b) => a * b, 1);
  checkSplit('train', input.train, dim, input.numClasses);
  if (input.validation) checkSplit('validation', input.validation, dim, input.numClasses);
  if (cfg.earlyStopping && !input.validation) {
    throw new TrainingError(
      'invalid_input',
      'validation: missing, expected a validation split for early stopping',
    );
  }
  const n = input.train.labels.length;
  const rows = withAugmentedRows(input.train, dim, input.augmented);
  const backend = await initTrainingBackend(hooks.backend);
  const classWeights = resolveClassWeights(cfg.classWeight, input.train.labels, input.numClasses);
  const model = buildHeadModel(input.featureShape, input.numClasses, cfg);
  let { name: engineName, workers } = chooseEngine(hooks, cfg, input, backend);
  let engine: TrainingEngine;
  try {
    const args = [
      model,
      cfg,
      input.featureShape,
      input.numClasses,
      rows.train,
      input.validation,
      classWeights,
    ] as const;
    if (engineName === 'parallel') {
      try {
        engine = await ParallelEngine.create(...args, { workers, backend, workerUrl: hooks.workerUrl });
      } catch (error) {
        // 'auto' means the best trainer that works here: without startable workers (e.g. a bundle built
        // without the worker entry) it trains on this thread; the result reports engine 'fast'.
        const auto = (hooks.engine ?? 'auto') === 'auto';
        if (!auto || !(error instanceof TrainingError) || error.code !== 'worker_failed') throw error;
        engineName = 'fast';
        workers = 1;
        engine = new FastEngine(...args);
      }
    } else engine = engineName === 'layers' ? new LayersEngine(...args) : new FastEngine(...args);
  } catch (error) {
    model.dispose();
    throw error;
  }

  const history: EpochMetrics[] = [];
  const random = seededRandom(cfg.seed);
  // a stream of its own: the batches' order is the same with and without augmentation
  const variants = seededRandom(cfg.seed ^ 0x5bd1e995);
  const stop = () => hooks.signal?.aborted === true;
  let status: TrainResult['status'] = 'completed';
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestEpoch = 0;
  let weightsEpoch = 0;
  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      if (stop()) {
        status = 'cancelled';
        break;
      }
      const started = performance.now();
      const order = rows.variant(permutation(n, random), variants);
      const train = await engine.trainEpoch(order, stop);
      if (!train) {
        status = 'cancelled';
        break;
      }
      const val = await engine.evaluate();
      weightsEpoch = epoch;
      const metrics: EpochMetrics = {
        epoch,
        loss: train.loss,
        accuracy: train.accuracy,
        valLoss: val?.loss ?? null,
        valAccuracy: val?.accuracy ?? null,
        durationMs: performance.now() - started,
      };
      history.push(metrics);
      await hooks.onEpoch?.(metrics);

      const es = cfg.earlyStopping;
      if (es && val) {
        if (val.loss < bestLoss - es.minDelta) {
          bestLoss = val.loss;
          bestEpoch = epoch;
          if (es.restoreBestWeights) await engine.snapshot();
        } else if (epoch - bestEpoch >= es.patience) {
          // Keras: stop once `patience` epochs in a row brought no improvement.
          status = 'early-stopped';
          break;
        }
      }
    }
    if (
      cfg.earlyStopping?.restoreBestWeights &&
      bestEpoch > 0 &&
      bestEpoch !== weightsEpoch &&
      status !== 'cancelled'
    ) {
      await engine.restore();
      weightsEpoch = bestEpoch;
    }
    const trained = await engine.finish();
    return { model: trained, history, backend, engine: engineName, workers, status, weightsEpoch };
  } catch (error) {
    await engine.dispose();
    model.dispose();
    throw error;
  }
}

function chooseEngine(
  hooks: TrainHooks,
  config: HeadConfig,
  input: TrainInput,
  backend: TrainingBackend,
): { name: EngineName; workers: number } {
  const requested = hooks.engine ?? 'auto';
  const dim =
    config.pooling === 'avg'
      ? (input.featureShape.at(-1) ?? 1)
      : input.featureShape.reduce((a, b) => a * b, 1);
  const workers =
    hooks.workers ?? Math.min(availableParallelism(), PARALLEL_MAX_WORKERS, Math.max(1, config.hiddenUnits));
  if (requested === 'parallel') return { name: 'parallel', workers };
  if (requested !== 'auto') return { name: requested, workers: 1 };
  const enoughCores = hooks.workers !== undefined || availableParallelism() >= PARALLEL_MIN_CORES;
  const worthIt =
    backend !== 'tensorflow' &&
    enoughCores &&
    workers >= 2 &&
    config.hiddenUnits >= 2 &&
    dim * config.hiddenUnits >= PARALLEL_MIN_WEIGHTS;
  return worthIt ? { name: 'parallel', workers } : { name: 'fast', workers: 1 };
}
