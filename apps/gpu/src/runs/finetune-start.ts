import {
  type BackboneSplit,
  expandUnfreeze,
  isBackboneError,
  loadBackbone,
  splitBackbone,
} from '@edgehead/backbones';
import { ApiError, type FineTuneRunConfig, type fineTuneRunRequest } from '@edgehead/contracts';
import { getFeatureSet, getRun, getRunModel, NotFoundError, type Run } from '@edgehead/db';
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
  const layers = await unfreezeLayers(deps.extractors, featureSet, input.unfreeze);
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
  featureSet: Awaited<ReturnType<typeof getFeatureSet>>,
  unfreeze: readonly string[],
): Promise<string[]> {
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
    return split.unfrozen;
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
