import * as tf from '@tensorflow/tfjs';
import type { ShardWeights } from './shard.ts';

/** Reads the Sequential head's dense weights into the transposed layout, cut into shards of its first units. */
export function shardWeightsOf(model: tf.Sequential, ranges: { lo: number; hi: number }[]): ShardWeights[] {
  const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
  const [first, second] = dense.map((l) => l.getWeights()) as [tf.Tensor[], tf.Tensor[] | undefined];
  const [k1, bias1] = first as [tf.Tensor2D, tf.Tensor1D];
  const dim = k1.shape[0];
  const transposed = (k: tf.Tensor) => {
    const t = tf.transpose(k);
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  };
  const w1t = transposed(k1); // [units1, d]
  const b1 = bias1.dataSync() as Float32Array;
  const [k2, bias2] = second ?? [];
  const w2 = k2 ? transposed(k2) : null; // [out, hidden]
  const hidden = k1.shape[1];
  const out = k2 ? (k2.shape[1] as number) : 0;
  return ranges.map(({ lo, hi }) => {
    let w2Part: Float32Array | null = null;
    if (w2) {
      w2Part = new Float32Array(out * (hi - lo));
      for (let o = 0; o < out; o++) w2Part.set(w2.subarray(o * hidden + lo, o * hidden + hi), o * (hi - lo));
    }
    return {
      w1t: w1t.slice(lo * dim, hi * dim),
      b1: b1.slice(lo, hi),
      w2: w2Part,
      b2: bias2 ? (bias2.dataSync() as Float32Array).slice() : null,
    };
  });
}

/** Writes the shards' weights (in unit order) back into the Sequential head as its Dense kernels and biases. */
export function assembleWeights(model: tf.Sequential, parts: ShardWeights[], dim: number): void {
  const first = parts[0] as ShardWeights;
  const units = parts.reduce((s, p) => s + p.b1.length, 0);
  const w1t = new Float32Array(units * dim);
  const b1 = new Float32Array(units);
  let row = 0;
  for (const p of parts) {
    w1t.set(p.w1t, row * dim);
    b1.set(p.b1, row);
    row += p.b1.length;
  }
  const weights = tf.tidy(() => {
    const list: tf.Tensor[] = [tf.transpose(tf.tensor2d(w1t, [units, dim])), tf.tensor1d(b1)];
    if (first.w2 && first.b2) {
      const out = first.b2.length;
      const w2 = tf.concat(
        parts.map((p) => tf.tensor2d(p.w2 as Float32Array, [out, p.b1.length])),
        1,
      );
      list.push(tf.transpose(w2), tf.tensor1d(first.b2));
    }
    return list;
  });
  model.setWeights(weights);
  tf.dispose(weights);
}
