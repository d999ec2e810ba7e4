import type { ClassWeight } from '@edgehead/contracts';
import { TrainingError } from './errors.ts';

/** One split: `features` is row-major [n, product(featureShape)], `labels` are class indices. */
export interface FeatureSplit {
  features: Float32Array;
  labels: ArrayLike<number>;
}

/** What `trainHead` learns from. */
export interface TrainInput {
  /** Shape of one feature vector, e.g. [4, 4, 512] for VGG16 at 150x150. */
  featureShape: readonly number[];
  /** Number of classes (2 = binary sigmoid head, more = softmax). */
  numClasses: number;
  train: FeatureSplit;
  validation?: FeatureSplit;
  /**
   * Augmented copies of the training rows (an augmented feature set): `features` is row-major
   * [n * copies, d], copy c of train row i at row i * copies + c. Each epoch then draws, per training row,
   * the original or one of its copies (uniformly, seeded by the config's seed); validation is never augmented.
   */
  augmented?: { copies: number; features: Float32Array };
}

/** Refuses augmented copies that are not `copies` rows of `dim` values per training row. */
function checkAugmented(n: number, dim: number, augmented: NonNullable<TrainInput['augmented']>): void {
  const { copies } = augmented;
  if (!Number.isInteger(copies) || copies < 1) {
    throw new TrainingError('invalid_input', `augmented.copies: ${copies}, expected an integer >= 1`);
  }
  if (augmented.features.length !== n * copies * dim) {
    throw new TrainingError(
      'invalid_input',
      `augmented.features: ${augmented.features.length} values, expected ${n} rows x ${copies} copies x ${dim} = ${n * copies * dim}`,
    );
  }
}

/**
 * Training rows with their augmented copies as one index space: originals 0..n-1, copy c of row i at
 * n + i * copies + c. `variant` turns an epoch's order of originals into one variant of each row (the original
 * or one of its copies, uniformly from `random`); `gather` copies rows of that space into a batch buffer.
 */
export interface AugmentedRows {
  /** Labels of the whole index space. */
  labels: Int32Array;
  variant(order: Int32Array, random: () => number): Int32Array;
  gather(order: Int32Array, start: number, end: number, out: Float32Array): Float32Array;
}

/** The index space of `train` and its copies (no copies: the originals alone), without copying vectors. */
export function augmentedRows(
  train: FeatureSplit,
  dim: number,
  augmented: TrainInput['augmented'],
): AugmentedRows {
  const n = train.labels.length;
  const copies = augmented?.copies ?? 0;
  if (augmented !== undefined) checkAugmented(n, dim, augmented);
  const labels = new Int32Array((copies + 1) * n);
  for (let i = 0; i < n; i++) {
    const y = train.labels[i] as number;
    labels[i] = y;
    for (let c = 0; c < copies; c++) labels[n + i * copies + c] = y;
  }
  return {
    labels,
    variant: (order, random) => {
      if (copies === 0) return order;
      const out = new Int32Array(order.length);
      for (let r = 0; r < order.length; r++) {
        const i = order[r] as number;
        const v = Math.floor(random() * (copies + 1));
        out[r] = v === 0 ? i : n + i * copies + (v - 1);
      }
      return out;
    },
    gather: (order, start, end, out) => {
      for (let r = start; r < end; r++) {
        const row = order[r] as number;
        const [from, at] = row < n ? [train.features, row] : [augmented?.features as Float32Array, row - n];
        out.set(from.subarray(at * dim, (at + 1) * dim), (r - start) * dim);
      }
      return out.subarray(0, (end - start) * dim);
    },
  };
}

/**
 * The training split with its augmented copies appended (the index space of `augmentedRows` as one matrix,
 * for engines that take one) and the epoch order that picks one variant of each row, or the split unchanged.
 */
export function withAugmentedRows(
  train: FeatureSplit,
  dim: number,
  augmented: TrainInput['augmented'],
): { train: FeatureSplit; variant: AugmentedRows['variant'] } {
  if (augmented === undefined) return { train, variant: (order) => order };
  const rows = augmentedRows(train, dim, augmented);
  const n = train.labels.length;
  const features = new Float32Array(rows.labels.length * dim);
  features.set(train.features.subarray(0, n * dim), 0);
  features.set(augmented.features, n * dim);
  return { train: { features, labels: rows.labels }, variant: rows.variant };
}

/** Validates a split against the feature shape and class count; returns its row count. */
export function checkSplit(name: string, split: FeatureSplit, dim: number, numClasses: number): number {
  const n = split.labels.length;
  if (n === 0) throw new TrainingError('invalid_input', `${name}: 0 samples, expected at least 1`);
  if (split.features.length !== n * dim) {
    throw new TrainingError(
      'invalid_input',
      `${name}.features: ${split.features.length} values, expected ${n} labels x ${dim} features = ${n * dim}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const y = split.labels[i] as number;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new TrainingError(
        'invalid_input',
        `${name}.labels[${i}]: ${y}, expected an integer in [0, ${numClasses})`,
      );
    }
  }
  return n;
}

/** Averages [n, h*w*c] features over h*w (GlobalAveragePooling2D over [h, w, c]); returns [n, c]. */
export function averagePool(features: Float32Array, featureShape: readonly number[]): Float32Array {
  if (featureShape.length !== 3) {
    throw new TrainingError(
      'invalid_config',
      `pooling 'avg' needs [h, w, c] features, received featureShape [${featureShape.join(', ')}]`,
    );
  }
  const [h, w, c] = featureShape as [number, number, number];
  const cells = h * w;
  const n = features.length / (cells * c);
  const out = new Float32Array(n * c);
  // Accumulate in float64 then round once, like a pairwise-accurate mean.
  const acc = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    const base = i * cells * c;
    for (let p = 0; p < cells; p++) {
      const row = base + p * c;
      for (let k = 0; k < c; k++) acc[k] = (acc[k] as number) + (features[row + k] as number);
    }
    for (let k = 0; k < c; k++) out[i * c + k] = (acc[k] as number) / cells;
  }
  return out;
}

/** Per-class loss weights: explicit, 'balanced' (n / (classes * count_c)), or all 1. */
export function resolveClassWeights(
  spec: ClassWeight | null,
  labels: ArrayLike<number>,
  numClasses: number,
): Float32Array {
  const weights = new Float32Array(numClasses).fill(1);
  if (spec === null) return weights;
  if (spec === 'balanced') {
    const counts = new Float64Array(numClasses);
    for (let i = 0; i < labels.length; i++)
      counts[labels[i] as number] = (counts[labels[i] as number] as number) + 1;
    for (let c = 0; c < numClasses; c++) {
      const count = counts[c] as number;
      weights[c] = count === 0 ? 1 : labels.length / (numClasses * count);
    }
    return weights;
  }
  if (spec.length !== numClasses) {
    throw new TrainingError(
      'invalid_config',
      `classWeight: ${spec.length} weights, expected one per class (${numClasses})`,
    );
  }
  weights.set(spec);
  return weights;
}

/** A small seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, random: () => number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return order;
}

/** Copies the rows `order[start..end)` of a row-major matrix into `out` (reused between batches). */
export function gatherRows(
  features: Float32Array,
  dim: number,
  order: Int32Array,
  start: number,
  end: number,
  out: Float32Array,
): Float32Array {
  for (let r = start; r < end; r++) {
    const src = (order[r] as number) * dim;
    out.set(features.subarray(src, src + dim), (r - start) * dim);
  }
  return out.subarray(0, (end - start) * dim);
}
