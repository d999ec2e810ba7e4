import * as tf from '@tensorflow/tfjs';

/** Keras' `backend.epsilon()`: the floor of the standard deviation Normalization divides by. */
const EPSILON = 1e-7;

/**
 * Keras' `Normalization` preprocessing layer over the last axis, which tfjs-layers lacks:
 * `(x - mean) / max(sqrt(variance), 1e-7)` with the weights Keras stores, `mean`, `variance` and
 * `count` (in this order; count is unused at inference but is in Keras' files and parameter count).
 * Keras keeps count as int64; it is a float32 weight here because tfjs assigns weights as float32.
 * Registered with tfjs serialization, so models holding it save and load as TF.js layers folders.
 */
export class Normalization extends tf.layers.Layer {
  static readonly className = 'Normalization';
  private mean: tf.LayerVariable | undefined;
  private variance: tf.LayerVariable | undefined;

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    if (typeof channels !== 'number') {
      throw new RangeError(
        `Normalization ${this.name}: the last axis of ${JSON.stringify(shape)} is unknown`,
      );
    }
    this.mean = this.addWeight('mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
    this.variance = this.addWeight(
      'variance',
      [channels],
      'float32',
      tf.initializers.ones(),
      undefined,
      false,
    );
    this.addWeight('count', [], 'float32', tf.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x === undefined || this.mean === undefined || this.variance === undefined) {
        throw new Error(`Normalization ${this.name} was called before it was built`);
      }
      const std = tf.maximum(tf.sqrt(this.variance.read()), EPSILON);
      return tf.div(tf.sub(x, this.mean.read()), std);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: -1 };
  }
}
tf.serialization.registerClass(Normalization);
