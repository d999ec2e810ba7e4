import {
  type BackboneSplit,
  expandUnfreeze,
  isBackboneError,
  loadBackbone,
  splitBackbone,
} from '@edgehead/backbones';
import {
  ApiError,
  augmentationConfig,
  type FeatureSetRecord,
  type FineTuneRunConfig,
  type fineTuneRunRequest,
} from '@edgehead/contracts';
import {
  featureSplitCounts,
  getFeatureSet,
  getRun,
  getRunModel,
  NotFoundError,
  type Run,
} from '@edgehead/db';
import { FINE_TUNE_RECIPE } from '@edgehead/training';
import * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { ExtractorRegistry } from '../extractors/registry.ts';
import type { RunDeps } from './service.ts';
import { createQueuedRun } from './worker.ts';

const invalid = (field: string, message: string, details: Record<string, unknown> = {}) =>
  new ApiError(400, 'validation_failed', message, { field, ...details });

/**
 * Validates a fine-tuning request (a succeeded run with a registered head; the layers to unfreeze exist in
 * its backbone and form its top part, else 400 naming `unfreeze[i]`), records the run as queued with the
 * recipe's optimiser settings for what the request leaves out, and enqueues its job on the training queue.
 */
export async function startFineTuneRun(
  deps: RunDeps,
  input: z.output<typeof fineTuneRunRequest>,
): Promise<Run> {
  const from = await getRun(deps.db, input.fromRun).catch((cause: unknown) => {
    if (!(cause instanceof NotFoundError)) throw cause;
    throw invalid('fromRun', `run ${input.fromRun} does not exist`);
  });
  if (from.status !== 'succeeded') {
    throw invalid('fromRun', `run ${from.id} is ${from.status}: fine-tuning starts from a succeeded run`);
  }
  if ((await getRunModel(deps.db, from.id)) === null) {
    throw invalid('fromRun', `run ${from.id} registered no head to start from`);
  }
  // a fine-tuning run's head reads the features of the weights it produced: fine-tuning it again starts there
  const baseId = from.kind === 'finetune' ? from.outputFeatureSetId : from.featureSetId;
  if (baseId === null) throw invalid('fromRun', `run ${from.id} produced no feature set`);
  const featureSet = await getFeatureSet(deps.db, baseId);
  if (deps.extractors === undefined) throw new Error('fine-tuning runs need the extractor registry');
  const { layers, cutShape } = await unfreezeLayers(deps.extractors, featureSet, input.unfreeze);
  await checkActivationBytes(deps, from.datasetId, featureSet, cutShape);
  const config: FineTuneRunConfig = {
    optimizer: input.overrides.optimizer ?? FINE_TUNE_RECIPE.optimizer,
    learningRate: input.overrides.learningRate ?? FINE_TUNE_RECIPE.learningRate,
    momentum: FINE_TUNE_RECIPE.momentum,
    epochs: input.overrides.epochs ?? FINE_TUNE_RECIPE.epochs,
    batchSize: input.overrides.batchSize ?? FINE_TUNE_RECIPE.batchSize,
    seed: input.overrides.seed ?? FINE_TUNE_RECIPE.seed,
    unfreeze: input.unfreeze,
    layers,
  };
  return createQueuedRun(deps, {
    kind: 'finetune',
    fromRunId: from.id,
    datasetId: from.datasetId,
    featureSetId: featureSet.id,
    preset: null,
    config: { ...config, ...(input.modelName ? { modelName: input.modelName } : {}) },
    epochsTotal: config.epochs,
  });
}

/**
 * The layers `unfreeze` names in the feature set's backbone (presets expanded), checked by splitting the
 * loaded backbone there; a bad entry is a 400 naming `unfreeze[i]` of the request (not of the expansion).
 */
async function unfreezeLayers(
  extractors: ExtractorRegistry,
  featureSet: FeatureSetRecord,
  unfreeze: readonly string[],
): Promise<{ layers: string[]; cutShape: number[] }> {
  const origin: number[] = [];
  const layers = unfreeze.flatMap((entry, i) => {
    const expanded = expandUnfreeze(featureSet.backbone, [entry]);
    for (const _ of expanded) origin.push(i);
    return expanded;
  });
  const backbone = await loadBackbone({ ...(await extractors.configFor(featureSet)), warmup: false });
  let split: BackboneSplit | undefined;
  try {
    if (!(backbone.model instanceof tf.LayersModel)) {
      throw invalid(
        'fromRun',
        `backbone ${featureSet.backbone} is a graph model: only layers models can be fine-tuned`,
      );
    }
    split = splitBackbone(backbone.model, layers);
    return { layers: split.unfrozen, cutShape: split.cutShape };
  } catch (error) {
    if (!isBackboneError(error)) throw error;
    const field = String(error.details?.field ?? 'unfreeze');
    const m = /^unfreeze\[(\d+)\]$/.exec(field);
    const entry = m ? origin[Number(m[1])] : undefined;
    if (entry === undefined) throw invalid('unfreeze', error.message, { code: error.code });
    const named = `unfreeze[${entry}]`;
    throw invalid(named, error.message.replace(field, named), {
      layer: error.details?.layer,
      code: error.code,
    });
  } finally {
    split?.dispose();
    await backbone.dispose();
  }
}

const GiB = 1024 ** 3;

/**
 * Refuses a fine-tuning whose activations at the cut would not fit the service's bound: every image with a
 * base vector once, plus the copies of the training images when the head trained on an augmented feature
 * set (a 400 naming `fromRun`, before anything is queued, instead of a worker running out of memory).
 */
async function checkActivationBytes(
  deps: RunDeps,
  datasetId: string,
  featureSet: FeatureSetRecord,
  cutShape: readonly number[],
): Promise<void> {
  const limit = deps.env?.fineTune?.maxActivationBytes;
  if (limit === undefined) return;
  const augmented = featureSet.provenance?.kind === 'augmented' ? featureSet.provenance : null;
  const copies = augmented ? augmentationConfig.parse(augmented.params).copies : 0;
  const counts = await featureSplitCounts(deps.db, datasetId, augmented?.baseFeatureSetId ?? featureSet.id);
  const rows = counts.train * (copies + 1) + counts.validation + counts.test;
  const bytes = rows * cutShape.reduce((a, b) => a * b, 1) * 4;
  if (bytes <= limit) return;
  throw invalid(
    'fromRun',
    `fine-tuning would hold ${(bytes / GiB).toFixed(2)} GiB of activations at the cut ` +
      `([${cutShape.join(', ')}] for ${rows} images and copies), over EDGEHEAD_FINETUNE_MAX_BYTES ` +
      `(${(limit / GiB).toFixed(2)} GiB): unfreeze fewer layers, start from a head on fewer copies, or raise the limit`,
    { bytes, limit },
  );
}
