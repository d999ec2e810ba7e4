import { type EpochMetrics, type HeadConfig, headConfig } from '@edgehead/contracts';
import type * as tf from '@tensorflow/tfjs';
import { initTrainingBackend, type TrainingBackend } from './backend.ts';
import { checkSplit, permutation, resolveClassWeights, seededRandom, type TrainInput } from './data.ts';
import type { TrainingEngine } from './engine.ts';
import { TrainingError } from './errors.ts';
import { FastEngine } from './fast-engine.ts';
import { LayersEngine } from './layers-engine.ts';
import { buildHeadModel } from './model.ts';

/** Callbacks and controls of one training run. */
export interface TrainHooks {
  /** Awaited after every epoch (write the metrics row here); a throw aborts training. */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Aborting stops training between two batches; the result then has status 'cancelled'. */
  signal?: AbortSignal;
  /** 'fast' (default): the custom training step; 'layers': plain `model.fit` (the reference). */
  engine?: 'fast' | 'layers';
  /** Force a backend instead of the best available one. */
  backend?: TrainingBackend;
}

/** What a training run produced. */
export interface TrainResult {
  /** The normal tfjs Sequential head with the trained weights; the caller disposes it. */
  model: tf.LayersModel;
  history: EpochMetrics[];
  backend: TrainingBackend;
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
  const parsed = headConfig.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TrainingError(
      'invalid_config',
      `config.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      { cause: parsed.error },
    );
  }
  const cfg = parsed.data;
  const dim = input.featureShape.reduce((a, b) => a * b, 1);
  checkSplit('train', input.train, dim, input.numClasses);
  if (input.validation) checkSplit('validation', input.validation, dim, input.numClasses);
  if (cfg.earlyStopping && !input.validation) {
    throw new TrainingError(
      'invalid_input',
      'validation: missing, expected a validation split for early stopping',
    );
  }
  const backend = await initTrainingBackend(hooks.backend);
  const classWeights = resolveClassWeights(cfg.classWeight, input.train.labels, input.numClasses);
  const model = buildHeadModel(input.featureShape, input.numClasses, cfg);
  const Engine = hooks.engine === 'layers' ? LayersEngine : FastEngine;
  let engine: TrainingEngine;
  try {
    engine = new Engine(
      model,
      cfg,
      input.featureShape,
      input.numClasses,
      input.train,
      input.validation,
      classWeights,
    );
  } catch (error) {
    model.dispose();
    throw error;
  }

  const history: EpochMetrics[] = [];
  const random = seededRandom(cfg.seed);
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
      const order = permutation(input.train.labels.length, random);
      const train = await engine.trainEpoch(order, stop);
      if (!train) {
        status = 'cancelled';
        break;
      }
      const val = engine.evaluate();
      weightsEpoch = epoch;
      const metrics: EpochMetrics = {
        epoch,
        loss: train.loss,
        accuracy: train.accuracy,
        val_loss: val?.loss ?? null,
        val_accuracy: val?.accuracy ?? null,
        duration_ms: performance.now() - started,
      };
      history.push(metrics);
      await hooks.onEpoch?.(metrics);

      const es = cfg.earlyStopping;
      if (es && val) {
        if (val.loss < bestLoss - es.minDelta) {
          bestLoss = val.loss;
          bestEpoch = epoch;
          if (es.restoreBestWeights) engine.snapshot();
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
      engine.restore();
      weightsEpoch = bestEpoch;
    }
    return { model: engine.finish(), history, backend, status, weightsEpoch };
  } catch (error) {
    engine.finish().dispose();
    throw error;
  }
}
