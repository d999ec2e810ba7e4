import * as tf from '@tensorflow/tfjs';
import { BackboneError, shapeString } from './errors.ts';

/** A network cut at its feature output, as a Backbone runs it. */
export interface FeatureNetwork {
  /** The tfjs model (owned by the network's holder: dispose it once). */
  model: tf.LayersModel | tf.GraphModel;
  /** Shape of one image's feature map, e.g. [7, 7, 2048]. */
  featureShape: number[];
  /** The feature maps of a preprocessed batch [n, h, w, 3]; synchronous, so callers run it inside tf.tidy. */
  forward(x: tf.Tensor4D): tf.Tensor;
}

/**
 * The [height, width] to feed a user model whose input is `shape` ([batch, h, w, 3], null or -1 where
 * open): the model's own sizes, or the config's `inputSize` where the model leaves them open.
 */
export function resolveInputSize(
  shape: readonly (number | null)[] | undefined,
  inputSize: readonly [number, number] | undefined,
  what: string,
): [number, number] {
  const s = shape ?? [];
  if (s.length !== 4 || s[3] !== 3) {
    throw new BackboneError(
      'invalid_config',
      `${what} has shape ${shapeString(s)}, expected [null,h,w,3] (NHWC RGB)`,
    );
  }
  const size = [s[1], s[2]].map((d, i) => {
    const open = d === null || d === undefined || d < 0;
    const asked = inputSize?.[i];
    if (open && asked === undefined) {
      throw new BackboneError(
        'invalid_config',
        `${what} ${shapeString(s)} leaves the image size open: set inputSize [height, width]`,
      );
    }
    if (!open && asked !== undefined && asked !== d) {
      throw new BackboneError(
        'invalid_config',
        `inputSize ${inputSize?.join('x')} contradicts ${what} ${shapeString(s)}`,
      );
    }
    return (open ? asked : d) as number;
  });
  return [size[0] as number, size[1] as number];
}

/**
 * The shape of one image's output of `forward`, measured on a black image: graph models rarely record
 * the shapes of inner nodes, and layers models with an open input size have none until they run.
 */
export function measuredShape(
  forward: (x: tf.Tensor4D) => tf.Tensor,
  inputSize: readonly [number, number],
): number[] {
  return tf.tidy(() => forward(tf.zeros([1, inputSize[0], inputSize[1], 3])).shape.slice(1));
}
