import * as tf from '@tensorflow/tfjs';
import type { BuildOptions } from './build.ts';
import type { BackboneSpec } from './spec.ts';

/**
 * Keras `VGG16(include_top=False)` layers in order with their weight shapes (channels-last kernels
 * [kh, kw, in, out], bias [out]); pool layers carry no weights. Same names as Keras so its .h5 loads.
 */
export const VGG16_LAYERS = [
  { name: 'block1_conv1', kernel: [3, 3, 3, 64], bias: [64] },
  { name: 'block1_conv2', kernel: [3, 3, 64, 64], bias: [64] },
  { name: 'block1_pool' },
  { name: 'block2_conv1', kernel: [3, 3, 64, 128], bias: [128] },
  { name: 'block2_conv2', kernel: [3, 3, 128, 128], bias: [128] },
  { name: 'block2_pool' },
  { name: 'block3_conv1', kernel: [3, 3, 128, 256], bias: [256] },
  { name: 'block3_conv2', kernel: [3, 3, 256, 256], bias: [256] },
  { name: 'block3_conv3', kernel: [3, 3, 256, 256], bias: [256] },
  { name: 'block3_pool' },
  { name: 'block4_conv1', kernel: [3, 3, 256, 512], bias: [512] },
  { name: 'block4_conv2', kernel: [3, 3, 512, 512], bias: [512] },
  { name: 'block4_conv3', kernel: [3, 3, 512, 512], bias: [512] },
  { name: 'block4_pool' },
  { name: 'block5_conv1', kernel: [3, 3, 512, 512], bias: [512] },
  { name: 'block5_conv2', kernel: [3, 3, 512, 512], bias: [512] },
  { name: 'block5_conv3', kernel: [3, 3, 512, 512], bias: [512] },
  { name: 'block5_pool' },
] as const satisfies readonly { name: string; kernel?: readonly number[]; bias?: readonly number[] }[];

/** Trainable parameters of the VGG16 conv base (Keras summary: 14,714,688). */
export const VGG16_PARAMS = 14_714_688;

/** Keras' published no-top weights: the file `keras.applications.VGG16(weights='imagenet')` downloads. */
export const VGG16_KERAS_WEIGHTS = {
  url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
  fileName: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
  md5: '6d6bbae143d832006294945121d1f1fc',
} as const;

/** VGG16 conv base at the recipe's 150x150 input: 4x4x512 features. */
export const vgg16Spec: BackboneSpec = {
  name: 'vgg16',
  inputSize: [150, 150],
  // The recipe's ImageDataGenerator(rescale=1/255); `caffe` is what the ImageNet weights were trained with.
  preprocessing: 'rescale',
  preprocessingOptions: ['rescale', 'caffe', 'tf'],
  featureLayer: 'block5_pool',
  featureShape: [4, 4, 512],
  weights: {
    url: VGG16_KERAS_WEIGHTS.url,
    md5: VGG16_KERAS_WEIGHTS.md5,
    note: 'Keras ImageNet no-top .h5 (58.9 MB), Keras 2 or Keras 3 weight files of the same model, or a TF.js folder',
  },
  build: buildVgg16,
};

/** Multiply-accumulates of one VGG16 conv-base forward pass at `size`x`size` (about 6.6e9 at 150). */
export function vgg16Macs(size = 150): number {
  let hw = size;
  let macs = 0;
  for (const layer of VGG16_LAYERS) {
    if ('kernel' in layer) {
      const [kh, kw, cin, cout] = layer.kernel;
      macs += hw * hw * kh * kw * cin * cout;
    } else {
      hw = Math.floor(hw / 2);
    }
  }
  return macs;
}

/**
 * Builds the VGG16 conv base as a functional tfjs model with Keras' layer names; weights are
 * Glorot-uniform from `seed` (deterministic, so every worker of a pool builds the same network), or
 * zeros when `zeros` is set because weights are loaded next.
 */
export function buildVgg16(options: BuildOptions = {}): tf.LayersModel {
  const [h, w] = options.inputSize ?? vgg16Spec.inputSize;
  const seed = options.seed ?? 1;
  const input = tf.input({ shape: [h, w, 3], name: 'input_1' });
  let x: tf.SymbolicTensor = input;
  for (const [i, layer] of VGG16_LAYERS.entries()) {
    if ('kernel' in layer) {
      x = tf.layers
        .conv2d({
          name: layer.name,
          filters: layer.kernel[3],
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          // zeros when real weights follow: drawing 14.7M random numbers only to overwrite them costs ~1 s.
          kernelInitializer: options.zeros
            ? 'zeros'
            : tf.initializers.glorotUniform({ seed: seed * 100 + i }),
          biasInitializer: 'zeros',
          trainable: false,
        })
        .apply(x) as tf.SymbolicTensor;
    } else {
      x = tf.layers.maxPooling2d({ name: layer.name, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
    }
  }
  return tf.model({ inputs: input, outputs: x, name: 'vgg16' });
}
