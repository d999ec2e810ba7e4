import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { averagePool, type FeatureSplit, gatherRows, seededRandom } from './data.ts';
import { type PassMetrics, type TrainingEngine, yieldToEventLoop } from './engine.ts';
import { outputUnits } from './model.ts';
import { ChunkedOptimizer } from './optimizer.ts';

/** About 1 MiB of float32 per chunk of the first kernel: the optimizer's elementwise ops stay in L2. */
const CHUNK_VALUES = 1 << 18;
/** Validation rows per forward pass (bounds the memory of one pass). */
const EVAL_ROWS = 500;
/** Batches between two yields to the event loop (so an abort is seen within a few milliseconds). */
const YIELD_EVERY = 8;
const EPSILON = 1e-7;

interface Params {
  /** First kernel, transposed ([units1, d]) and split by rows into chunks. */
  w1: tf.Variable[];
  b1: tf.Variable; // [units1, 1]
  w2: tf.Variable | null; // [out, hidden]
  b2: tf.Variable | null; // [out, 1]
}

/**
 * The fast trainer: a hand-written forward/backward pass in a transposed layout, so that every large
 * matMul runs without a transpose flag (tfjs-wasm only sends flag-free products to XNNPACK; flagged ones
 * take a scalar loop 25-30x slower). Activations are [units, batch]: forward `W1t . x^T`, weight gradient
 * `dA^T . x`, never a gradient with respect to the input. The first kernel lives in row chunks, each updated
 * right after its gradient is computed. Same maths as `model.fit` (same initial weights, optimizer, loss).
 */
export class FastEngine implements TrainingEngine {
  private readonly params: Params;
  private readonly optimizer: ChunkedOptimizer;
  private readonly dim: number;
  private readonly out: number;
  private readonly x: Float32Array;
  private readonly labels: ArrayLike<number>;
  private readonly batchBuffer: Float32Array;
  private readonly validation: { xT: tf.Tensor2D[]; yT: tf.Tensor2D[]; n: number } | null;
  private readonly random: () => number;
  private best: tf.Tensor[] | null = null;

  constructor(
    private readonly model: tf.Sequential,
    private readonly config: HeadConfig,
    featureShape: readonly number[],
    numClasses: number,
    train: FeatureSplit,
    validation: FeatureSplit | undefined,
    private readonly classWeights: Float32Array,
  ) {
    const pool = (f: Float32Array) => (config.pooling === 'avg' ? averagePool(f, featureShape) : f);
    this.x = pool(train.features);
    this.labels = train.labels;
    this.dim = this.x.length / train.labels.length;
    this.out = outputUnits(numClasses);
    this.batchBuffer = new Float32Array(config.batchSize * this.dim);
    this.random = seededRandom(config.seed ^ 0x5bd1e995);
    this.params = this.paramsFromModel();
    this.optimizer = new ChunkedOptimizer(config);
    this.validation = validation
      ? this.prepareValidation(pool(validation.features), validation.labels)
      : null;
  }

  async trainEpoch(order: Int32Array, shouldStop: () => boolean): Promise<PassMetrics | null> {
    const n = order.length;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0, batch = 0; start < n; start += this.config.batchSize, batch++) {
      if (batch % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      if (shouldStop()) return null;
      const end = Math.min(start + this.config.batchSize, n);
      const stats = this.step(order, start, end);
      lossSum += stats.loss * (end - start);
      correct += stats.correct;
    }
    return { loss: lossSum / n, accuracy: correct / n };
  }

  evaluate(): PassMetrics | null {
    const v = this.validation;
    if (!v) return null;
    let lossSum = 0;
    let correct = 0;
    v.xT.forEach((xT, i) => {
      const yT = v.yT[i] as tf.Tensor2D;
      const [loss, hits] = tf.tidy(() => {
        const p = this.probabilities(this.forward(xT, null).z);
        return [tf.sum(this.sampleLoss(p, yT)), this.correctCount(p, yT)];
      });
      lossSum += loss.dataSync()[0] as number;
      correct += hits.dataSync()[0] as number;
      tf.dispose([loss, hits]);
    });
    return { loss: lossSum / v.n, accuracy: correct / v.n };
  }

  snapshot(): void {
    tf.dispose(this.best ?? []);
    this.best = this.variables().map((v) => tf.clone(v));
  }

  restore(): void {
    if (!this.best) return;
    const best = this.best;
    for (const [i, v] of this.variables().entries()) v.assign(best[i] as tf.Tensor);
  }

