import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.ts';
import {
  buildEfficientNetB0,
  correctPad,
  EFFICIENTNET_B0_PARAMS,
  efficientnetB0Spec,
} from './efficientnet_b0.ts';
import { buildInceptionV3, INCEPTION_V3_PARAMS, inceptionV3Spec } from './inception_v3.ts';
import { countMacs } from './macs.ts';
import { buildResNet50, RESNET50_PARAMS, resnet50Spec } from './resnet50.ts';
import type { BackboneSpec } from './spec.ts';
import { buildVgg16, vgg16Macs } from './vgg16.ts';

beforeAll(async () => {
  await initBackend();
});

type Config = Record<string, unknown>;
const configOf = (model: tf.LayersModel, name: string) => model.getLayer(name).getConfig() as Config;
const namesOf = (model: tf.LayersModel) => model.layers.map((l) => l.name);
const ofClass = (model: tf.LayersModel, cls: string) => model.layers.filter((l) => l.getClassName() === cls);

const cases: {
  spec: BackboneSpec;
  params: number;
  layers: number;
  gmac: number;
  minSize: number;
}[] = [
  // Keras: len(ResNet50(include_top=False).layers) == 175, InceptionV3 311, EfficientNetB0 238.
  { spec: resnet50Spec, params: RESNET50_PARAMS, layers: 175, gmac: 3.86, minSize: 32 },
  { spec: inceptionV3Spec, params: INCEPTION_V3_PARAMS, layers: 311, gmac: 5.71, minSize: 75 },
  { spec: efficientnetB0Spec, params: EFFICIENTNET_B0_PARAMS, layers: 238, gmac: 0.39, minSize: 32 },
];

describe.each(cases)('$spec.name topology', ({ spec, params, layers, gmac, minSize }) => {
  let model: tf.LayersModel;
  beforeAll(() => {
    model = spec.build?.({ zeros: true }) as tf.LayersModel;
  });
  afterAll(() => model?.dispose());

  it("has Keras' layer count, parameter count and feature shape at its default input", () => {
    expect(model.layers).toHaveLength(layers);
    expect(new Set(namesOf(model)).size).toBe(layers);
    expect(model.countParams()).toBe(params);
    expect(model.inputs[0]?.shape).toEqual([null, ...spec.inputSize, 3]);
    expect(model.outputs[0]?.shape).toEqual([null, ...spec.featureShape]);
    expect(model.layers.at(-1)?.name).toBe(spec.featureLayer);
    expect(model.layers[0]?.name).toBe('input_layer');
  });

  it(`counts about ${gmac} GMAC per image`, () => {
    expect(countMacs(model) / 1e9).toBeCloseTo(gmac, 1);
  });

  it("refuses an input below Keras' minimum size and builds smaller ones above it", () => {
    expect(() => spec.build?.({ inputSize: [minSize - 1, minSize], zeros: true })).toThrow(
      new RegExp(`below the minimum ${minSize}x${minSize}`),
    );
    const small = spec.build?.({ inputSize: [minSize + 32, minSize + 32], zeros: true }) as tf.LayersModel;
    expect(small.countParams()).toBe(params);
    small.dispose();
  });
});

