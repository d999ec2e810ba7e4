import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../env.ts';
import { ApiError } from '../http/errors.ts';
import { ExtractorRegistry } from './registry.ts';

const registry = (over: Partial<ConstructorParameters<typeof ExtractorRegistry>[0]> = {}) =>
  new ExtractorRegistry({
    defaultBackbone: 'vgg16',
    weightsCache: '/cache',
    poolSize: 0,
    userBackbones: [{ name: 'tiny', weights: '/models/tiny', preprocessing: 'rescale' }],
    weights: { MOBILENET_V1_0_75: '/models/mnv1' },
    ...over,
  });

const status = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof ApiError
      ? [err.status, (err.details as { field?: string } | undefined)?.field]
      : err;
  }
  return 'no error';
};

describe('ExtractorRegistry.resolve', () => {
  it('names feature sets by backbone, pooling and non-default preprocessing', () => {
    const r = registry();
    expect(r.resolve({}).featureSet).toBe('vgg16');
    expect(r.resolve({ preprocessing: 'caffe' }).featureSet).toBe('vgg16@caffe');
    const mn = r.resolve({ backbone: 'mobilenet_v1_0.75', pooling: 'avg' });
    expect(mn).toMatchObject({ featureSet: 'mobilenet_v1_0.75+avg', preprocessing: 'tf' });
    expect(mn.config).toMatchObject({ weights: '/models/mnv1', pooling: 'avg' });
    expect(r.resolve({ backbone: 'mobilenet_v1_0.75+avg' }).featureSet).toBe('mobilenet_v1_0.75+avg');
    expect(r.resolve({ backbone: 'tiny' })).toMatchObject({
      featureSet: 'tiny',
      config: { weights: '/models/tiny' },
    });
  });

  it('falls back to the Keras VGG16 download and takes request weights over configuration', () => {
    const r = registry();
    expect(String(r.resolve({}).config.weights)).toMatch(/^https:\/\/.*vgg16.*notop\.h5$/);
    expect(r.resolve({ weights: '/mine.h5' }).config.weights).toBe('/mine.h5');
  });

  it('refuses contradictions, unknown backbones and unconfigured weights with the field named', () => {
    const r = registry();
    expect(status(() => r.resolve({ backbone: 'mobilenet_v1_0.75+avg', pooling: 'none' }))).toEqual([
      400,
      'pooling',
    ]);
    expect(status(() => r.resolve({ backbone: 'nope' }))).toEqual([400, 'backbone']);
    expect(status(() => r.resolve({ backbone: 'Bad Name!' }))).toEqual([400, 'backbone']);
    expect(status(() => r.resolve({ backbone: 'tiny', preprocessing: 'caffe' }))).toEqual([
      400,
      'preprocessing',
    ]);
    expect(status(() => r.resolve({ backbone: 'mobilenet_v2_0.35' }))).toEqual([503, 'weights']);
    expect(r.resolve({ backbone: 'adhoc', weights: '/w', preprocessing: 'tf' }).featureSet).toBe('adhoc');
  });

  it('names a feature set without weights, and remembers weights a request gave for later requests', () => {
    const r = registry();
    expect(r.featureSetOf({ backbone: 'mobilenet_v2_0.35', pooling: 'avg' })).toBe('mobilenet_v2_0.35+avg');
    expect(r.resolve({ backbone: 'mobilenet_v2_0.35', weights: '/given/mnv2' }).config.weights).toBe(
      '/given/mnv2',
    );
    expect(r.resolve({ backbone: 'mobilenet_v2_0.35+avg' }).config.weights).toBe('/given/mnv2');
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
