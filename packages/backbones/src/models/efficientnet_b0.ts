import * as tf from '@tensorflow/tfjs';
import { apply, type BuildOptions, inputSizeOf, KerasNames, kernelInitializer } from './build.ts';
import { Normalization } from './normalization.ts';
import type { BackboneSpec } from './spec.ts';

/** Parameters of Keras `EfficientNetB0(include_top=False)` (its summary: 4,049,571, Normalization's 7 included). */
export const EFFICIENTNET_B0_PARAMS = 4_049_571;

/** Keras' published no-top weights (`keras.applications.EfficientNetB0(weights='imagenet', include_top=False)`). */
export const EFFICIENTNET_B0_KERAS_WEIGHTS = {
  url: 'https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5',
  fileName: 'efficientnetb0_notop.h5',
  md5: '50bc09e76180e00e4465e1a485ddc09d',
} as const;

/** Keras EfficientNetB0 conv base at 224x224: top_activation -> 7x7x1280; pixels go in as 0-255 (`raw`). */
export const efficientnetB0Spec: BackboneSpec = {
  name: 'efficientnet_b0',
  inputSize: [224, 224],
  // The model rescales and normalizes inside (Rescaling + Normalization layers), as Keras does.
  preprocessing: 'raw',
  preprocessingOptions: ['raw'],
  featureLayer: 'top_activation',
  featureShape: [7, 7, 1280],
  weights: {
    url: EFFICIENTNET_B0_KERAS_WEIGHTS.url,
    md5: EFFICIENTNET_B0_KERAS_WEIGHTS.md5,
    note: 'Keras ImageNet no-top .h5 (16.7 MB), Keras 3 weight files, or a TF.js folder',
  },
  build: buildEfficientNetB0,
};

/** Keras efficientnet.py `DEFAULT_BLOCKS_ARGS` (B0: width and depth coefficients 1, so no rounding). */
const BLOCKS = [
  { kernel: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expand: 1, strides: 1 },
  { kernel: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expand: 6, strides: 2 },
  { kernel: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expand: 6, strides: 2 },
  { kernel: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expand: 6, strides: 2 },
  { kernel: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expand: 6, strides: 1 },
  { kernel: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expand: 6, strides: 2 },
  { kernel: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expand: 6, strides: 1 },
] as const;
const SE_RATIO = 0.25;
const DROP_CONNECT_RATE = 0.2;
/** ImageNet statistics Keras' weights were trained with (`IMAGENET_STDDEV_RGB`). */
const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

/**
 * Keras `imagenet_utils.correct_pad`: the zero padding that makes a stride-2 'valid' convolution equal
 * TensorFlow's 'same' (one pixel less before than after on even sizes).
 */
export function correctPad(
  size: readonly [number, number],
  kernel: number,
): [[number, number], [number, number]] {
  const half = Math.floor(kernel / 2);
  return [
    [half - (1 - (size[0] % 2)), half],
    [half - (1 - (size[1] % 2)), half],
  ];
}

function spatial(x: tf.SymbolicTensor): [number, number] {
  return [x.shape[1] as number, x.shape[2] as number];
}

/**
 * Builds Keras `EfficientNetB0(weights='imagenet', include_top=False)` (keras/src/applications/efficientnet.py):
 * Rescaling(1/255), Normalization (ImageNet mean and variance are weights), and the Rescaling by
 * 1/sqrt(stddev) Keras adds for its ImageNet weights (their stored `variance` is the standard
 * deviation, tensorflow/tensorflow#49930); swish activations; squeeze-and-excite; Dropout layers for
 * drop-connect, which are the identity at inference. BatchNormalization epsilon is Keras' default 1e-3.
 */
