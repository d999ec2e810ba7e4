import * as tf from '@tensorflow/tfjs';

/** Options of every built-in topology's `build`. */
export interface BuildOptions {
  /** [height, width] of the input; the backbone's default when omitted (each has a minimum). */
  inputSize?: readonly [number, number];
  /** Seed of the random (Glorot-uniform) kernels, so every worker of a pool builds the same network. */
  seed?: number;
  /** All-zero kernels, because real weights are loaded next (drawing millions of random numbers costs seconds). */
  zeros?: boolean;
}

/**
 * Keras's automatic layer names within one model: the first `conv2d`, then `conv2d_1`, `conv2d_2`...
 * (Keras 3 in a fresh session; `keras.src.utils.naming.uniquify`). Keras 2 files may count from `_1`:
 * the weight loaders match layers by order, not by these names.
 */
export class KerasNames {
  private readonly used = new Map<string, number>();

  /** The next name for `prefix` (a snake-cased class name such as `conv2d` or `batch_normalization`). */
  next(prefix: string): string {
    const n = this.used.get(prefix) ?? 0;
    this.used.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }
}

/** Calls a layer on one symbolic tensor (or a list, for merge layers). */
export function apply(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(x) as tf.SymbolicTensor;
}

/** The kernel initializer of the `index`-th convolution: zeros, or Glorot-uniform seeded per layer. */
export function kernelInitializer(
  options: BuildOptions,
  index: number,
): ReturnType<typeof tf.initializers.zeros> {
  return options.zeros
    ? tf.initializers.zeros()
    : tf.initializers.glorotUniform({ seed: (options.seed ?? 1) * 1000 + index });
}

/** Checks an input size against a topology's minimum (Keras `obtain_input_shape`'s `min_size`). */
export function inputSizeOf(
  options: BuildOptions,
  fallback: readonly [number, number],
  minSize: number,
  name: string,
): [number, number] {
  const [h, w] = options.inputSize ?? fallback;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < minSize || w < minSize) {
    throw new RangeError(`${name}: input size ${h}x${w} is below the minimum ${minSize}x${minSize}`);
  }
  return [h, w];
}