  finish(): tf.LayersModel {
    const weights = tf.tidy(() => {
      const { w1, b1, w2, b2 } = this.params;
      const kernel1 = tf.transpose(w1.length === 1 ? (w1[0] as tf.Variable) : tf.concat(w1, 0));
      // Biases are copied, not reshaped: tfjs-wasm keeps the shape on the shared data, and its fused
      // matMul rejects a bias whose data was created as [units, 1].
      const vector = (b: tf.Variable) => tf.tensor1d(b.dataSync() as Float32Array);
      const list = [kernel1, vector(b1)];
      if (w2 && b2) list.push(tf.transpose(w2), vector(b2));
      return list;
    });
    this.model.setWeights(weights);
    tf.dispose(weights);
    tf.dispose(this.best ?? []);
    tf.dispose(this.variables());
    this.optimizer.dispose();
    if (this.validation) tf.dispose([...this.validation.xT, ...this.validation.yT]);
    return this.model;
  }

  /** One optimizer step on rows order[start..end); returns the batch's mean weighted loss and hits. */
  private step(order: Int32Array, start: number, end: number): { loss: number; correct: number } {
    const b = end - start;
    const xData = gatherRows(this.x, this.dim, order, start, end, this.batchBuffer);
    const { yT, weights } = this.batchTargets(order, start, end);
    const mask = this.dropoutMask(b);
    const { loss, correct } = tf.tidy(() => {
      const x = tf.tensor2d(xData, [b, this.dim]);
      const xT = tf.transpose(x);
      const y = tf.tensor2d(yT, [this.out, b]);
      const sw = tf.tensor2d(weights, [1, b]);
      const maskT = mask ? tf.tensor2d(mask, [this.config.hiddenUnits, b]) : null;
      const { a1, h, z } = this.forward(xT, maskT);
      const p = this.probabilities(z);
      const loss = tf.mean(tf.mul(this.sampleLoss(p, y), sw));
      const correct = this.correctCount(p, y);

      // d(mean weighted loss)/dz for sigmoid+BCE and softmax+CCE; zero where tfjs clips p (as its autodiff does).
      const inRange = tf.logicalAnd(tf.greater(p, EPSILON), tf.less(p, 1 - EPSILON));
      const dz = tf.where(inRange, tf.div(tf.mul(tf.sub(p, y), sw), b), tf.zerosLike(p)) as tf.Tensor2D;
      const { w1, b1, w2, b2 } = this.params;
      let da1: tf.Tensor2D = dz;
      if (w2 && b2 && h) {
        const dw2 = tf.matMul(dz, tf.transpose(h));
        const db2 = tf.sum(dz, 1, true);
        let dh = tf.matMul(tf.transpose(w2), dz);
        if (maskT) dh = tf.mul(dh, maskT);
        da1 = tf.mul(dh, tf.step(a1));
        this.optimizer.apply(w2, dw2);
        this.optimizer.apply(b2, db2);
      }
      this.optimizer.apply(b1, tf.sum(da1, 1, true));
      let row = 0;
      for (const chunk of w1) {
        const rows = chunk.shape[0] as number;
        tf.tidy(() => {
          const gradient = tf.matMul(w1.length === 1 ? da1 : tf.slice(da1, [row, 0], [rows, b]), x);
          this.optimizer.apply(chunk, gradient);
        });
        row += rows;
      }
      return { loss: tf.keep(loss), correct: tf.keep(correct) };
    });
    this.optimizer.endStep();
    const result = { loss: loss.dataSync()[0] as number, correct: correct.dataSync()[0] as number };
    tf.dispose([loss, correct]);
    return result;
  }

  /** Forward pass on xT [d, n]: pre-activations, hidden activations and logits, all [units, n]. */
  private forward(xT: tf.Tensor2D, maskT: tf.Tensor2D | null) {
    const { w1, b1, w2, b2 } = this.params;
    const parts = w1.map((chunk) => tf.matMul(chunk, xT));
    const a1 = tf.add(
      parts.length === 1 ? (parts[0] as tf.Tensor2D) : tf.concat(parts, 0),
      b1,
    ) as tf.Tensor2D;
    if (!w2 || !b2) return { a1, h: null, z: a1 };
    let h = tf.relu(a1);
    if (maskT) h = tf.mul(h, maskT);
    const z = tf.add(tf.matMul(w2, h), b2) as tf.Tensor2D;
    return { a1, h, z };
  }

