import type { HeadConfig } from '@edgehead/contracts';
import type * as tf from '@tensorflow/tfjs';
import { averagePool, type FeatureSplit } from './data.ts';
import { type PassMetrics, type TrainingEngine, yieldToEventLoop } from './engine.ts';
import { localExchange } from './exchange.ts';
import { outputUnits } from './model.ts';
import { HeadShard } from './shard.ts';
import { assembleWeights, shardWeightsOf } from './shard-weights.ts';

/** Batches between two yields to the event loop (so an abort is seen within a few milliseconds). */
const YIELD_EVERY = 8;

/** Pools features as the config asks ('avg': GlobalAveragePooling2D), once, before training. */
export function pooled(
  config: HeadConfig,
  featureShape: readonly number[],
  split: FeatureSplit,
): FeatureSplit {
  return config.pooling === 'avg'
    ? { features: averagePool(split.features, featureShape), labels: split.labels }
    : split;
}

/** Units of the first Dense layer (the hidden layer, or the output layer of a head without one). */
export function firstUnits(config: HeadConfig, numClasses: number): number {
  return config.hiddenUnits > 0 ? config.hiddenUnits : outputUnits(numClasses);
}

/**
 * The fast trainer on the calling thread: one `HeadShard` holding every unit (see shard.ts for the
 * transposed layout that keeps tfjs-wasm's products on XNNPACK). Same maths as `model.fit` (same initial
 * weights, optimizer, loss, batches).
 */
export class FastEngine implements TrainingEngine {
  private readonly shard: HeadShard;
  private readonly dim: number;

  constructor(
    private readonly model: tf.Sequential,
    private readonly config: HeadConfig,
    featureShape: readonly number[],
    numClasses: number,
    train: FeatureSplit,
    validation: FeatureSplit | undefined,
    classWeights: Float32Array,
  ) {
    const pooledTrain = pooled(config, featureShape, train);
    this.dim = pooledTrain.features.length / train.labels.length;
    const units = firstUnits(config, numClasses);
    const [weights] = shardWeightsOf(model, [{ lo: 0, hi: units }]);
    this.shard = new HeadShard({
      config,
      dim: this.dim,
      out: outputUnits(numClasses),
      lo: 0,
      hi: units,
      train: pooledTrain,
      validation: validation ? pooled(config, featureShape, validation) : null,
      classWeights,
      weights: weights as NonNullable<typeof weights>,
    });
  }

  async trainEpoch(order: Int32Array, shouldStop: () => boolean): Promise<PassMetrics | null> {
    const n = order.length;
    const { batchSize } = this.config;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0, batch = 0; start < n; start += batchSize, batch++) {
      if (batch % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      if (shouldStop()) return null;
      const end = Math.min(start + batchSize, n);
      const stats = this.shard.step(order, start, end, localExchange, false);
      if (!stats) return null;
      lossSum += stats.loss * (end - start);
      correct += stats.correct;
    }
    return { loss: lossSum / n, accuracy: correct / n };
  }

  async evaluate(): Promise<PassMetrics | null> {
    return this.shard.evaluate(localExchange);
  }

  async snapshot(): Promise<void> {
    this.shard.snapshot();
  }

  async restore(): Promise<void> {
    this.shard.restore();
  }

  async finish(): Promise<tf.LayersModel> {
    assembleWeights(this.model, [this.shard.weights()], this.dim);
    this.shard.dispose();
    return this.model;
  }

  async dispose(): Promise<void> {
    this.shard.dispose();
  }
}
