import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs-core';
import { type FeatureSplit, gatherRows, seededRandom } from './data.ts';
import type { PassMetrics } from './engine.ts';
import type { Exchange } from './exchange.ts';
import { ChunkedOptimizer } from './optimizer.ts';

/** About 1 MiB of float32 per chunk of the first kernel: the optimizer's elementwise ops stay in L2. */
const CHUNK_VALUES = 1 << 18;
/** Validation rows per forward pass (bounds the memory of one pass and the exchange's capacity). */
export const EVAL_ROWS = 500;
const EPSILON = 1e-7;

/**
 * One shard's share of the head's weights, as plain arrays (what crosses a thread boundary): the first
 * kernel's rows for hidden units [lo, hi) transposed ([units, d]) and their biases, and the matching
 * columns of the second kernel ([out, units]) with the (replicated) output bias. Without a hidden layer
 * the first kernel is the output layer ([out, d]) and w2/b2 are null.
 */
export interface ShardWeights {
  w1t: Float32Array;
  b1: Float32Array;
  w2: Float32Array | null;
  b2: Float32Array | null;
}

/** Everything a shard needs; features are already pooled (row-major [n, dim]). */
export interface ShardInit {
  config: HeadConfig;
  dim: number;
  /** Output units (1 for a sigmoid head). */
  out: number;
  /** Hidden units owned by this shard, [lo, hi) of config.hiddenUnits (or [0, out) without a hidden layer). */
  lo: number;
  hi: number;
  train: FeatureSplit;
  validation: FeatureSplit | null;
  classWeights: Float32Array;
  weights: ShardWeights;
}

interface Params {
  /** First kernel, transposed ([units, d]) and split by rows into chunks. */
  w1: tf.Variable[];
  b1: tf.Variable; // [units, 1]
  w2: tf.Variable | null; // [out, units]
  b2: tf.Variable | null; // [out, 1]
}

/**
 * A slice of the head along its hidden units, with the hand-written forward/backward pass of the fast
 * trainer. Activations are [units, batch] so that every large matMul runs without a transpose flag
 * (tfjs-wasm only sends flag-free products to XNNPACK): forward `W1t . x^T`, weight gradient `dA . x`,
 * no gradient with respect to the input. A step exchanges only the partial logits ([out, batch]) with the
 * other shards; each shard then back-propagates and updates its own units. One shard holding every unit
 * is the single-thread fast trainer; several shards in worker threads are the parallel one.
 */
export class HeadShard {
  private readonly params: Params;
  private readonly optimizer: ChunkedOptimizer;
  private readonly batchBuffer: Float32Array;
  private readonly validation: { xT: tf.Tensor2D[]; yT: tf.Tensor2D[]; n: number } | null;
  private readonly random: () => number;
  private best: tf.Tensor[] | null = null;

  constructor(private readonly s: ShardInit) {
    this.batchBuffer = new Float32Array(s.config.batchSize * s.dim);
    // Every shard draws the whole dropout mask from the same seeded stream and keeps its own rows, so the
    // masks do not depend on how the units are split.
    this.random = seededRandom(s.config.seed ^ 0x5bd1e995);
    this.params = this.createParams(s.weights);
    this.optimizer = new ChunkedOptimizer(s.config);
    this.validation = s.validation ? this.prepareValidation(s.validation) : null;
  }

  /**
   * One optimizer step on rows order[start..end); the batch's mean weighted loss and hits, or null when
   * shard 0 decided to stop (`wantStop`, passed on through the exchange), in which case nothing changed.
   */
  step(
    order: Int32Array,
    start: number,
    end: number,
    exchange: Exchange,
    wantStop: boolean,
  ): { loss: number; correct: number } | null {
    const { dim, out } = this.s;
    const b = end - start;
    const xData = gatherRows(this.s.train.features, dim, order, start, end, this.batchBuffer);
    const { yT, weights } = targets(this.s.train.labels, out, this.s.classWeights, order, start, end);
    const mask = this.dropoutMask(b);
    let stopped = false;
    const result = tf.tidy(() => {
      const x = tf.tensor2d(xData, [b, dim]);
      const xT = tf.transpose(x);
      const maskT = mask ? tf.tensor2d(mask, [this.units, b]) : null;
      const { a1, h, partial } = this.forward(xT, maskT);
      const combined = exchange.combine(partial.dataSync() as Float32Array, wantStop);
      if (combined.stop) {
        stopped = true;
        return [];
      }
      const z = this.logits(combined.sum, b);
      const y = tf.tensor2d(yT, [out, b]);
      const sw = tf.tensor2d(weights, [1, b]);
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
        // Every shard holds the output bias and updates it from the same bits: the copies stay equal.
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
      return [loss, correct];
    });
    if (stopped) return null;
    this.optimizer.endStep();
    const [loss, correct] = result as [tf.Scalar, tf.Scalar];
    const stats = { loss: loss.dataSync()[0] as number, correct: correct.dataSync()[0] as number };
    tf.dispose([loss, correct]);
    return stats;
  }

