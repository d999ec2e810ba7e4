import * as tf from '@tensorflow/tfjs';
import { apply, type BuildOptions, inputSizeOf, KerasNames, kernelInitializer } from './build.ts';
import type { BackboneSpec } from './spec.ts';

/** Parameters of Keras `InceptionV3(include_top=False)` (its summary: 21,802,784, of which 34,432 BN moving statistics). */
export const INCEPTION_V3_PARAMS = 21_802_784;

/** Keras' published no-top weights (`keras.applications.InceptionV3(weights='imagenet', include_top=False)`). */
export const INCEPTION_V3_KERAS_WEIGHTS = {
  url: 'https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5',
  fileName: 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5',
  md5: 'bcbd6486424b2319ff4ef7d526e38f63',
} as const;

/** Keras InceptionV3 conv base at 299x299: mixed10 -> 8x8x2048, `tf` preprocessing. */
export const inceptionV3Spec: BackboneSpec = {
  name: 'inception_v3',
  inputSize: [299, 299],
  preprocessing: 'tf',
  preprocessingOptions: ['tf', 'rescale', 'caffe'],
  featureLayer: 'mixed10',
  featureShape: [8, 8, 2048],
  weights: {
    url: INCEPTION_V3_KERAS_WEIGHTS.url,
    md5: INCEPTION_V3_KERAS_WEIGHTS.md5,
    note: 'Keras ImageNet no-top .h5 (87.9 MB, Keras 2.0 layer names conv2d_1..conv2d_94: loaded by layer order), Keras 3 weight files, or a TF.js folder',
  },
  build: buildInceptionV3,
};

type Padding = 'same' | 'valid';

/**
 * Builds Keras `InceptionV3(include_top=False)` (keras/src/applications/inception_v3.py) in Keras' own
 * creation order, so the automatic names (`conv2d`, `conv2d_1`, ... `conv2d_93`, `batch_normalization_k`,
 * `activation_k`) and the layer order match a fresh Keras 3 model: Conv2D without bias, then
 * BatchNormalization(scale=False, epsilon 1e-3), then ReLU; 'valid' padding where Keras says so.
 */
export function buildInceptionV3(options: BuildOptions = {}): tf.LayersModel {
  const [h, w] = inputSizeOf(options, inceptionV3Spec.inputSize, 75, 'inception_v3');
  const names = new KerasNames();
  let convIndex = 0;
  const convBn = (
    x: tf.SymbolicTensor,
    filters: number,
    rows: number,
    cols: number,
    padding: Padding = 'same',
    strides: [number, number] = [1, 1],
  ) => {
    let y = apply(
      tf.layers.conv2d({
        name: names.next('conv2d'),
        filters,
        kernelSize: [rows, cols],
        strides,
        padding,
        useBias: false,
        kernelInitializer: kernelInitializer(options, convIndex++),
        trainable: false,
      }),
      x,
    );
    y = apply(
      tf.layers.batchNormalization({
        name: names.next('batch_normalization'),
        axis: 3,
        scale: false,
        epsilon: 1e-3,
        trainable: false,
      }),
      y,
    );
    return apply(tf.layers.activation({ name: names.next('activation'), activation: 'relu' }), y);
  };
  const maxPool = (x: tf.SymbolicTensor) =>
    apply(tf.layers.maxPooling2d({ name: names.next('max_pooling2d'), poolSize: 3, strides: 2 }), x);
  const avgPool = (x: tf.SymbolicTensor) =>
    apply(
      tf.layers.averagePooling2d({
        name: names.next('average_pooling2d'),
        poolSize: 3,
        strides: 1,
        padding: 'same',
      }),
      x,
    );
  const concat = (xs: tf.SymbolicTensor[], name?: string) =>
    apply(tf.layers.concatenate({ name: name ?? names.next('concatenate'), axis: 3 }), xs);

  const input = tf.input({ shape: [h, w, 3], name: 'input_layer' });
  let x = convBn(input, 32, 3, 3, 'valid', [2, 2]);
  x = convBn(x, 32, 3, 3, 'valid');
  x = convBn(x, 64, 3, 3);
  x = maxPool(x);
  x = convBn(x, 80, 1, 1, 'valid');
  x = convBn(x, 192, 3, 3, 'valid');
  x = maxPool(x);

  // mixed 0, 1, 2: 35x35x256, 288, 288
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const b1 = convBn(x, 64, 1, 1);
    const b5 = convBn(convBn(x, 48, 1, 1), 64, 5, 5);
    const b3 = convBn(convBn(convBn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    const bp = convBn(avgPool(x), poolFilters, 1, 1);
    x = concat([b1, b5, b3, bp], `mixed${i}`);
  }

  // mixed 3: 17x17x768
  {
    const b3 = convBn(x, 384, 3, 3, 'valid', [2, 2]);
    const b3dbl = convBn(convBn(convBn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, 'valid', [2, 2]);
    const bp = maxPool(x);
    x = concat([b3, b3dbl, bp], 'mixed3');
  }

  // mixed 4, 5, 6, 7: 17x17x768 with 128, 160, 160, 192 filters inside the 7x7 branches
  for (const [i, f] of [128, 160, 160, 192].entries()) {
    const b1 = convBn(x, 192, 1, 1);
    const b7 = convBn(convBn(convBn(x, f, 1, 1), f, 1, 7), 192, 7, 1);
    let b7dbl = convBn(x, f, 1, 1);
    b7dbl = convBn(b7dbl, f, 7, 1);
    b7dbl = convBn(b7dbl, f, 1, 7);
    b7dbl = convBn(b7dbl, f, 7, 1);
    b7dbl = convBn(b7dbl, 192, 1, 7);
    const bp = convBn(avgPool(x), 192, 1, 1);
    x = concat([b1, b7, b7dbl, bp], `mixed${4 + i}`);
  }

  // mixed 8: 8x8x1280
  {
    const b3 = convBn(convBn(x, 192, 1, 1), 320, 3, 3, 'valid', [2, 2]);
    let b7x3 = convBn(x, 192, 1, 1);
    b7x3 = convBn(b7x3, 192, 1, 7);
    b7x3 = convBn(b7x3, 192, 7, 1);
    b7x3 = convBn(b7x3, 192, 3, 3, 'valid', [2, 2]);
    const bp = maxPool(x);
    x = concat([b3, b7x3, bp], 'mixed8');
  }

  // mixed 9, 10: 8x8x2048
  for (let i = 0; i < 2; i++) {
    const b1 = convBn(x, 320, 1, 1);
    const b3 = convBn(x, 384, 1, 1);
    const b3cat = concat([convBn(b3, 384, 1, 3), convBn(b3, 384, 3, 1)], `mixed9_${i}`);
    const b3dbl = convBn(convBn(x, 448, 1, 1), 384, 3, 3);
    const b3dblCat = concat([convBn(b3dbl, 384, 1, 3), convBn(b3dbl, 384, 3, 1)]);
    const bp = convBn(avgPool(x), 192, 1, 1);
    x = concat([b1, b3cat, b3dblCat, bp], `mixed${9 + i}`);
  }
  return tf.model({ inputs: input, outputs: x, name: 'inception_v3' });
}
