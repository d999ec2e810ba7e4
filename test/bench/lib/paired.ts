// A paired comparison of two classifiers on the same test images: does one really beat the other?

/** Per image, whether a binary classifier's output (probability of class 1) is right at `threshold`. */
export function correctness(
  outputs: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): Uint8Array {
  return Uint8Array.from({ length: labels.length }, (_, i) =>
    ((outputs[i] as number) >= threshold ? 1 : 0) === labels[i] ? 1 : 0,
  );
}

/** Accuracy difference `a - b` with its 95% confidence interval. */
export interface PairedDifference {
  difference: number;
  low: number;
  high: number;
  /** The interval lies above 0: `a` is more accurate than `b` on such images. */
  better: boolean;
}

/**
 * The accuracy difference of two classifiers scored on the same images, with a 95% interval from the
 * per-image differences (normal approximation of their mean, as McNemar's test for paired outcomes): the
 * images both get right or both get wrong add nothing, only where they disagree counts.
 */
export function pairedDifference(a: Uint8Array, b: Uint8Array): PairedDifference {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired: ${a.length} vs ${b.length} images`);
  const n = a.length;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    sum += d;
    squares += d * d;
  }
  const mean = sum / n;
  const variance = n > 1 ? (squares - n * mean * mean) / (n - 1) : 0;
  const half = 1.96 * Math.sqrt(variance / n);
  return { difference: mean, low: mean - half, high: mean + half, better: mean - half > 0 };
}
