import { BUILTIN_BACKBONES, isBuiltinBackbone, parseFeatureSetKey } from '@edgehead/backbones';
import type { createRunRequest } from '@edgehead/contracts';
import { createRun, type Db, failRun, featureSplitCounts, getDataset, type Run } from '@edgehead/db';
import type { z } from 'zod';
import { ApiError } from '../http/errors.ts';
import type { JobQueue } from '../queue/index.ts';
import {
  ensureTrainingQueues,
  TRAIN_HEAD_QUEUE,
  type TrainHeadJob,
  type TrainingQueueOptions,
} from './worker.ts';

/** What the run routes need. */
export interface RunDeps {
  db: Db;
  queue: JobQueue;
  env?: {
    /** User backbones configured in this service (EDGEHEAD_BACKBONES). */
    userBackbones?: readonly { name: string }[];
    /** Policy the training queue is created with when this process creates it. */
    training?: TrainingQueueOptions;
  };
}

/**
 * Validates a run request against the stored data (dataset, backbone, feature vectors for train and
 * validation), records the run as queued and enqueues its `train-head` job.
 * Throws ApiError 400/404 naming the field.
 */
export async function startTrainingRun(
  deps: RunDeps,
  input: z.output<typeof createRunRequest>,
): Promise<Run> {
  const dataset = await getDataset(deps.db, input.dataset).catch((cause: unknown) => {
    throw new ApiError(
      404,
      'not_found',
      `dataset '${input.dataset}' not found`,
      { field: 'dataset' },
      { cause },
    );
  });
  const field =
    input.backbone !== undefined && input.featureSet === input.backbone ? 'backbone' : 'featureSet';
  let backbone: string;
  try {
    backbone = parseFeatureSetKey(input.featureSet).backbone;
  } catch (cause) {
    throw new ApiError(400, 'validation_failed', (cause as Error).message, { field }, { cause });
  }
  const counts = await featureSplitCounts(deps.db, dataset.id, input.featureSet);
  const known =
    isBuiltinBackbone(backbone) || (deps.env?.userBackbones ?? []).some((b) => b.name === backbone);
  if (!known && counts.train === 0) {
    throw new ApiError(
      400,
      'validation_failed',
      `backbone '${backbone}' is unknown: expected a built-in backbone (${Object.keys(BUILTIN_BACKBONES).join(', ')}) or a configured user backbone`,
      { field: 'backbone' },
    );
  }
  const missing = (['train', 'validation'] as const).filter((s) => counts[s] === 0);
  if (missing.length > 0) {
    throw new ApiError(
      400,
      'validation_failed',
      `dataset '${dataset.name}' has no stored '${input.featureSet}' features for the ${missing.join(' and ')} split(s) ` +
        `(train ${counts.train}, validation ${counts.validation}, test ${counts.test}); extract features first`,
      { field, counts },
    );
  }
  if (input.config.pooling === 'avg' && parseFeatureSetKey(input.featureSet).pooling === 'avg') {
    throw new ApiError(
      400,
      'validation_failed',
      `pooling 'avg' needs [h, w, c] features, but feature set '${input.featureSet}' is already pooled`,
      { field: 'pooling' },
    );
  }
  const run = await createRun(deps.db, {
    datasetId: dataset.id,
    featureSet: input.featureSet,
    preset: input.preset,
    config: { ...input.config, ...(input.modelName ? { modelName: input.modelName } : {}) },
    epochsTotal: input.config.epochs,
  });
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
