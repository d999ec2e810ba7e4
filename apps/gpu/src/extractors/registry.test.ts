import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../env.ts';
import { ExtractorRegistry, ExtractorRequestError, lookupParts } from './registry.ts';
import { storedWeightsSha256, storedWeightsSource } from './stored-weights.ts';

const registry = (over: Partial<ConstructorParameters<typeof ExtractorRegistry>[0]> = {}) =>
  new ExtractorRegistry({
    defaultBackbone: 'vgg16',
    weightsCache: '/cache',
    poolSize: 0,
    userBackbones: [{ name: 'tiny', weights: '/models/tiny', preprocessing: 'rescale' }],
    weights: { MOBILENET_V1_0_75: '/models/mnv1' },
    ...over,
  });

const failure = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof ExtractorRequestError ? [err.code, err.field] : err;
  }
  return 'no error';
};

describe('ExtractorRegistry.resolve', () => {
  it('resolves backbone, pooling, preprocessing and configured weights (local paths absolute)', () => {
    const r = registry();
    expect(r.resolve({})).toMatchObject({ backbone: 'vgg16', pooling: 'none', preprocessing: 'rescale' });
    expect(r.resolve({ preprocessing: 'caffe' }).preprocessing).toBe('caffe');
    const mn = r.resolve({ backbone: 'mobilenet_v1_0.75', pooling: 'avg' });
    expect(mn).toMatchObject({
      pooling: 'avg',
      preprocessing: 'tf',
      weightsVariable: 'EDGEHEAD_WEIGHTS_MOBILENET_V1_0_75',
    });
    expect(mn.config).toMatchObject({ weights: '/models/mnv1', pooling: 'avg' });
    expect(r.resolve({ backbone: 'mobilenet_v1_0.75+avg' }).config).toMatchObject({ pooling: 'avg' });
    expect(r.resolve({ backbone: 'tiny' })).toMatchObject({
      preprocessing: 'rescale',
      weightsVariable: 'EDGEHEAD_BACKBONES',
      config: { weights: '/models/tiny' },
    });
    expect(r.resolve({ backbone: 'tiny', weights: 'relative/dir' }).config.weights).toBe(
      path.resolve('relative/dir'),
    );
  });

  it('falls back to the Keras VGG16 download (md5 checked) and takes request weights over configuration', () => {
    const r = registry();
    const keras = r.resolve({}).config;
    expect(keras.weights).toMatch(/^https:\/\/.*vgg16.*notop\.h5$/);
    expect(keras.md5).toMatch(/^[0-9a-f]{32}$/);
    expect(r.resolve({ weights: '/mine.h5' }).config).not.toHaveProperty('md5');
    expect(r.resolve({ weights: '/mine.h5' }).config.weights).toBe('/mine.h5');
  });

  it('refuses contradictions, unknown backbones and unconfigured weights with the field named', () => {
    const r = registry();
    expect(failure(() => r.resolve({ backbone: 'mobilenet_v1_0.75+avg', pooling: 'none' }))).toEqual([
      'contradiction',
      'pooling',
    ]);
    expect(failure(() => r.resolve({ backbone: 'vgg16@caffe', preprocessing: 'tf' }))).toEqual([
      'contradiction',
      'preprocessing',
    ]);
    expect(failure(() => r.resolve({ backbone: 'nope' }))).toEqual(['unknown_backbone', 'backbone']);
    expect(failure(() => r.resolve({ backbone: 'Bad Name!' }))).toEqual(['unknown_backbone', 'backbone']);
    expect(failure(() => r.resolve({ backbone: 'tiny', preprocessing: 'caffe' }))).toEqual([
      'contradiction',
      'preprocessing',
    ]);
    expect(failure(() => r.resolve({ backbone: 'mobilenet_v2_0.35' }))).toEqual([
      'weights_unconfigured',
      'weights',
    ]);
    expect(r.resolve({ backbone: 'adhoc', weights: '/w', preprocessing: 'tf' }).backbone).toBe('adhoc');
  });

  it('forgets nothing between requests: weights one request named are not used by the next', () => {
    const r = registry();
    expect(r.resolve({ backbone: 'mobilenet_v2_0.35', weights: '/given/mnv2' }).config.weights).toBe(
      '/given/mnv2',
    );
    expect(failure(() => r.resolve({ backbone: 'mobilenet_v2_0.35+avg' }))).toEqual([
      'weights_unconfigured',
      'weights',
    ]);
  });

  it('names the feature sets a lookup means without weights: pooling none and the default preprocessing', () => {
    const r = registry();
    expect(r.parts({ backbone: 'mobilenet_v2_0.35+avg' })).toEqual({
      backbone: 'mobilenet_v2_0.35',
      pooling: 'avg',
      preprocessing: 'tf',
    });
    expect(r.parts({})).toEqual({ backbone: 'vgg16', pooling: 'none', preprocessing: 'rescale' });
    expect(lookupParts({ backbone: 'adhoc' })).toEqual({
      backbone: 'adhoc',
      pooling: 'none',
      preprocessing: undefined,
    });
  });
});

