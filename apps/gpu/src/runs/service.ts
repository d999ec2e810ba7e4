import { BUILTIN_BACKBONES, isBuiltinBackbone } from '@edgehead/backbones';
import {
  ApiError,
  type createRunRequest,
  type FeatureSetRecord,
  featureSetLabel,
  type Preprocessing,
} from '@edgehead/contracts';
import {
  type Dataset,
  type Db,
  datasetFeatureSets,
  featureSplitCounts,
  getDataset,
  getFeatureSet,
  NotFoundError,
  type Run,
} from '@edgehead/db';
import { z } from 'zod';
import { type ExtractorRegistry, lookupParts } from '../extractors/registry.ts';

import type { JobQueue } from '../queue/index.ts';
import { startFineTuneRun } from './finetune-start.ts';
import { createQueuedRun, type TrainingQueueOptions } from './worker.ts';

/** What the run routes need. */
export interface RunDeps {
  db: Db;
  queue: JobQueue;
  /** Loads backbones to check a fine-tuning request's layers (fine-tuning runs need it). */
  extractors?: ExtractorRegistry;
  env?: {
    /** User backbones configured in this service (EDGEHEAD_BACKBONES). */
    userBackbones?: readonly { name: string; preprocessing: Preprocessing }[];
    /** Policy the training queue is created with when this process creates it. */
    training?: TrainingQueueOptions;
    /** Bounds of fine-tuning runs (EDGEHEAD_FINETUNE_MAX_BYTES). */
    fineTune?: { maxActivationBytes: number };
  };
}

/**
 * Validates a run request against the stored data (dataset, backbone, feature vectors for train and
 * validation; for a fine-tuning run see `startFineTuneRun`), records the run as queued and enqueues its
 * `train-head` job. Throws ApiError 400/404 naming the field.
 */
export async function startTrainingRun(
  deps: RunDeps,
  input: z.output<typeof createRunRequest>,
): Promise<Run> {
  if (input.kind === 'finetune') return startFineTuneRun(deps, input);
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
  const featureSet = await runFeatureSet(deps, dataset, input.featureSet, field);
  const label = featureSetLabel(featureSet);
  const counts = await featureSplitCounts(deps.db, dataset.id, featureSet.id);
  if (featureSet.provenance?.kind === 'augmented') {
    // validation and test are never augmented: the run evaluates on the base's plain vectors
    const plain = await featureSplitCounts(deps.db, dataset.id, featureSet.provenance.baseFeatureSetId);
    if (plain.train < counts.train) counts.train = plain.train;
    counts.validation = plain.validation;
    counts.test = plain.test;
  }
  const missing = (['train', 'validation'] as const).filter((s) => counts[s] === 0);
  if (missing.length > 0) {
    throw new ApiError(
      400,
      'validation_failed',
      `dataset '${dataset.name}' has no stored '${label}' features for the ${missing.join(' and ')} split(s) ` +
        `(train ${counts.train}, validation ${counts.validation}, test ${counts.test}); extract features first`,
      { field, counts },
    );
  }
  if (input.config.pooling === 'avg' && featureSet.pooling === 'avg') {
    throw new ApiError(
      400,
      'validation_failed',
      `pooling 'avg' needs [h, w, c] features, but feature set '${label}' is already pooled`,
      { field: 'pooling' },
    );
  }
  return createQueuedRun(deps, {
    datasetId: dataset.id,
    featureSetId: featureSet.id,
    preset: input.preset,
    config: { ...input.config, ...(input.modelName ? { modelName: input.modelName } : {}) },
    epochsTotal: input.config.epochs,
  });
}

/**
 * The feature set a run request names: an id, or a shorthand (`mobilenet_v1_0.75+avg`) that must match
 * exactly one feature set extracted for the dataset (several weights of one backbone: 400 listing their ids).
 */
async function runFeatureSet(
  deps: RunDeps,
  dataset: Dataset,
  named: string,
  field: 'backbone' | 'featureSet',
): Promise<FeatureSetRecord> {
  if (z.uuid().safeParse(named).success) {
    return getFeatureSet(deps.db, named).catch((cause: unknown) => {
      if (!(cause instanceof NotFoundError)) throw cause;
      throw new ApiError(
        400,
        'validation_failed',
        `feature set ${named} does not exist`,
        { field },
        { cause },
      );
    });
  }
  let parts: ReturnType<typeof lookupParts>;
  try {
    parts = lookupParts({ backbone: named }, deps.env?.userBackbones);
  } catch (cause) {
    throw new ApiError(400, 'validation_failed', (cause as Error).message, { field }, { cause });
  }
  const sets = await datasetFeatureSets(deps.db, dataset.id, parts);
  const known =
    isBuiltinBackbone(parts.backbone) ||
    (deps.env?.userBackbones ?? []).some((b) => b.name === parts.backbone);
  if (sets.length === 0 && !known) {
    throw new ApiError(
      400,
      'validation_failed',
      `backbone '${parts.backbone}' is unknown: expected a built-in backbone (${Object.keys(BUILTIN_BACKBONES).join(', ')}) or a configured user backbone`,
      { field: 'backbone' },
    );
  }
  if (sets.length === 0) {
    throw new ApiError(
      400,
      'validation_failed',
      `dataset '${dataset.name}' has no stored '${named}' features (train 0, validation 0, test 0); extract features first`,
      { field, counts: { train: 0, validation: 0, test: 0 } },
    );
  }
  if (sets.length > 1) {
    throw new ApiError(
      400,
      'validation_failed',
      `'${named}' matches ${sets.length} feature sets of dataset '${dataset.name}' (other weights): pass featureSet ` +
        `as one of ${sets.map((s) => `${s.id} (${featureSetLabel(s)})`).join(', ')}`,
      { field, featureSets: sets.map((s) => ({ id: s.id, label: featureSetLabel(s) })) },
    );
  }
  return sets[0] as FeatureSetRecord;
}
