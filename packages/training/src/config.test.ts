import { headConfigRequest, headPresets } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';

function fieldsOf(input: unknown): string[] {
  const result = headConfigRequest.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => i.path.join('.'));
}

describe('head config', () => {
  it('resolves the Keras recipe preset to exactly its hyperparameters', () => {
    const config = headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' });
    expect(config).toEqual({
      hiddenUnits: 256,
      dropout: 0.5,
      pooling: 'flatten',
      optimizer: 'rmsprop',
      learningRate: 2e-5,
      momentum: 0,
      epochs: 30,
      batchSize: 20,
      classWeight: null,
      seed: 0,
      earlyStopping: null,
      threshold: 'fixed',
    });
  });

  it('uses the edgehead default preset when none is named and lets fields override it', () => {
    const config = headConfigRequest.parse({ epochs: 5, earlyStopping: { patience: 2 } });
    expect(config.optimizer).toBe(headPresets['edgehead-default'].optimizer);
    expect(config.epochs).toBe(5);
    expect(config.earlyStopping).toEqual({ patience: 2, minDelta: 0, restoreBestWeights: true });
  });

  it('rejects bad values and names the field', () => {
    expect(fieldsOf({ epochs: 0 })).toEqual(['epochs']);
    expect(fieldsOf({ learningRate: -0.1 })).toEqual(['learningRate']);
    expect(fieldsOf({ dropout: 1 })).toEqual(['dropout']);
    expect(fieldsOf({ batchSize: 2.5 })).toEqual(['batchSize']);
    expect(fieldsOf({ optimizer: 'lbfgs' })).toEqual(['optimizer']);
    expect(fieldsOf({ classWeight: [1, -2] })).toEqual(['classWeight.1']);
    expect(fieldsOf({ earlyStopping: { patience: -1 } })).toEqual(['earlyStopping.patience']);
    expect(fieldsOf({ preset: 'keras-vgg19' })).toEqual(['preset']);
  });

  it('rejects unknown fields instead of ignoring them', () => {
    expect(headConfigRequest.safeParse({ epoch: 3 }).success).toBe(false);
  });
});