describe('resnet50 details', () => {
  let model: tf.LayersModel;
  beforeAll(() => {
    model = buildResNet50({ zeros: true });
  });
  afterAll(() => model?.dispose());

  it("orders a block's layers as Keras' model summary does (shortcut convolution after the 3x3 branch)", () => {
    expect(namesOf(model).slice(7, 19)).toEqual([
      'conv2_block1_1_conv',
      'conv2_block1_1_bn',
      'conv2_block1_1_relu',
      'conv2_block1_2_conv',
      'conv2_block1_2_bn',
      'conv2_block1_2_relu',
      'conv2_block1_0_conv',
      'conv2_block1_3_conv',
      'conv2_block1_0_bn',
      'conv2_block1_3_bn',
      'conv2_block1_add',
      'conv2_block1_out',
    ]);
    expect(namesOf(model).filter((n) => n.endsWith('_out'))).toHaveLength(16);
  });

  it('pads explicitly, uses biases, BatchNorm epsilon 1.001e-5 and strides on the 1x1 convolution (v1)', () => {
    expect(configOf(model, 'conv1_pad').padding).toEqual([
      [3, 3],
      [3, 3],
    ]);
    expect(configOf(model, 'conv1_conv')).toMatchObject({ strides: [2, 2], padding: 'valid', useBias: true });
    expect(configOf(model, 'conv3_block1_1_conv')).toMatchObject({ kernelSize: [1, 1], strides: [2, 2] });
    expect(configOf(model, 'conv3_block1_2_conv')).toMatchObject({ strides: [1, 1], padding: 'same' });
    const bns = ofClass(model, 'BatchNormalization');
    expect(bns).toHaveLength(53);
    expect(bns.every((l) => (l.getConfig() as Config).epsilon === 1.001e-5)).toBe(true);
    expect(model.getLayer('conv5_block3_out').outputShape).toEqual([null, 7, 7, 2048]);
  });
});

describe('inception_v3 details', () => {
  let model: tf.LayersModel;
  beforeAll(() => {
    model = buildInceptionV3({ zeros: true });
  });
  afterAll(() => model?.dispose());

  it("names the 94 convolutions as a fresh Keras 3 model does and keeps Keras' block shapes", () => {
    const convs = ofClass(model, 'Conv2D').map((l) => l.name);
    expect(convs).toHaveLength(94);
    expect(new Set(convs)).toEqual(
      new Set(['conv2d', ...Array.from({ length: 93 }, (_, i) => `conv2d_${i + 1}`)]),
    );
    const shape = (name: string) => model.getLayer(name).outputShape;
    expect(shape('mixed0')).toEqual([null, 35, 35, 256]);
    expect(shape('mixed2')).toEqual([null, 35, 35, 288]);
    expect(shape('mixed3')).toEqual([null, 17, 17, 768]);
    expect(shape('mixed7')).toEqual([null, 17, 17, 768]);
    expect(shape('mixed8')).toEqual([null, 8, 8, 1280]);
    expect(shape('mixed9_1')).toEqual([null, 8, 8, 768]);
    expect(shape('concatenate_1')).toEqual([null, 8, 8, 768]);
    expect(shape('mixed10')).toEqual([null, 8, 8, 2048]);
  });

  it('uses convolutions without bias and BatchNormalization(scale=False, epsilon=1e-3)', () => {
    expect(model.getLayer('conv2d').weights.map((w) => w.shape)).toEqual([[3, 3, 3, 32]]);
    expect(configOf(model, 'conv2d')).toMatchObject({ strides: [2, 2], padding: 'valid', useBias: false });
    const bn = model.getLayer('batch_normalization_93');
    expect(bn.weights.map((w) => w.originalName.split('/')[1])).toEqual([
      'beta',
      'moving_mean',
      'moving_variance',
    ]);
    expect(bn.getConfig()).toMatchObject({ scale: false, epsilon: 1e-3 });
    expect(configOf(model, 'average_pooling2d')).toMatchObject({ strides: [1, 1], padding: 'same' });
  });
});