  /** Loss and accuracy on the validation split (no dropout, no class weights); null without one. */
  evaluate(exchange: Exchange): PassMetrics | null {
    const v = this.validation;
    if (!v) return null;
    let lossSum = 0;
    let correct = 0;
    v.xT.forEach((xT, i) => {
      const yT = v.yT[i] as tf.Tensor2D;
      const m = xT.shape[1];
      const [loss, hits] = tf.tidy(() => {
        const { partial } = this.forward(xT, null);
        const { sum } = exchange.combine(partial.dataSync() as Float32Array, false);
        const p = this.probabilities(this.logits(sum, m));
        return [tf.sum(this.sampleLoss(p, yT)), this.correctCount(p, yT)];
      });
      lossSum += loss.dataSync()[0] as number;
      correct += hits.dataSync()[0] as number;
      tf.dispose([loss, hits]);
    });
    return { loss: lossSum / v.n, accuracy: correct / v.n };
  }

  /** Remembers the current weights (for restoring the best epoch). */
  snapshot(): void {
    tf.dispose(this.best ?? []);
    this.best = this.variables().map((v) => tf.clone(v));
  }

  /** Puts the remembered weights back. */
  restore(): void {
    if (!this.best) return;
    const best = this.best;
    for (const [i, v] of this.variables().entries()) v.assign(best[i] as tf.Tensor);
  }

  /** The current weights as plain arrays. */
  weights(): ShardWeights {
    const { w1, b1, w2, b2 } = this.params;
    const rows = tf.tidy(() => (w1.length === 1 ? tf.clone(w1[0] as tf.Variable) : tf.concat(w1, 0)));
    const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const result = {
      w1t: data(rows).slice(),
      b1: data(b1).slice(),
      w2: w2 ? data(w2).slice() : null,
      b2: b2 ? data(b2).slice() : null,
    };
    rows.dispose();
    return result;
  }

  /** Frees every tensor of the shard. */
  dispose(): void {
    tf.dispose(this.best ?? []);
    this.best = null;
    tf.dispose(this.variables());
    this.optimizer.dispose();
    if (this.validation) tf.dispose([...this.validation.xT, ...this.validation.yT]);
  }

  private get units(): number {
    return this.s.hi - this.s.lo;
  }

  /**
   * Forward pass on xT [d, n]: pre-activations and hidden activations [units, n], and this shard's
   * partial logits [out, n] (the output bias is added once, after the exchange).
   */
  private forward(xT: tf.Tensor2D, maskT: tf.Tensor2D | null) {
    const { w1, b1, w2 } = this.params;
    const parts = w1.map((chunk) => tf.matMul(chunk, xT));
    const a1 = tf.add(
      parts.length === 1 ? (parts[0] as tf.Tensor2D) : tf.concat(parts, 0),
      b1,
    ) as tf.Tensor2D;
    if (!w2) return { a1, h: null, partial: a1 };
    let h = tf.relu(a1);
    if (maskT) h = tf.mul(h, maskT);
    return { a1, h, partial: tf.matMul(w2, h) };
  }

  private logits(sum: Float32Array, n: number): tf.Tensor2D {
    const z = tf.tensor2d(sum, [this.s.out, n]);
    return this.params.b2 ? (tf.add(z, this.params.b2) as tf.Tensor2D) : z;
  }

  private probabilities(z: tf.Tensor2D): tf.Tensor2D {
    return this.s.out === 1 ? tf.sigmoid(z) : tf.transpose(tf.softmax(tf.transpose(z)));
  }

