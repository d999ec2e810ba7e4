import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { TrainingError } from './errors.ts';

/** Units of the output layer: 1 sigmoid unit for two classes, else one softmax unit per class. */
export function outputUnits(numClasses: number): number {
  return numClasses === 2 ? 1 : numClasses;
}

/**
 * Builds the head as a plain tfjs Sequential model: [Flatten | GlobalAveragePooling2D] ->
 * [Dense(hidden, relu) -> Dropout] -> Dense(1, sigmoid) or Dense(classes, softmax).
 * Initializers are seeded from `config.seed`, so the same seed gives the same initial weights.
 * The caller owns (and disposes) the model.
 */
export function buildHeadModel(
  featureShape: readonly number[],
  numClasses: number,
  config: Pick<HeadConfig, 'hiddenUnits' | 'dropout' | 'pooling' | 'seed'>,
): tf.Sequential {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new TrainingError('invalid_input', `numClasses: ${numClasses}, expected an integer >= 2`);
  }
  if (featureShape.length === 0 || featureShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new TrainingError(
      'invalid_input',
      `featureShape: [${featureShape.join(', ')}], expected positive integers such as [4, 4, 512]`,
    );
  }
  if (config.pooling === 'avg' && featureShape.length !== 3) {
    throw new TrainingError(
      'invalid_config',
      `pooling 'avg' needs [h, w, c] features, received featureShape [${featureShape.join(', ')}]`,
    );
  }
  const inputShape = [...featureShape];
  const model = tf.sequential();
  let first = true;
  const input = () => {
    const shape = first ? { inputShape } : {};
    first = false;
    return shape;
  };
  if (config.pooling === 'avg') {
    model.add(tf.layers.globalAveragePooling2d({ ...input(), dataFormat: 'channelsLast' }));
  } else if (featureShape.length > 1) {
    model.add(tf.layers.flatten(input()));
  }
  const binary = numClasses === 2;
  if (config.hiddenUnits > 0) {
    model.add(
      tf.layers.dense({
        ...input(),
        units: config.hiddenUnits,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: config.seed }),
      }),
    );
    if (config.dropout > 0) model.add(tf.layers.dropout({ rate: config.dropout }));
  }
  model.add(
    tf.layers.dense({
      ...input(),
      units: outputUnits(numClasses),
      activation: binary ? 'sigmoid' : 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: config.seed + 1 }),
    }),
  );
  return model;
}

/** The tfjs optimizer for a config, with Keras defaults (RMSprop rho 0.9, Adam betas 0.9/0.999, eps 1e-7). */
export function makeOptimizer(
  config: Pick<HeadConfig, 'optimizer' | 'learningRate' | 'momentum'>,
): tf.Optimizer {
  switch (config.optimizer) {
    case 'rmsprop':
      return tf.train.rmsprop(config.learningRate, 0.9, 0, 1e-7);
    case 'adam':
      return tf.train.adam(config.learningRate, 0.9, 0.999, 1e-7);
    case 'sgd':
      return config.momentum > 0
        ? tf.train.momentum(config.learningRate, config.momentum)
        : tf.train.sgd(config.learningRate);
  }
}

/** The Keras loss name of a head with this many classes. */
export function lossName(numClasses: number): 'binaryCrossentropy' | 'categoricalCrossentropy' {
  return numClasses === 2 ? 'binaryCrossentropy' : 'categoricalCrossentropy';
}
