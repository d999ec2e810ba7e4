import * as tf from '@tensorflow/tfjs';
import { apply, type BuildOptions, inputSizeOf, kernelInitializer } from './build.ts';
import type { BackboneSpec } from './spec.ts';

/** Parameters of Keras `ResNet50(include_top=False)` (its summary: 23,587,712, of which 53,120 BN moving statistics). */
export const RESNET50_PARAMS = 23_587_712;

/** Keras' published no-top weights (`keras.applications.ResNet50(weights='imagenet', include_top=False)`). */
export const RESNET50_KERAS_WEIGHTS = {
  url: 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
  fileName: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
  md5: '4d473c1dd8becc155b73f8504c6f6626',
} as const;

/** Keras ResNet50 v1 conv base at 224x224: conv5_block3_out -> 7x7x2048, `caffe` preprocessing. */
export const resnet50Spec: BackboneSpec = {
  name: 'resnet50',
  inputSize: [224, 224],
  preprocessing: 'caffe',
  preprocessingOptions: ['caffe', 'rescale', 'tf'],
  featureLayer: 'conv5_block3_out',
  featureShape: [7, 7, 2048],
  weights: {
    url: RESNET50_KERAS_WEIGHTS.url,
    md5: RESNET50_KERAS_WEIGHTS.md5,
    note: 'Keras ImageNet no-top .h5 (94.7 MB), Keras 2 or Keras 3 weight files of the same model, or a TF.js folder',
  },
  build: buildResNet50,
};

// Keras resnet.py: every BatchNormalization of ResNet v1 uses this epsilon.
const BN_EPSILON = 1.001e-5;

/**
 * Builds Keras `ResNet50(include_top=False)` (keras/src/applications/resnet.py) with its layer names:
 * ZeroPadding2D + 'valid' convolutions where Keras pads explicitly, biases on every convolution, the
 * stride of a stack's first block on its 1x1 convolutions (v1, not torchvision's v1.5).
 */
export function buildResNet50(options: BuildOptions = {}): tf.LayersModel {
  const [h, w] = inputSizeOf(options, resnet50Spec.inputSize, 32, 'resnet50');
  let convIndex = 0;
  const conv = (
    x: tf.SymbolicTensor,
    filters: number,
    kernel: number,
    strides: number,
    name: string,
    padding: 'valid' | 'same' = 'valid',
  ) =>
    apply(
      tf.layers.conv2d({
        name,
        filters,
        kernelSize: kernel,
        strides,
        padding,
        kernelInitializer: kernelInitializer(options, convIndex++),
        trainable: false,
      }),
      x,
    );
  const bn = (x: tf.SymbolicTensor, name: string) =>
    apply(tf.layers.batchNormalization({ name, axis: 3, epsilon: BN_EPSILON, trainable: false }), x);
  const relu = (x: tf.SymbolicTensor, name: string) =>
    apply(tf.layers.activation({ name, activation: 'relu' }), x);

  const block = (
    x: tf.SymbolicTensor,
    filters: number,
    stride: number,
    shortcutConv: boolean,
    name: string,
  ) => {
    // Keras builds the shortcut first: its layers precede the residual branch in creation order.
    const shortcut = shortcutConv ? bn(conv(x, 4 * filters, 1, stride, `${name}_0_conv`), `${name}_0_bn`) : x;
    let y = relu(bn(conv(x, filters, 1, stride, `${name}_1_conv`), `${name}_1_bn`), `${name}_1_relu`);
    y = relu(bn(conv(y, filters, 3, 1, `${name}_2_conv`, 'same'), `${name}_2_bn`), `${name}_2_relu`);
    y = bn(conv(y, 4 * filters, 1, 1, `${name}_3_conv`), `${name}_3_bn`);
    const sum = apply(tf.layers.add({ name: `${name}_add` }), [shortcut, y]);
    return relu(sum, `${name}_out`);
  };
  const stack = (x: tf.SymbolicTensor, filters: number, blocks: number, stride1: number, name: string) => {
    let y = block(x, filters, stride1, true, `${name}_block1`);
    for (let i = 2; i <= blocks; i++) y = block(y, filters, 1, false, `${name}_block${i}`);
    return y;
  };

  const input = tf.input({ shape: [h, w, 3], name: 'input_layer' });
  let x = apply(tf.layers.zeroPadding2d({ name: 'conv1_pad', padding: [3, 3] }), input);
  x = relu(bn(conv(x, 64, 7, 2, 'conv1_conv'), 'conv1_bn'), 'conv1_relu');
  x = apply(tf.layers.zeroPadding2d({ name: 'pool1_pad', padding: [1, 1] }), x);
  x = apply(tf.layers.maxPooling2d({ name: 'pool1_pool', poolSize: 3, strides: 2 }), x);
  x = stack(x, 64, 3, 1, 'conv2');
  x = stack(x, 128, 4, 2, 'conv3');
  x = stack(x, 256, 6, 2, 'conv4');
  x = stack(x, 512, 3, 2, 'conv5');
  return tf.model({ inputs: input, outputs: x, name: 'resnet50' });
}