describe('ExtractorRegistry with the Keras bases and graph models', () => {
  it('resolves resnet50, inception_v3 and efficientnet_b0 to the published no-top files and passes a graph model through', () => {
    const hub = {
      name: 'hub-net',
      weights: '/m/hub',
      preprocessing: 'rescale' as const,
      format: 'graph' as const,
      featureNode: 'pool:0',
      inputSize: [160, 160] as [number, number],
    };
    const r = registry({ userBackbones: [hub] });
    for (const [backbone, file, pre] of [
      ['resnet50', 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5', 'caffe'],
      ['inception_v3', 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5', 'tf'],
      ['efficientnet_b0', 'efficientnetb0_notop.h5', 'raw'],
    ] as const) {
      const got = r.resolve({ backbone, pooling: 'avg' });
      expect(got).toMatchObject({ backbone, pooling: 'avg', preprocessing: pre });
      expect(String(got.config.weights)).toMatch(new RegExp(`^https://.*/${file}$`));
      expect(got.config.md5).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(r.resolve({ backbone: 'hub-net' }).config).toMatchObject({
      weights: '/m/hub',
      format: 'graph',
      featureNode: 'pool:0',
      inputSize: [160, 160],
    });
    const env = parseEnv({
      EDGEHEAD_GPU_TOKEN: 'a-token-long-enough',
      EDGEHEAD_BACKBONES: JSON.stringify([hub]),
    });
    expect(env.userBackbones[0]).toEqual(hub);
  });
});

describe('parseEnv', () => {
  it('reads weights per backbone, user backbones and limits, with local defaults', () => {
    const env = parseEnv({
      EDGEHEAD_GPU_TOKEN: 'a-token-long-enough',
      EDGEHEAD_WEIGHTS_MOBILENET_V1_0_75: '/w/mn',
      EDGEHEAD_BACKBONES: '[{"name":"tiny","weights":"/w/t","preprocessing":"rescale"}]',
      EDGEHEAD_GPU_MAX_FILES: '7',
    });
    expect(env.port).toBe(8788);
    expect(env.defaultBackbone).toBe('vgg16');
    expect(env.weights).toEqual({ MOBILENET_V1_0_75: '/w/mn' });
    expect(env.userBackbones[0]?.name).toBe('tiny');
    expect(env.limits.maxFiles).toBe(7);
    expect(env.protectReads).toBe(true);
  });

  it('names every bad variable', () => {
    const bad = () => parseEnv({ EDGEHEAD_GPU_TOKEN: 'short', EDGEHEAD_BACKBONES: '{', PORT: 'x' });
    expect(bad).toThrow(EnvError);
    expect(bad).toThrow(/EDGEHEAD_GPU_TOKEN.*EDGEHEAD_BACKBONES|EDGEHEAD_BACKBONES.*EDGEHEAD_GPU_TOKEN/);
  });
});

describe('stored weights sources', () => {
  it('name 64 hex digits and nothing else (the value becomes a folder name)', () => {
    const sha = 'a'.repeat(64);
    expect(storedWeightsSha256(storedWeightsSource(sha))).toBe(sha);
    expect(storedWeightsSha256('/models/tiny')).toBeNull();
    expect(() => storedWeightsSha256('edgehead:backbone-weights/../../etc')).toThrow(/64 hex digits/);
  });
});
