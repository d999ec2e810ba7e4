import type { Worker } from 'node:worker_threads';
import type { HeadConfig } from '@edgehead/contracts';
import { startWorker } from '@edgehead/workers';
import type * as tf from '@tensorflow/tfjs';
import type { TrainingBackend } from './backend.ts';
import type { FeatureSplit } from './data.ts';
import type { PassMetrics, TrainingEngine } from './engine.ts';
import { TrainingError } from './errors.ts';
import { clearStop, createExchangeMemory, type ExchangeMemory, markFailed, requestStop } from './exchange.ts';
import { firstUnits, pooled } from './fast-engine.ts';
import { outputUnits } from './model.ts';
import { EVAL_ROWS, type ShardWeights, shardRange } from './shard.ts';
import { assembleWeights, shardWeightsOf } from './shard-weights.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts';

/** File name of the bundled worker entry that `defaultTrainingWorkerUrl` expects beside a bundle. */
export const BUNDLED_TRAINING_WORKER_FILE = 'training-worker.js';
/** How often the main thread looks at `shouldStop` while the workers run an epoch. */
const STOP_POLL_MS = 10;

/**
 * Where the worker entry lives. From source (tsx, vitest) it is `./train-worker.ts` beside this file.
 * Bundled (esbuild), `import.meta.url` is the bundle, so the worker must be built as a second entry point
 * named `training-worker.js` in the same folder (as `backbones-worker.js` for the extraction pool), or
 * `TrainHooks.workerUrl` given explicitly.
 */
export function defaultTrainingWorkerUrl(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('./train-worker.ts', import.meta.url)
    : new URL(`./${BUNDLED_TRAINING_WORKER_FILE}`, import.meta.url);
}

/** Copies a split into shared memory (once), so that every worker reads the same rows without a copy. */
function shared(split: FeatureSplit): FeatureSplit {
  if (split.features.buffer instanceof SharedArrayBuffer) return split;
  const features = new Float32Array(new SharedArrayBuffer(split.features.byteLength));
  features.set(split.features);
  return { features, labels: Int32Array.from(split.labels) };
}

interface Slot {
  worker: Worker;
  pending: { resolve: (value: unknown) => void; reject: (error: Error) => void }[];
  dead: Error | undefined;
}

/** Options of the parallel engine. */
export interface ParallelOptions {
  /** Worker threads (shards of the hidden units); at least 1, at most the hidden units. */
  workers: number;
  backend: TrainingBackend;
  /** Worker entry; default `defaultTrainingWorkerUrl()`. */
  workerUrl?: URL;
}

/**
 * The fast trainer split across worker threads by hidden units (model parallel): each worker has its own
 * tfjs backend and one `HeadShard` with its rows of the first kernel and its columns of the second, so the
 * two big products and the optimizer's update of the first kernel are divided among the threads. Per step
 * the shards exchange only their partial logits ([out, batch]) through shared memory and sum them in shard
 * order, so results do not depend on thread timing and equal the single-thread engine's up to float
 * rounding of that sum.
 */
export class ParallelEngine implements TrainingEngine {
  private constructor(
    private readonly model: tf.Sequential,
    private readonly dim: number,
    private readonly memory: ExchangeMemory,
    private readonly slots: Slot[],
  ) {}

