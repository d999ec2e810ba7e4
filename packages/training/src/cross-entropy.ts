/**
 * The output end of the head on a handful of numbers (out x batch probabilities), in plain JS: the loss and
 * hits that are reported, and the gradient of the mean weighted loss with respect to the logits. Layout is
 * [out, n]: row k holds class k's probability (or the one sigmoid output) of every sample.
 */

const f32 = Math.fround;
/** Keras's epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON] inside the loss. */
export const EPSILON = f32(1e-7);
const ONE_MINUS_EPSILON = f32(1 - 1e-7);

/** Sum over samples of the (optionally weighted) clipped cross-entropy, and the number of right answers. */
export function crossEntropyStats(
  p: Float32Array,
  yT: Float32Array,
  out: number,
  n: number,
  sampleWeights: Float32Array | null,
): { lossSum: number; correct: number } {
  const clip = (v: number) => Math.min(Math.max(v, EPSILON), ONE_MINUS_EPSILON);
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let loss = 0;
    let hit: boolean;
    if (out === 1) {
      const pi = p[i] as number;
      const yi = yT[i] as number;
      loss = -(yi * Math.log(clip(pi)) + (1 - yi) * Math.log(1 - clip(pi)));
      hit = pi > 0.5 === yi > 0.5;
    } else {
      let predicted = 0;
      let actual = 0;
      for (let k = 0; k < out; k++) {
        const pk = p[k * n + i] as number;
        const yk = yT[k * n + i] as number;
        loss -= yk * Math.log(clip(pk));
        if (pk > (p[predicted * n + i] as number)) predicted = k;
        if (yk > (yT[actual * n + i] as number)) actual = k;
      }
      hit = predicted === actual;
    }
    lossSum += loss * (sampleWeights ? (sampleWeights[i] as number) : 1);
    if (hit) correct++;
  }
  return { lossSum, correct };
}

/**
 * d(mean weighted loss)/d(logits) for sigmoid + binary cross-entropy and softmax + categorical
 * cross-entropy: (p - y) * w / n, and 0 where the loss clipped p (as tfjs's autodiff of the Keras loss
 * gives). Rounded to f32 after each operation, as the same ops on tensors would be.
 */
export function logitGradient(
  p: Float32Array,
  yT: Float32Array,
  out: number,
  n: number,
  sampleWeights: Float32Array,
): Float32Array {
  const dz = new Float32Array(out * n);
  for (let k = 0; k < out; k++) {
    for (let i = 0; i < n; i++) {
      const j = k * n + i;
      const pj = p[j] as number;
      if (pj > EPSILON && pj < ONE_MINUS_EPSILON) {
        dz[j] = f32(f32(f32(pj - (yT[j] as number)) * (sampleWeights[i] as number)) / n);
      }
    }
  }
  return dz;
}
