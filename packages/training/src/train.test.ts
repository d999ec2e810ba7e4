import { type EpochMetrics, type HeadConfig, headConfigRequest } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { TrainingError } from './errors.ts';
import { syntheticFeatures } from './testing.ts';
import { trainHead } from './train.ts';

const base: HeadConfig = headConfigRequest.parse({
  preset: 'keras-vgg16-feature-extraction',
  hiddenUnits: 16,
  learningRate: 0.01,
  epochs: 5,
  batchSize: 16,
  seed: 3,
});
const binary = syntheticFeatures({ n: 160, nVal: 80, dim: 32, numClasses: 2, separation: 1 });
const input = { featureShape: [2, 2, 8], numClasses: 2, ...binary };

describe('trainHead', () => {
  it('learns a separable synthetic feature set to >= 0.95 validation accuracy', async () => {
    const { model, history, status } = await trainHead(input, base);
    expect(status).toBe('completed');
    expect(history.at(-1)?.valAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(model.getWeights()[0]?.shape).toEqual([32, 16]);
    model.dispose();
  });

  it('learns a three-class softmax head', async () => {
    const data = syntheticFeatures({ n: 150, nVal: 90, dim: 12, numClasses: 3, informative: 12 });
    const { model, history } = await trainHead(
      { featureShape: [12], numClasses: 3, ...data },
      { ...base, epochs: 8 },
    );
    expect(history.at(-1)?.valAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(model.outputs[0]?.shape).toEqual([null, 3]);
    model.dispose();
  });

  it('awaits onEpoch once per epoch with finite metrics', async () => {
    const seen: EpochMetrics[] = [];
    const { model } = await trainHead(
      input,
      { ...base, epochs: 3 },
      {
        onEpoch: async (m) => {
          await new Promise((r) => setTimeout(r, 5));
          seen.push(m);
        },
      },
    );
    expect(seen.map((m) => m.epoch)).toEqual([1, 2, 3]);
    for (const m of seen) {
      for (const v of [m.loss, m.accuracy, m.valLoss, m.valAccuracy, m.durationMs])
        expect(Number.isFinite(v)).toBe(true);
    }
    model.dispose();
  });

  it('stops between batches when the signal aborts and reports cancelled', async () => {
    const controller = new AbortController();
    const epochs: number[] = [];
    const { model, status, history } = await trainHead(
      input,
      { ...base, epochs: 50, batchSize: 1 },
      {
        signal: controller.signal,
        onEpoch: (m) => {
          epochs.push(m.epoch);
          // Abort from a timer, while the next epoch's batches run.
          if (m.epoch === 1) setTimeout(() => controller.abort(), 1);
        },
      },
    );
    expect(status).toBe('cancelled');
    expect(history.length).toBeLessThan(50);
    expect(epochs).toEqual(history.map((m) => m.epoch));
    model.dispose();
  });

  it('gives the same metrics and weights for the same seed, and different ones for another seed', async () => {
    const run = async (seed: number) => {
      const { model, history } = await trainHead(input, { ...base, epochs: 3, seed });
      const weights = Array.from(model.getWeights()[0]?.dataSync() ?? []);
      model.dispose();
      return { losses: history.map((m) => [m.loss, m.valLoss]), weights };
    };
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    expect(b).toEqual(a);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('stops early and restores the weights of the best val_loss epoch', async () => {
    // A learning rate this high makes val_loss bounce, so patience runs out.
    const config = {
      ...base,
      epochs: 40,
      learningRate: 0.5,
      earlyStopping: { patience: 2, minDelta: 0, restoreBestWeights: true },
    };
    const { model, history, status, weightsEpoch } = await trainHead(input, config);
    expect(status).toBe('early-stopped');
    const losses = history.map((m) => m.valLoss as number);
    const best = losses.indexOf(Math.min(...losses)) + 1;
    expect(weightsEpoch).toBe(best);
    expect(history.length).toBe(best + 2);
    const { evaluateHead } = await import('./evaluate.ts');
    const restored = await evaluateHead(model, input.validation.features, input.validation.labels, [
      'a',
      'b',
    ]);
    expect(restored.accuracy).toBeCloseTo(history[best - 1]?.valAccuracy as number, 5);
    model.dispose();
  });

  it('weights the training loss by class', async () => {
    const loss = async (classWeight: HeadConfig['classWeight']) => {
      const { model, history } = await trainHead(input, { ...base, epochs: 1, classWeight });
      model.dispose();
      return history[0]?.loss as number;
    };
    const plain = await loss(null);
    const weighted = await loss([1, 4]);
    expect(weighted).toBeGreaterThan(plain * 1.5);
  });

  it('follows the same learning curve as plain model.fit (same seed, same batches, no dropout)', async () => {
    for (const optimizer of ['rmsprop', 'adam', 'sgd'] as const) {
      const config = {
        ...base,
        optimizer,
        momentum: optimizer === 'sgd' ? 0.9 : 0,
        dropout: 0,
        epochs: 4,
        classWeight: [1, 2],
      };
      const fast = await trainHead(input, config, { engine: 'fast' });
      const layers = await trainHead(input, config, { engine: 'layers' });
      expect([fast.history.length, layers.history.length]).toEqual([4, 4]);
      for (const [i, f] of fast.history.entries()) {
        const l = layers.history[i] as EpochMetrics;
        expect(f.loss).toBeCloseTo(l.loss, 4);
        expect(f.valLoss as number).toBeCloseTo(l.valLoss as number, 4);
        expect(f.valAccuracy as number).toBeCloseTo(l.valAccuracy as number, 6);
      }
      fast.model.dispose();
      layers.model.dispose();
    }
  });

  it('rejects inputs that do not match the feature shape or class count', async () => {
    const bad = { ...input, train: { features: new Float32Array(10), labels: [0, 1] } };
    await expect(trainHead(bad, base)).rejects.toThrow(/train.features: 10 values, expected 2 labels x 32/);
    const badLabel = { ...input, train: { features: new Float32Array(32), labels: [2] } };
    await expect(trainHead(badLabel, base)).rejects.toBeInstanceOf(TrainingError);
    await expect(trainHead(input, { ...base, epochs: 0 })).rejects.toThrow(/config.epochs/);
  });
});
