import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropyStats, logitGradient } from './cross-entropy.ts';
import { type FeatureSplit, gatherRows, seededRandom } from './data.ts';
import type { PassMetrics } from './engine.ts';
import type { Exchange } from './exchange.ts';
import { VariableOptimizer } from './optimizer.ts';

/** Validation rows per forward pass (bounds the memory of one pass and the exchange's capacity). */
export const EVAL_ROWS = 500;

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
  w1: tf.Variable; // [units, d], the first kernel transposed
  b1: tf.Variable; // [units, 1]
  w2: tf.Variable | null; // [out, units]
  b2: tf.Variable | null; // [out, 1]
}

/**
 * A slice of the head along its hidden units, with the hand-written forward/backward pass of the fast
 * trainer. Activations are [units, batch] so that every large matMul runs without a transpose flag
 * (tfjs-wasm only sends flag-free products to XNNPACK): forward `W1t . x^T`, weight gradient `dA . x`,
 * no gradient with respect to the input. A step exchanges only the partial logits ([out, batch]) with the
 * other shards; each shard then turns the summed logits into probabilities, computes the loss gradient of
 * those few numbers in JS, back-propagates and updates its own units (one fused kernel per variable on
 * wasm). One shard holding every unit is the single-thread fast trainer; several shards in worker
 * threads are the parallel one.
 */
export class HeadShard {
  private readonly params: Params;
  private readonly optimizer: VariableOptimizer;
  private readonly batchBuffer: Float32Array;
  private readonly validation: { xT: tf.Tensor2D[]; yT: Float32Array[]; n: number } | null;
  private readonly random: () => number;
  private best: tf.Tensor[] | null = null;

  constructor(private readonly s: ShardInit) {
    this.batchBuffer = new Float32Array(s.config.batchSize * s.dim);
    // Every shard draws the whole dropout mask from the same seeded stream and keeps its own rows, so the
    // masks do not depend on how the units are split.
    this.random = seededRandom(s.config.seed ^ 0x5bd1e995);
    this.params = this.createParams(s.weights);
    this.optimizer = new VariableOptimizer(s.config);
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
    let stats: { loss: number; correct: number } | null = null;
    tf.tidy(() => {
      const x = tf.tensor2d(xData, [b, dim]);
      const maskT = mask ? tf.tensor2d(mask, [this.units, b]) : null;
      const { a1, h, partial } = this.forward(tf.transpose(x), maskT);
      const combined = exchange.combine(partial.dataSync() as Float32Array, wantStop);
      if (combined.stop) return;
      const p = this.probabilities(combined.sum, b);
      const { lossSum, correct } = crossEntropyStats(p, yT, out, b, weights);
      stats = { loss: lossSum / b, correct };

      const dz = tf.tensor2d(logitGradient(p, yT, out, b, weights), [out, b]);
      const { w1, b1, w2, b2 } = this.params;
      let da1: tf.Tensor2D = dz;
      if (w2 && b2 && h) {
        const dw2 = tf.matMul(dz, tf.transpose(h));
        let dh = tf.matMul(tf.transpose(w2), dz);
        if (maskT) dh = tf.mul(dh, maskT);
        da1 = tf.mul(dh, tf.step(a1));
        this.optimizer.apply(w2, dw2);
        // Every shard holds the output bias and updates it from the same bits: the copies stay equal.
        this.optimizer.apply(b2, tf.sum(dz, 1, true));
      }
      this.optimizer.apply(b1, tf.sum(da1, 1, true));
      this.optimizer.applyDense(w1, da1, x);
    });
    if (stats) this.optimizer.endStep();
    return stats;
  }

  /** Loss and accuracy on the validation split (no dropout, no class weights); null without one. */
  evaluate(exchange: Exchange): PassMetrics | null {
    const v = this.validation;
    if (!v) return null;
    let lossSum = 0;
    let correct = 0;
    v.xT.forEach((xT, i) => {
      const m = xT.shape[1];
      const partial = tf.tidy(() => this.forward(xT, null).partial.dataSync() as Float32Array);
      const p = this.probabilities(exchange.combine(partial, false).sum, m);
      const stats = crossEntropyStats(p, v.yT[i] as Float32Array, this.s.out, m, null);
      lossSum += stats.lossSum;
      correct += stats.correct;
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
    const data = (t: tf.Tensor) => (t.dataSync() as Float32Array).slice();
    return { w1t: data(w1), b1: data(b1), w2: w2 ? data(w2) : null, b2: b2 ? data(b2) : null };
  }

  /** Frees every tensor of the shard. */
  dispose(): void {
    tf.dispose(this.best ?? []);
    this.best = null;
    tf.dispose(this.variables());
    this.optimizer.dispose();
    if (this.validation) tf.dispose(this.validation.xT);
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
    const a1 = tf.add(tf.matMul(w1, xT), b1) as tf.Tensor2D;
    if (!w2) return { a1, h: null, partial: a1 };
    let h = tf.relu(a1);
    if (maskT) h = tf.mul(h, maskT);
    return { a1, h, partial: tf.matMul(w2, h) };
  }

  /** Probabilities [out, n] of the summed partial logits (plus the output bias). */
  private probabilities(sum: Float32Array, n: number): Float32Array {
    return tf.tidy(() => {
      let z = tf.tensor2d(sum, [this.s.out, n]);
      if (this.params.b2) z = tf.add(z, this.params.b2);
      const p = this.s.out === 1 ? tf.sigmoid(z) : tf.transpose(tf.softmax(tf.transpose(z)));
      return p.dataSync() as Float32Array;
    });
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
    // A variable shares its initial tensor's data: dispose the initial tensor, or it keeps that data alive.
    const variable = (values: Float32Array, shape: [number, number]) => {
      const initial = tf.tensor2d(values, shape);
      const v = tf.variable(initial);
      initial.dispose();
      return v;
    };
    return {
      w1: variable(w.w1t, [units, dim]),
      b1: variable(w.b1, [units, 1]),
      w2: w.w2 ? variable(w.w2, [out, units]) : null,
      b2: w.b2 ? variable(w.b2, [out, 1]) : null,
    };
  }

  private prepareValidation(split: FeatureSplit) {
    const { dim, out } = this.s;
    const n = split.labels.length;
    const xT: tf.Tensor2D[] = [];
    const yT: Float32Array[] = [];
    const ones = new Float32Array(out).fill(1);
    for (let start = 0; start < n; start += EVAL_ROWS) {
      const end = Math.min(start + EVAL_ROWS, n);
      const m = end - start;
      xT.push(
        tf.tidy(() => tf.transpose(tf.tensor2d(split.features.subarray(start * dim, end * dim), [m, dim]))),
      );
      yT.push(targets(split.labels, out, ones, null, start, end).yT);
    }
    return { xT, yT, n };
  }

  private variables(): tf.Variable[] {
    const { w1, b1, w2, b2 } = this.params;
    return [w1, b1, ...(w2 && b2 ? [w2, b2] : [])];
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
