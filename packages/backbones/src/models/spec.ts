import type { Pooling, Preprocessing } from '@edgehead/contracts';
import type * as tf from '@tensorflow/tfjs';
import type { BuildOptions } from './build.ts';

export type { Pooling };

/** Everything a caller needs to know about a frozen feature extractor before loading it. */
export interface BackboneSpec {
  /** Registry name (`vgg16`, `mobilenet_v1_0.75`, ...) or the user's name for their own model. */
  name: string;
  /** [height, width] the images are resized to. */
  inputSize: readonly [number, number];
  /** Preprocessing used when none is asked for. */
  preprocessing: Preprocessing;
  /** Preprocessings this backbone accepts. */
  preprocessingOptions: readonly Preprocessing[];
  /** Layer whose output is the feature map. */
  featureLayer: string;
  /** Shape of one feature map without pooling, e.g. [4, 4, 512]. */
  featureShape: readonly number[];
  /** Where the pretrained weights come from when the user names none (documentation and defaults). */
  weights: { url?: string; md5?: string; sharedFolder?: string; note: string };
  /**
   * Builds the topology in code (Keras' layer names, so Keras weight files load); absent for backbones
   * that come as a TF.js layers folder with their topology.
   */
  build?: (options?: BuildOptions) => tf.LayersModel;
}

/** Shape of one feature vector after pooling. */
export function pooledShape(featureShape: readonly number[], pooling: Pooling): number[] {
  if (pooling === 'none') return [...featureShape];
  const c = featureShape[featureShape.length - 1];
  if (c === undefined) throw new RangeError('feature shape is empty');
  return [c];
}
