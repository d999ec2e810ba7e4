import { type HeadConfig, headConfigRequest } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initTrainingBackend } from './backend.ts';
import { TrainingError } from './errors.ts';
import { syntheticFeatures } from './testing.ts';
import { type TrainHooks, trainHead } from './train.ts';

const base: HeadConfig = headConfigRequest.parse({
  preset: 'keras-vgg16-feature-extraction',
  hiddenUnits: 12,
  learningRate: 0.01,
  epochs: 3,
  batchSize: 16,
  seed: 7,
});
const binary = syntheticFeatures({ n: 96, nVal: 64, dim: 32, numClasses: 2, separation: 1 });
const input = { featureShape: [2, 2, 8], numClasses: 2, ...binary };

async function run(config: HeadConfig, hooks: TrainHooks, data = input) {
  const result = await trainHead(data, config, hooks);
  const weights = result.model.getWeights().map((w: tf.Tensor) => Array.from(w.dataSync()));
  result.model.dispose();
  return { ...result, weights };
}

function maxDifference(a: number[][], b: number[][]): number {
  let max = 0;
  for (const [i, w] of a.entries()) {
    for (const [j, v] of w.entries()) max = Math.max(max, Math.abs(v - (b[i]?.[j] ?? Number.NaN)));
  }
  return max;
}

// Every run starts two worker threads (tsx + tfjs + wasm start-up: seconds on a busy 2-core machine).
describe('trainHead with the parallel engine', { timeout: 60_000 }, () => {
  it('equals the single-thread engine within float tolerance and repeats itself bit for bit (same seed)', async () => {
    const cases = [
      { config: base, data: input },
      {
        config: { ...base, optimizer: 'adam' as const, classWeight: [1, 2, 1], hiddenUnits: 9 },
        data: {
          featureShape: [12],
          numClasses: 3,
          ...syntheticFeatures({ n: 90, nVal: 45, dim: 12, numClasses: 3, informative: 12 }),
        },
      },
    ];
    for (const { config, data } of cases) {
      const single = await run(config, { engine: 'fast' }, data);
      const parallel = await run(config, { engine: 'parallel', workers: 2 }, data);
      if (config === base) {
        // Same seed again: bit-identical, whatever the thread timing was.
        const again = await run(config, { engine: 'parallel', workers: 2 }, data);
        expect(again.history.map((m) => [m.loss, m.valLoss])).toEqual(
          parallel.history.map((m) => [m.loss, m.valLoss]),
        );
        expect(again.weights).toEqual(parallel.weights);
      }
      expect(parallel.engine).toBe('parallel');
      expect(parallel.workers).toBe(2);
      expect(parallel.history).toHaveLength(single.history.length);
      for (const [i, p] of parallel.history.entries()) {
        const s = single.history[i];
        expect(p.loss).toBeCloseTo(s?.loss as number, 5);
        expect(p.accuracy).toBe(s?.accuracy);
        expect(p.valLoss as number).toBeCloseTo(s?.valLoss as number, 5);
        expect(p.valAccuracy).toBe(s?.valAccuracy);
      }
      expect(parallel.weights.map((w) => w.length)).toEqual(single.weights.map((w) => w.length));
      expect(maxDifference(parallel.weights, single.weights)).toBeLessThan(1e-5);
    }
  });

  it('restores the best epoch like the single-thread engine when early stopping', async () => {
    const config = {
      ...base,
      epochs: 30,
      learningRate: 0.5,
      earlyStopping: { patience: 2, minDelta: 0, restoreBestWeights: true },
    };
    await initTrainingBackend();
    const tensors = tf.memory().numTensors;
    const single = await run(config, { engine: 'fast' });
    const parallel = await run(config, { engine: 'parallel', workers: 2 });
    // Both runs leave no tensor behind on this thread once the model is disposed.
    expect(tf.memory().numTensors).toBe(tensors);
    expect(parallel.status).toBe('early-stopped');
    expect(parallel.weightsEpoch).toBe(single.weightsEpoch);
    expect(parallel.history.length).toBe(single.history.length);
    expect(maxDifference(parallel.weights, single.weights)).toBeLessThan(1e-4);
  });

  it('stops between batches when the signal aborts', async () => {
    const controller = new AbortController();
    const { status, history } = await run(
      { ...base, epochs: 500, batchSize: 1 },
      {
        engine: 'parallel',
        workers: 2,
        signal: controller.signal,
        onEpoch: (m) => {
          if (m.epoch === 1) setTimeout(() => controller.abort(), 1);
        },
      },
    );
    expect(status).toBe('cancelled');
    expect(history.length).toBeLessThan(500);
  });

  it('reports a worker that cannot start as worker_failed', async () => {
    const workerUrl = new URL('data:text/javascript,throw new Error("no shard here")');
    const error = await trainHead(input, base, { engine: 'parallel', workers: 2, workerUrl }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as TrainingError).code).toBe('worker_failed');
  });

  it("falls back to the single-thread engine under 'auto' when workers cannot start", async () => {
    // 4096 x 256 first-layer weights: large enough for 'auto' to choose two workers when asked for them.
    const big = syntheticFeatures({ n: 8, nVal: 4, dim: 4096, numClasses: 2 });
    const workerUrl = new URL('data:text/javascript,throw new Error("no shard here")');
    const { engine, workers, history, model } = await trainHead(
      { featureShape: [4096], numClasses: 2, ...big },
      { ...base, hiddenUnits: 256, epochs: 1 },
      { workerUrl, workers: 2 },
    );
    model.dispose();
    expect([engine, workers]).toEqual(['fast', 1]);
    expect(history).toHaveLength(1);
  });

  it('rejects more workers than hidden units', async () => {
    await expect(trainHead(input, base, { engine: 'parallel', workers: 13 })).rejects.toThrow(
      /workers: 13, expected an integer in \[1, 12\]/,
    );
  });
});