  /** Starts the workers and waits until each holds its shard. */
  static async create(
    model: tf.Sequential,
    config: HeadConfig,
    featureShape: readonly number[],
    numClasses: number,
    train: FeatureSplit,
    validation: FeatureSplit | undefined,
    classWeights: Float32Array,
    options: ParallelOptions,
  ): Promise<ParallelEngine> {
    const units = firstUnits(config, numClasses);
    const count = options.workers;
    if (!Number.isInteger(count) || count < 1 || count > units || (config.hiddenUnits === 0 && count > 1)) {
      throw new TrainingError(
        'invalid_config',
        `workers: ${count}, expected an integer in [1, ${config.hiddenUnits === 0 ? 1 : units}] (shards of the hidden units)`,
      );
    }
    if (options.backend === 'tensorflow') {
      throw new TrainingError(
        'invalid_config',
        `engine 'parallel' on backend 'tensorflow', expected 'wasm' or 'cpu' (native TensorFlow is multi-threaded already)`,
      );
    }
    const pooledTrain = shared(pooled(config, featureShape, train));
    const pooledValidation = validation ? shared(pooled(config, featureShape, validation)) : null;
    const dim = pooledTrain.features.length / train.labels.length;
    const out = outputUnits(numClasses);
    const ranges = Array.from({ length: count }, (_, i) => shardRange(units, i, count));
    const weights = shardWeightsOf(model, ranges);
    const memory = createExchangeMemory(count, out * Math.max(config.batchSize, EVAL_ROWS));
    const url = options.workerUrl ?? defaultTrainingWorkerUrl();
    const slots: Slot[] = [];
    const ready: Promise<unknown>[] = [];
    for (const [index, range] of ranges.entries()) {
      const init: WorkerInit = {
        index,
        backend: options.backend,
        exchange: memory,
        shard: {
          config,
          dim,
          out,
          ...range,
          train: pooledTrain,
          validation: pooledValidation,
          classWeights,
          weights: weights[index] as ShardWeights,
        },
      };
      const slot: Slot = { worker: startWorker(url, init), pending: [], dead: undefined };
      slots.push(slot);
      ready.push(new Promise((resolve, reject) => slot.pending.push({ resolve, reject })));
      const fail = (error: Error) => {
        slot.dead ??= error;
        markFailed(memory);
        for (const p of slot.pending.splice(0)) p.reject(error);
      };
      slot.worker.on('message', (msg: FromWorker) => {
        const p = slot.pending.shift();
        if (msg.type === 'error') {
          const error = new TrainingError('worker_failed', `training worker ${index}: ${msg.message}`);
          p?.reject(error);
          fail(error);
        } else p?.resolve(msg.type === 'ready' ? msg.backend : msg.value);
      });
      slot.worker.on('error', (cause) =>
        fail(
          new TrainingError('worker_failed', `training worker ${index} crashed: ${cause.message}`, { cause }),
        ),
      );
      slot.worker.on('exit', (code) =>
        fail(new TrainingError('worker_failed', `training worker ${index} exited with code ${code}`)),
      );
    }
    const engine = new ParallelEngine(model, dim, memory, slots);
    try {
      await Promise.all(ready);
    } catch (error) {
      await engine.dispose();
      throw error;
    }
    return engine;
  }

  async trainEpoch(order: Int32Array, shouldStop: () => boolean): Promise<PassMetrics | null> {
    clearStop(this.memory);
    // The workers run the epoch without yielding; the stop request reaches them through shared memory.
    const poll = setInterval(() => {
      if (shouldStop()) requestStop(this.memory);
    }, STOP_POLL_MS);
    try {
      if (shouldStop()) return null;
      return (await this.request({ type: 'epoch', order })) as PassMetrics | null;
    } finally {
      clearInterval(poll);
    }
  }

  async evaluate(): Promise<PassMetrics | null> {
    return (await this.request({ type: 'evaluate' })) as PassMetrics | null;
  }

  async snapshot(): Promise<void> {
    await this.request({ type: 'snapshot' });
  }

  async restore(): Promise<void> {
    await this.request({ type: 'restore' });
  }

  async finish(): Promise<tf.LayersModel> {
    try {
      const parts = await Promise.all(this.slots.map((s) => this.send(s, { type: 'weights' })));
      assembleWeights(this.model, parts as ShardWeights[], this.dim);
    } finally {
      await this.dispose();
    }
    return this.model;
  }

  async dispose(): Promise<void> {
    markFailed(this.memory); // wakes a worker waiting at a barrier so that it can be terminated
    await Promise.all(
      this.slots.map(async (s) => {
        s.worker.removeAllListeners('exit');
        s.worker.removeAllListeners('error');
        // A late 'error' of a dying worker must not become an unhandled 'error' event of the process.
        s.worker.on('error', () => {});
        s.dead ??= new TrainingError('worker_failed', 'training worker terminated');
        await s.worker.terminate();
      }),
    );
  }

  /** Sends one request to every worker; the answer is shard 0's (all shards compute the same metrics). */
  private async request(msg: ToWorker): Promise<unknown> {
    const answers = await Promise.all(this.slots.map((s) => this.send(s, msg)));
    return answers[0];
  }

  private send(slot: Slot, msg: ToWorker): Promise<unknown> {
    if (slot.dead) return Promise.reject(slot.dead);
    return new Promise((resolve, reject) => {
      slot.pending.push({ resolve, reject });
      slot.worker.postMessage(msg);
    });
  }
}