  private probabilities(z: tf.Tensor2D): tf.Tensor2D {
    return this.out === 1 ? tf.sigmoid(z) : tf.transpose(tf.softmax(tf.transpose(z)));
  }

  /** Per-sample cross-entropy [1, n] with Keras clipping of p to [eps, 1 - eps]. */
  private sampleLoss(p: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const pc = tf.clipByValue(p, EPSILON, 1 - EPSILON);
    if (this.out === 1) {
      return tf.neg(
        tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc)))),
      ) as tf.Tensor2D;
    }
    return tf.neg(tf.sum(tf.mul(y, tf.log(pc)), 0, true)) as tf.Tensor2D;
  }

  private correctCount(p: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
    if (this.out === 1) return tf.sum(tf.cast(tf.equal(tf.greater(p, 0.5), tf.greater(y, 0.5)), 'float32'));
    return tf.sum(tf.cast(tf.equal(tf.argMax(p, 0), tf.argMax(y, 0)), 'float32'));
  }

  /** Targets [out, b] (0/1 for binary, one-hot columns otherwise) and per-sample class weights. */
  private batchTargets(order: Int32Array, start: number, end: number) {
    const b = end - start;
    const yT = new Float32Array(this.out * b);
    const weights = new Float32Array(b);
    for (let i = 0; i < b; i++) {
      const label = this.labels[order[start + i] as number] as number;
      if (this.out === 1) yT[i] = label;
      else yT[label * b + i] = 1;
      weights[i] = this.classWeights[label] as number;
    }
    return { yT, weights };
  }

  /** Seeded inverted-dropout mask [hidden, b]: 0 or 1/(1 - rate), like Keras. */
  private dropoutMask(b: number): Float32Array | null {
    const { dropout, hiddenUnits } = this.config;
    if (dropout === 0 || hiddenUnits === 0) return null;
    const keep = 1 - dropout;
    const scale = 1 / keep;
    const mask = new Float32Array(hiddenUnits * b);
    for (let i = 0; i < mask.length; i++) mask[i] = this.random() < keep ? scale : 0;
    return mask;
  }

  /** Takes the Sequential model's (seeded) initial weights into the transposed, chunked layout. */
  private paramsFromModel(): Params {
    const dense = this.model.layers.filter((l) => l.getClassName() === 'Dense');
    const [first, second] = dense.map((l) => l.getWeights()) as [tf.Tensor[], tf.Tensor[] | undefined];
    return tf.tidy(() => {
      const [k1, bias1] = first as [tf.Tensor2D, tf.Tensor1D];
      const w1t = tf.transpose(k1); // [units1, d]
      const units1 = w1t.shape[0];
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_VALUES / this.dim));
      const w1: tf.Variable[] = [];
      for (let r = 0; r < units1; r += rowsPerChunk) {
        w1.push(tf.variable(tf.slice(w1t, [r, 0], [Math.min(rowsPerChunk, units1 - r), this.dim])));
      }
      const params: Params = { w1, b1: tf.variable(tf.reshape(bias1, [-1, 1])), w2: null, b2: null };
      if (second) {
        const [k2, bias2] = second as [tf.Tensor2D, tf.Tensor1D];
        params.w2 = tf.variable(tf.transpose(k2));
        params.b2 = tf.variable(tf.reshape(bias2, [-1, 1]));
      }
      return params as unknown as tf.Tensor[];
    }) as unknown as Params;
  }

  private prepareValidation(features: Float32Array, labels: ArrayLike<number>) {
    const n = labels.length;
    const xT: tf.Tensor2D[] = [];
    const yT: tf.Tensor2D[] = [];
    for (let start = 0; start < n; start += EVAL_ROWS) {
      const end = Math.min(start + EVAL_ROWS, n);
      const m = end - start;
      xT.push(
        tf.tidy(() =>
          tf.transpose(tf.tensor2d(features.subarray(start * this.dim, end * this.dim), [m, this.dim])),
        ),
      );
      const y = new Float32Array(this.out * m);
      for (let i = 0; i < m; i++) {
        const label = labels[start + i] as number;
        if (this.out === 1) y[i] = label;
        else y[label * m + i] = 1;
      }
      yT.push(tf.tensor2d(y, [this.out, m]));
    }
    return { xT, yT, n };
  }

  private variables(): tf.Variable[] {
    const { w1, b1, w2, b2 } = this.params;
    return [...w1, b1, ...(w2 && b2 ? [w2, b2] : [])];
  }
}
