import { headConfigRequest } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { initTrainingBackend } from './backend.ts';
import { buildHeadModel, makeOptimizer } from './model.ts';

await initTrainingBackend();
const recipe = headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' });

describe('buildHeadModel', () => {
  it('builds the recipe head: Flatten -> Dense(256, relu) -> Dropout(0.5) -> Dense(1, sigmoid)', () => {
    const model = buildHeadModel([4, 4, 512], 2, recipe);
    const layers = model.layers.map((l) => {
      const c = l.getConfig();
      return [l.getClassName(), c.units ?? c.rate ?? null, c.activation ?? null];
    });
    expect(layers).toEqual([
      ['Flatten', null, null],
      ['Dense', 256, 'relu'],
      ['Dropout', 0.5, null],
      ['Dense', 1, 'sigmoid'],
    ]);
    expect(model.inputs[0]?.shape).toEqual([null, 4, 4, 512]);
    expect(model.outputs[0]?.shape).toEqual([null, 1]);
    expect(model.countParams()).toBe(8192 * 256 + 256 + 256 + 1);
    model.dispose();
  });

  it('uses RMSprop with lr 2e-5, rho 0.9, epsilon 1e-7 and no momentum for the recipe', () => {
    const optimizer = makeOptimizer(recipe);
    expect(optimizer.getClassName()).toBe('RMSProp');
    expect(optimizer.getConfig()).toMatchObject({
      learningRate: 2e-5,
      decay: 0.9,
      momentum: 0,
      epsilon: 1e-7,
    });
    optimizer.dispose();
  });

  it('builds a softmax head for more than two classes and no hidden layer when hiddenUnits is 0', () => {
    const model = buildHeadModel([8], 3, { ...recipe, hiddenUnits: 0 });
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Dense']);
    expect(model.layers[0]?.getConfig().activation).toBe('softmax');
    expect(model.outputs[0]?.shape).toEqual([null, 3]);
    model.dispose();
  });

  it('pools [h, w, c] features with global average pooling when asked', () => {
    const model = buildHeadModel([4, 4, 512], 2, { ...recipe, pooling: 'avg' });
    expect(model.layers[0]?.getClassName()).toBe('GlobalAveragePooling2D');
    expect(model.layers[1]?.getWeights()[0]?.shape).toEqual([512, 256]);
    model.dispose();
    expect(() => buildHeadModel([64], 2, { ...recipe, pooling: 'avg' })).toThrow(/featureShape \[64\]/);
  });

  it('draws the same initial weights from the same seed', () => {
    const a = buildHeadModel([6], 2, { ...recipe, hiddenUnits: 4, seed: 7 });
    const b = buildHeadModel([6], 2, { ...recipe, hiddenUnits: 4, seed: 7 });
    expect(Array.from(a.getWeights()[0]?.dataSync() ?? [])).toEqual(
      Array.from(b.getWeights()[0]?.dataSync() ?? []),
    );
    a.dispose();
    b.dispose();
  });
});