describe('efficientnet_b0 details', () => {
  let model: tf.LayersModel;
  beforeAll(() => {
    model = buildEfficientNetB0({ zeros: true });
  });
  afterAll(() => model?.dispose());

  it('rescales and normalizes inside the model, as Keras does for its ImageNet weights', () => {
    expect(namesOf(model).slice(0, 8)).toEqual([
      'input_layer',
      'rescaling',
      'normalization',
      'rescaling_1',
      'stem_conv_pad',
      'stem_conv',
      'stem_bn',
      'stem_activation',
    ]);
    expect(configOf(model, 'rescaling').scale).toBeCloseTo(1 / 255, 12);
    expect(configOf(model, 'rescaling_1').scale).toEqual([0.229, 0.224, 0.225].map((s) => 1 / Math.sqrt(s)));
    expect(model.getLayer('normalization').weights.map((w) => [w.originalName, w.shape])).toEqual([
      ['normalization/mean', [3]],
      ['normalization/variance', [3]],
      ['normalization/count', []],
    ]);
  });

  it("has Keras' blocks, swish, squeeze-excite sizes and drop-connect rates", () => {
    const blocks = [...new Set(namesOf(model).flatMap((n) => /^(block\d[a-z])_/.exec(n)?.[1] ?? []))];
    expect(blocks.join(' ')).toBe(
      'block1a block2a block2b block3a block3b block4a block4b block4c block5a block5b block5c block6a block6b block6c block6d block7a',
    );
    expect(configOf(model, 'block2a_se_reduce')).toMatchObject({
      filters: 4,
      activation: 'swish',
      useBias: true,
    });
    expect(configOf(model, 'block2a_se_expand')).toMatchObject({ filters: 96, activation: 'sigmoid' });
    expect(configOf(model, 'top_activation').activation).toBe('swish');
    const drops = ofClass(model, 'Dropout');
    expect(drops).toHaveLength(9);
    expect((configOf(model, 'block2b_drop').rate as number) * 16).toBeCloseTo(0.2 * 2, 10);
    expect(
      ofClass(model, 'BatchNormalization').every((l) => (l.getConfig() as Config).epsilon === 1e-3),
    ).toBe(true);
  });

  it("pads stride-2 convolutions as Keras' correct_pad does: one pixel less before than after on even sizes", () => {
    expect(configOf(model, 'stem_conv_pad').padding).toEqual([
      [0, 1],
      [0, 1],
    ]);
    expect(configOf(model, 'block3a_dwconv_pad').padding).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(correctPad([75, 75], 3)).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });
});

describe('Keras padding and pooling semantics on tfjs', () => {
  it("correct_pad + 'valid' equals TensorFlow's asymmetric 'same' for stride 2, which symmetric padding does not", () => {
    tf.tidy(() => {
      for (const size of [8, 9]) {
        const x = tf.randomUniform([1, size, size, 2], -1, 1, 'float32', 3) as tf.Tensor4D;
        const k = tf.randomUniform([3, 3, 2, 4], -1, 1, 'float32', 4) as tf.Tensor4D;
        const same = tf.conv2d(x, k, 2, 'same');
        const [[top, bottom], [left, right]] = correctPad([size, size], 3);
        const padded = tf.conv2d(
          tf.pad(x, [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ]),
          k,
          2,
          'valid',
        );
        expect(padded.shape).toEqual(same.shape);
        expect(tf.max(tf.abs(tf.sub(padded, same))).dataSync()[0]).toBeLessThan(1e-6);
        if (size % 2 === 0) {
          const symmetric = tf.conv2d(
            tf.pad(x, [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]),
            k,
            2,
            'valid',
          );
          expect(
            tf.max(tf.abs(tf.sub(symmetric.slice([0, 0, 0, 0], same.shape), same))).dataSync()[0],
          ).toBeGreaterThan(1e-3);
        }
      }
    });
  });

  it("averages 'same' pooling windows over the pixels inside the image, as Keras (TensorFlow) does", () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const layer = tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' });
    const y = layer.apply(x) as tf.Tensor;
    expect(y.dataSync()[0]).toBeCloseTo((1 + 2 + 4 + 5) / 4, 6);
    tf.dispose([x, y]);
  });
});

describe('countMacs', () => {
  it('agrees with the closed-form VGG16 count', () => {
    const vgg = buildVgg16({ zeros: true });
    expect(countMacs(vgg)).toBe(vgg16Macs(150));
    vgg.dispose();
  });
});
