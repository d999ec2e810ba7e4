import { describe, expect, it } from 'vitest';
import { isBackboneError } from '../errors.ts';
import {
  BUILTIN_BACKBONES,
  getBackboneSpec,
  parseBackboneConfig,
  parseBackboneShorthand,
} from './registry.ts';
import { pooledShape } from './spec.ts';
import { buildVgg16, VGG16_LAYERS, VGG16_PARAMS, vgg16Macs } from './vgg16.ts';

describe('registry', () => {
  it('describes each built-in backbone with input size, preprocessing and feature shape', () => {
    expect(getBackboneSpec('vgg16')).toMatchObject({ inputSize: [150, 150], featureShape: [4, 4, 512] });
    expect(getBackboneSpec('mobilenet_v1_0.75')).toMatchObject({
      featureLayer: 'conv_pw_13_relu',
      featureShape: [7, 7, 768],
      preprocessing: 'tf',
    });
    expect(getBackboneSpec('mobilenet_v2_0.35')).toMatchObject({
      featureLayer: 'out_relu',
      featureShape: [7, 7, 1280],
    });
    expect(getBackboneSpec('resnet50')).toMatchObject({
      inputSize: [224, 224],
      featureShape: [7, 7, 2048],
      preprocessing: 'caffe',
    });
    expect(getBackboneSpec('inception_v3')).toMatchObject({
      inputSize: [299, 299],
      featureShape: [8, 8, 2048],
      preprocessing: 'tf',
    });
    expect(getBackboneSpec('efficientnet_b0')).toMatchObject({
      inputSize: [224, 224],
      featureShape: [7, 7, 1280],
      preprocessing: 'raw',
    });
    expect(Object.keys(BUILTIN_BACKBONES)).toEqual([
      'vgg16',
      'mobilenet_v1_0.75',
      'mobilenet_v2_0.35',
      'resnet50',
      'inception_v3',
      'efficientnet_b0',
    ]);
  });

  it('rejects an unknown backbone name with the list of choices', () => {
    expect(() => getBackboneSpec('resnet101')).toThrow(/"resnet101" is not built in; expected one of vgg16/);
  });

  it('pools a feature map to its channel count', () => {
    expect(pooledShape([7, 7, 768], 'avg')).toEqual([768]);
    expect(pooledShape([4, 4, 512], 'none')).toEqual([4, 4, 512]);
  });

  it('parses the backbone shorthand, leaving out what it does not name', () => {
    expect(parseBackboneShorthand('mobilenet_v1_0.75')).toEqual({
      backbone: 'mobilenet_v1_0.75',
      pooling: undefined,
      preprocessing: undefined,
    });
    expect(parseBackboneShorthand('vgg16+avg@caffe')).toEqual({
      backbone: 'vgg16',
      pooling: 'avg',
      preprocessing: 'caffe',
    });
    expect(() => parseBackboneShorthand('vgg16+max')).toThrow(/not <backbone>/);
    expect(() => parseBackboneShorthand('vgg16@bgr')).toThrow(/not <backbone>/);
  });

  it('validates configs and names the offending field', () => {
    expect(parseBackboneConfig({ weights: 'random' })).toMatchObject({
      backbone: 'vgg16',
      pooling: 'none',
      batchSize: 8,
    });
    try {
      parseBackboneConfig({ backbone: 'vgg16', weights: 'x', pooling: 'max' });
      expect.unreachable();
    } catch (err) {
      expect(isBackboneError(err, 'invalid_config')).toBe(true);
      expect((err as Error).message).toMatch(/pooling/);
    }
  });
});

describe('vgg16', () => {
  it('lists the Keras conv base layers and kernel shapes', () => {
    const convs = VGG16_LAYERS.filter((l) => 'kernel' in l);
    expect(convs).toHaveLength(13);
    expect(VGG16_LAYERS.map((l) => l.name).filter((n) => n.endsWith('pool'))).toEqual([
      'block1_pool',
      'block2_pool',
      'block3_pool',
      'block4_pool',
      'block5_pool',
    ]);
    const params = convs.reduce((sum, l) => sum + l.kernel.reduce((a, b) => a * b, 1) + l.bias[0], 0);
    expect(params).toBe(VGG16_PARAMS);
  });

  it('builds a model with the same layer names, weight shapes and a 4x4x512 output at 150x150', () => {
    const model = buildVgg16();
    try {
      expect(model.layers.map((l) => l.name)).toEqual(['input_1', ...VGG16_LAYERS.map((l) => l.name)]);
      for (const spec of VGG16_LAYERS) {
        const shapes = model.getLayer(spec.name).weights.map((w) => w.shape);
        expect(shapes).toEqual('kernel' in spec ? [spec.kernel, spec.bias] : []);
      }
      expect(model.outputs[0]?.shape).toEqual([null, 4, 4, 512]);
      expect(model.countParams()).toBe(VGG16_PARAMS);
    } finally {
      model.dispose();
    }
  });

  it('counts about 6.6 GMAC per image at 150x150', () => {
    expect(vgg16Macs(150) / 1e9).toBeCloseTo(6.61, 1);
  });
});
