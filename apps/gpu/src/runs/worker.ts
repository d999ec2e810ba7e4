import { createRun, type Db, failRun, type Run } from '@edgehead/db';
import type PgBoss from 'pg-boss';
import type { JobQueue } from '../queue/index.ts';
import { type TrainRunOptions, trainRun } from './train.ts';

/** The pg-boss queue of training runs. */
export const TRAIN_HEAD_QUEUE = 'train-head';
/** Where pg-boss moves a training job that failed its last retry (its run is then marked failed). */
export const TRAIN_HEAD_DEAD_QUEUE = 'train-head-dead';

/** Payload of a `train-head` job. */
export interface TrainHeadJob {
  runId: string;
}

/** Queue policy of training jobs. */
export interface TrainingQueueOptions {
  /**
   * Seconds a job may stay active before pg-boss presumes its worker dead (no heartbeat: a generous
   * bound on one run). It is then retried, which restarts the run from scratch.
   */
  expireSeconds: number;
  /** Retries after the first attempt; after the last one the run is marked failed with the reason. */
  retryLimit: number;
  /** Seconds before a retry starts. */
  retryDelaySeconds?: number;
}

/** Defaults: 6 hours per attempt, 2 retries. */
export const DEFAULT_TRAINING_QUEUE: TrainingQueueOptions = {
  expireSeconds: 6 * 3600,
  retryLimit: 2,
  retryDelaySeconds: 10,
};

/**
 * Records a run and queues its training job; a job that cannot be queued fails the run with the reason
 * (so no run waits forever for a job that does not exist) and rethrows.
 */
export async function createQueuedRun(
  deps: { db: Db; queue: JobQueue; env?: { training?: TrainingQueueOptions } },
  values: Parameters<typeof createRun>[1],
): Promise<Run> {
  const run = await createRun(deps.db, values);
  try {
    const job: TrainHeadJob = { runId: run.id };
    await ensureTrainingQueues(deps.queue, deps.env?.training);
    await deps.queue.boss.send(TRAIN_HEAD_QUEUE, job);
  } catch (error) {
    await failRun(deps.db, run.id, `could not enqueue the training job: ${(error as Error).message}`);
    throw error;
  }
  return run;
}

/** Creates the training queue and its dead-letter queue (idempotent). */
export async function ensureTrainingQueues(
  queue: JobQueue,
  options: TrainingQueueOptions = DEFAULT_TRAINING_QUEUE,
): Promise<void> {
  await queue.ensureQueue(TRAIN_HEAD_DEAD_QUEUE, { retryLimit: 5 });
  await queue.ensureQueue(TRAIN_HEAD_QUEUE, {
    expireInSeconds: options.expireSeconds,
    retryLimit: options.retryLimit,
    retryDelay: options.retryDelaySeconds ?? 10,
    deadLetter: TRAIN_HEAD_DEAD_QUEUE,
  });
}

/** Options of `registerTrainingWorker`. */
export interface TrainingWorkerOptions extends TrainRunOptions {
  queue?: TrainingQueueOptions;
  /** Seconds between polls of the queue (default 2). */
  pollSeconds?: number;
}

/**
 * Works `train-head` jobs in this process (one run at a time: a run uses the whole machine) and fails
 * the runs whose job landed in the dead-letter queue (expired or crashed on every attempt).
 * Returns a function that stops both workers.
 * @example const stop = await registerTrainingWorker(queue, db, { pollSeconds: 2 });
 */
export async function registerTrainingWorker(
  queue: JobQueue,
  db: Db,
  options: TrainingWorkerOptions = {},
): Promise<() => Promise<void>> {
  await ensureTrainingQueues(queue, options.queue);
  const pollingIntervalSeconds = options.pollSeconds ?? 2;
  const work = await queue.boss.work<TrainHeadJob>(
    TRAIN_HEAD_QUEUE,
    { batchSize: 1, pollingIntervalSeconds },
    async ([job]) => {
      if (job) await trainRun(db, job.data.runId, options);
    },
  );
  const dead = await queue.boss.work<TrainHeadJob>(
    TRAIN_HEAD_DEAD_QUEUE,
    { batchSize: 1, pollingIntervalSeconds, includeMetadata: true },
    async ([job]) => {
      if (job) await failRun(db, job.data.runId, deadReason(job, options.queue ?? DEFAULT_TRAINING_QUEUE));
    },
  );
  return async () => {
    await queue.boss.offWork({ id: work });
    await queue.boss.offWork({ id: dead });
  };
}

function deadReason(job: PgBoss.JobWithMetadata<TrainHeadJob>, policy: TrainingQueueOptions): string {
  const output = job.output as { message?: unknown; value?: { message?: unknown } } | null;
  const message = output?.value?.message ?? output?.message ?? 'no reason recorded';
  return `training job gave up after ${policy.retryLimit + 1} attempt(s): ${String(message)} (a worker died or the job exceeded ${policy.expireSeconds} s)`;
}
