import type { TrainingBackend } from './backend.ts';
import type { PassMetrics } from './engine.ts';
import type { ExchangeMemory } from './exchange.ts';
import type { ShardInit, ShardWeights } from './shard.ts';

/** What a training worker is started with (its `workerData`); features live in shared memory. */
export interface WorkerInit {
  index: number;
  backend: TrainingBackend;
  exchange: ExchangeMemory;
  shard: ShardInit;
}

/** Requests from the main thread; a worker answers each with one `result` or `error`, in order. */
export type ToWorker =
  | { type: 'epoch'; order: Int32Array }
  | { type: 'evaluate' }
  | { type: 'snapshot' }
  | { type: 'restore' }
  | { type: 'weights' };

/** Answers of a worker. */
export type FromWorker =
  | { type: 'ready'; backend: TrainingBackend }
  | { type: 'result'; value: PassMetrics | ShardWeights | null }
  | { type: 'error'; message: string };
