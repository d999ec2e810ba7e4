import type { FeatureSplit } from './data.ts';
import { seededRandom } from './data.ts';

/**
 * A seeded synthetic feature set for tests and benchmarks: non-negative, ReLU-like features where the first
 * `informative` dimensions carry a class-dependent shift of `separation` and the rest are noise.
 * @example const { train, validation } = syntheticFeatures({ n: 200, nVal: 100, dim: 32, numClasses: 2 });
 */
export function syntheticFeatures(options: {
  n: number;
  nVal?: number;
  dim: number;
  numClasses: number;
  informative?: number;
  separation?: number;
  seed?: number;
}): { train: FeatureSplit; validation: FeatureSplit } {
  const { n, nVal = 0, dim, numClasses, informative = Math.min(dim, 8), separation = 1, seed = 1 } = options;
  const random = seededRandom(seed);
  // Each class shifts its own slice of the informative dimensions.
  const make = (count: number): FeatureSplit => {
    const features = new Float32Array(count * dim);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const y = i % numClasses;
      labels[i] = y;
      for (let j = 0; j < dim; j++) {
        const signal = j < informative && j % numClasses === y ? separation : 0;
        features[i * dim + j] = Math.max(0, random() * 2 - 1 + signal);
      }
    }
    return { features, labels };
  };
  return { train: make(n), validation: make(nVal) };
}
