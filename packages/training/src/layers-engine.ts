import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { type FeatureSplit, gatherRows } from './data.ts';
import type { PassMetrics, TrainingEngine } from './engine.ts';
import { lossName, makeOptimizer, outputUnits } from './model.ts';

/**
 * The reference engine: plain tfjs `model.fit`, one epoch per call on rows in the seeded order that the
 * fast engine uses (so both see the same batches). Slow on wasm/cpu (transposed matMuls in the backward
 * pass); kept as the baseline for tests and benchmarks and as a fallback.
 */
export class LayersEngine implements TrainingEngine {
  private readonly dim: number;
  private readonly n: number;
  private readonly validation: [tf.Tensor, tf.Tensor] | null;
  private best: tf.Tensor[] | null = null;

  constructor(
    private readonly model: tf.Sequential,
    private readonly config: HeadConfig,
    private readonly featureShape: readonly number[],
    private readonly numClasses: number,
    private readonly train: FeatureSplit,
    validation: FeatureSplit | undefined,
    private readonly classWeights: Float32Array,
  ) {
    this.n = train.labels.length;
    this.dim = train.features.length / this.n;
    model.compile({ optimizer: makeOptimizer(config), loss: lossName(numClasses), metrics: ['accuracy'] });
    this.validation = validation
      ? [
          tf.tensor(validation.features, [validation.labels.length, ...featureShape]),
          this.targets(validation.labels, null),
        ]
      : null;
  }

  async trainEpoch(order: Int32Array, shouldStop: () => boolean): Promise<PassMetrics | null> {
    const rows = gatherRows(
      this.train.features,
      this.dim,
      order,
      0,
      order.length,
      new Float32Array(order.length * this.dim),
    );
    const x = tf.tensor(rows, [order.length, ...this.featureShape]);
    const y = this.targets(this.train.labels, order);
    let stopped = false;
    try {
      const history = await this.model.fit(x, y, {
        epochs: 1,
        batchSize: this.config.batchSize,
        shuffle: false,
        classWeight: Object.fromEntries(Array.from(this.classWeights, (w, c) => [c, w])),
        verbose: 0,
        callbacks: {
          onBatchEnd: async () => {
            if (shouldStop()) {
              stopped = true;
              this.model.stopTraining = true;
            }
          },
        },
      });
      if (stopped) return null;
      const value = (key: string) => Number(history.history[key]?.[0]);
      return { loss: value('loss'), accuracy: value('acc') };
    } finally {
      tf.dispose([x, y]);
    }
  }

  async evaluate(): Promise<PassMetrics | null> {
    if (!this.validation) return null;
    const [x, y] = this.validation;
    const result = this.model.evaluate(x, y, { batchSize: 500 }) as tf.Scalar[];
    const [loss, accuracy] = result.map((t) => t.dataSync()[0] as number) as [number, number];
    tf.dispose(result);
    return { loss, accuracy };
  }

  async snapshot(): Promise<void> {
    tf.dispose(this.best ?? []);
    this.best = this.model.getWeights().map((w) => tf.clone(w));
  }

  async restore(): Promise<void> {
    if (this.best) this.model.setWeights(this.best);
  }

  async finish(): Promise<tf.LayersModel> {
    await this.dispose();
    return this.model;
  }

  async dispose(): Promise<void> {
    tf.dispose(this.best ?? []);
    this.best = null;
    tf.dispose(this.validation ?? []);
  }

  private targets(labels: ArrayLike<number>, order: Int32Array | null): tf.Tensor {
    const n = order ? order.length : labels.length;
    const out = outputUnits(this.numClasses);
    const y = new Float32Array(n * out);
    for (let i = 0; i < n; i++) {
      const label = labels[order ? (order[i] as number) : i] as number;
      if (out === 1) y[i] = label;
      else y[i * out + label] = 1;
    }
    return tf.tensor2d(y, [n, out]);
  }
}