export function buildEfficientNetB0(options: BuildOptions = {}): tf.LayersModel {
  const [h, w] = inputSizeOf(options, efficientnetB0Spec.inputSize, 32, 'efficientnet_b0');
  const names = new KerasNames();
  let convIndex = 0;
  const conv = (
    x: tf.SymbolicTensor,
    name: string,
    filters: number,
    kernel: number,
    extra: {
      strides?: number;
      padding?: 'same' | 'valid';
      activation?: 'swish' | 'sigmoid';
      bias?: boolean;
    } = {},
  ) =>
    apply(
      tf.layers.conv2d({
        name,
        filters,
        kernelSize: kernel,
        strides: extra.strides ?? 1,
        padding: extra.padding ?? 'same',
        useBias: extra.bias ?? false,
        ...(extra.activation === undefined ? {} : { activation: extra.activation }),
        kernelInitializer: kernelInitializer(options, convIndex++),
        trainable: false,
      }),
      x,
    );
  const bn = (x: tf.SymbolicTensor, name: string) =>
    apply(tf.layers.batchNormalization({ name, axis: 3, epsilon: 1e-3, trainable: false }), x);
  const swish = (x: tf.SymbolicTensor, name: string) =>
    apply(tf.layers.activation({ name, activation: 'swish' }), x);

  const block = (
    inputs: tf.SymbolicTensor,
    name: string,
    dropRate: number,
    args: { kernel: number; filtersIn: number; filtersOut: number; expand: number; strides: number },
  ) => {
    const filters = args.filtersIn * args.expand;
    let x = inputs;
    if (args.expand !== 1) {
      x = swish(
        bn(conv(x, `${name}expand_conv`, filters, 1), `${name}expand_bn`),
        `${name}expand_activation`,
      );
    }
    if (args.strides === 2) {
      const padding = correctPad(spatial(x), args.kernel);
      x = apply(tf.layers.zeroPadding2d({ name: `${name}dwconv_pad`, padding }), x);
    }
    x = apply(
      tf.layers.depthwiseConv2d({
        name: `${name}dwconv`,
        kernelSize: args.kernel,
        strides: args.strides,
        padding: args.strides === 2 ? 'valid' : 'same',
        useBias: false,
        depthwiseInitializer: kernelInitializer(options, convIndex++),
        trainable: false,
      }),
      x,
    );
    x = swish(bn(x, `${name}bn`), `${name}activation`);

    const filtersSe = Math.max(1, Math.floor(args.filtersIn * SE_RATIO));
    let se = apply(tf.layers.globalAveragePooling2d({ name: `${name}se_squeeze` }), x);
    se = apply(tf.layers.reshape({ name: `${name}se_reshape`, targetShape: [1, 1, filters] }), se);
    se = conv(se, `${name}se_reduce`, filtersSe, 1, { activation: 'swish', bias: true });
    se = conv(se, `${name}se_expand`, filters, 1, { activation: 'sigmoid', bias: true });
    x = apply(tf.layers.multiply({ name: `${name}se_excite` }), [x, se]);

    x = bn(conv(x, `${name}project_conv`, args.filtersOut, 1), `${name}project_bn`);
    if (args.strides === 1 && args.filtersIn === args.filtersOut) {
      // Keras' drop-connect (noise_shape (None, 1, 1, 1)) only acts in training; kept for the layer list.
      if (dropRate > 0) x = apply(tf.layers.dropout({ name: `${name}drop`, rate: dropRate }), x);
      x = apply(tf.layers.add({ name: `${name}add` }), [x, inputs]);
    }
    return x;
  };

  const input = tf.input({ shape: [h, w, 3], name: 'input_layer' });
  let x = apply(tf.layers.rescaling({ name: names.next('rescaling'), scale: 1 / 255 }), input);
  x = apply(new Normalization({ name: names.next('normalization') }), x);
  // A per-channel scale: tfjs' Rescaling multiplies by `scale` as a tensor-like, its type says number only.
  const stdScale = IMAGENET_STDDEV_RGB.map((s) => 1 / Math.sqrt(s)) as unknown as number;
  x = apply(tf.layers.rescaling({ name: names.next('rescaling'), scale: stdScale }), x);
  x = apply(tf.layers.zeroPadding2d({ name: 'stem_conv_pad', padding: correctPad(spatial(x), 3) }), x);
  x = conv(x, 'stem_conv', 32, 3, { strides: 2, padding: 'valid' });
  x = swish(bn(x, 'stem_bn'), 'stem_activation');

  const total = BLOCKS.reduce((n, b) => n + b.repeats, 0);
  let b = 0;
  for (const [i, args] of BLOCKS.entries()) {
    for (let j = 0; j < args.repeats; j++) {
      const first = j === 0;
      x = block(x, `block${i + 1}${String.fromCharCode(97 + j)}_`, (DROP_CONNECT_RATE * b) / total, {
        kernel: args.kernel,
        filtersIn: first ? args.filtersIn : args.filtersOut,
        filtersOut: args.filtersOut,
        expand: args.expand,
        strides: first ? args.strides : 1,
      });
      b++;
    }
  }
  x = swish(bn(conv(x, 'top_conv', 1280, 1), 'top_bn'), 'top_activation');
  return tf.model({ inputs: input, outputs: x, name: 'efficientnetb0' });
}