  /** Per-sample cross-entropy [1, n] with Keras clipping of p to [eps, 1 - eps]. */
  private sampleLoss(p: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const pc = tf.clipByValue(p, EPSILON, 1 - EPSILON);
    if (this.s.out === 1) {
      return tf.neg(
        tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc)))),
      ) as tf.Tensor2D;
    }
    return tf.neg(tf.sum(tf.mul(y, tf.log(pc)), 0, true)) as tf.Tensor2D;
  }

  private correctCount(p: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
    if (this.s.out === 1) return tf.sum(tf.cast(tf.equal(tf.greater(p, 0.5), tf.greater(y, 0.5)), 'float32'));
    return tf.sum(tf.cast(tf.equal(tf.argMax(p, 0), tf.argMax(y, 0)), 'float32'));
  }

  /** This shard's rows [units, b] of the seeded inverted-dropout mask [hidden, b]: 0 or 1/(1 - rate). */
  private dropoutMask(b: number): Float32Array | null {
    const { dropout, hiddenUnits } = this.s.config;
    if (dropout === 0 || hiddenUnits === 0) return null;
    const keep = 1 - dropout;
    const scale = 1 / keep;
    const mask = new Float32Array(this.units * b);
    const from = this.s.lo * b;
    const to = this.s.hi * b;
    for (let i = 0; i < hiddenUnits * b; i++) {
      const value = this.random() < keep ? scale : 0;
      if (i >= from && i < to) mask[i - from] = value;
    }
    return mask;
  }

  private createParams(w: ShardWeights): Params {
    const { dim, out } = this.s;
    const units = this.units;
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_VALUES / dim));
    // A variable shares its initial tensor's data: dispose the initial tensor, or it keeps that data alive.
    const variable = (values: Float32Array, shape: [number, number]) => {
      const initial = tf.tensor2d(values, shape);
      const v = tf.variable(initial);
      initial.dispose();
      return v;
    };
    const w1: tf.Variable[] = [];
    for (let r = 0; r < units; r += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, units - r);
      w1.push(variable(w.w1t.subarray(r * dim, (r + rows) * dim), [rows, dim]));
    }
    return {
      w1,
      b1: variable(w.b1, [units, 1]),
      w2: w.w2 ? variable(w.w2, [out, units]) : null,
      b2: w.b2 ? variable(w.b2, [out, 1]) : null,
    };
  }

  private prepareValidation(split: FeatureSplit) {
    const { dim, out } = this.s;
    const n = split.labels.length;
    const xT: tf.Tensor2D[] = [];
    const yT: tf.Tensor2D[] = [];
    for (let start = 0; start < n; start += EVAL_ROWS) {
      const end = Math.min(start + EVAL_ROWS, n);
      const m = end - start;
      xT.push(
        tf.tidy(() => tf.transpose(tf.tensor2d(split.features.subarray(start * dim, end * dim), [m, dim]))),
      );
      const ones = new Float32Array(out).fill(1);
      yT.push(tf.tensor2d(targets(split.labels, out, ones, null, start, end).yT, [out, m]));
    }
    return { xT, yT, n };
  }

  private variables(): tf.Variable[] {
    const { w1, b1, w2, b2 } = this.params;
    return [...w1, b1, ...(w2 && b2 ? [w2, b2] : [])];
  }
}

/**
 * Targets [out, b] (0/1 for binary, one-hot columns otherwise) and per-sample class weights of rows
 * `order[start..end)` (or start..end when order is null).
 */
function targets(
  labels: ArrayLike<number>,
  out: number,
  classWeights: Float32Array,
  order: Int32Array | null,
  start: number,
  end: number,
) {
  const b = end - start;
  const yT = new Float32Array(out * b);
  const weights = new Float32Array(b);
  for (let i = 0; i < b; i++) {
    const label = labels[order ? (order[start + i] as number) : start + i] as number;
    if (out === 1) yT[i] = label;
    else yT[label * b + i] = 1;
    weights[i] = classWeights[label] as number;
  }
  return { yT, weights };
}

/** Hidden units [lo, hi) of shard `index` of `count` (the first shards take the remainder). */
export function shardRange(units: number, index: number, count: number): { lo: number; hi: number } {
  const base = Math.floor(units / count);
  const extra = units % count;
  const lo = index * base + Math.min(index, extra);
  return { lo, hi: lo + base + (index < extra ? 1 : 0) };
}
