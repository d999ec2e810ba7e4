import type { HeadConfig } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTrainingBackend } from './backend.ts';
import { optimizerWasmModule } from './kernels/compile-wat.ts';
import { optimizerWasmBase64 } from './kernels/optimizer-wasm.ts';
import { fusedDenseUpdate, fusedUpdate, type UpdateScalars } from './kernels/update-kernels.ts';
import { makeOptimizer } from './model.ts';
import { VariableOptimizer } from './optimizer.ts';

type OptimizerConfig = Pick<HeadConfig, 'optimizer' | 'learningRate' | 'momentum'>;
const configs: OptimizerConfig[] = [
  { optimizer: 'rmsprop', learningRate: 2e-5, momentum: 0 },
  { optimizer: 'adam', learningRate: 1e-3, momentum: 0 },
  { optimizer: 'sgd', learningRate: 0.01, momentum: 0.9 },
  { optimizer: 'sgd', learningRate: 0.01, momentum: 0 },
];

/**
 * Runs `steps` updates of a [3, 7] variable (21 values: four-lane blocks and a tail) with tfjs's own
 * optimizer and with VariableOptimizer, from the same start and gradients; returns both final values.
 */
function bothFinalValues(config: OptimizerConfig, steps: number): [Float32Array, Float32Array] {
  const start = tf.randomNormal([3, 7], 0, 1, 'float32', 1);
  const reference = tf.variable(start.clone(), true, 'reference');
  const ours = tf.variable(start.clone(), false, 'ours');
  const tfjsOptimizer = makeOptimizer(config);
  const optimizer = new VariableOptimizer(config);
  for (let step = 0; step < steps; step++) {
    const gradient = tf.randomNormal([3, 7], 0, 1, 'float32', 10 + step);
    tfjsOptimizer.applyGradients({ reference: gradient });
    optimizer.apply(ours, gradient);
    optimizer.endStep();
    gradient.dispose();
  }
  const values: [Float32Array, Float32Array] = [
    reference.dataSync() as Float32Array,
    ours.dataSync() as Float32Array,
  ];
  tf.dispose([start, reference, ours]);
  tfjsOptimizer.dispose();
  optimizer.dispose();
  return values;
}

/** dA [units, batch] with about `density` of its values nonzero (seeded). */
function sparse(units: number, batch: number, density: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const keep = tf.cast(
      tf.less(tf.randomUniform([units, batch], 0, 1, 'float32', seed), density),
      'float32',
    );
    return tf.mul(tf.randomNormal([units, batch], 0, 1, 'float32', seed + 1), keep) as tf.Tensor2D;
  });
}

describe.each(['wasm', 'cpu'] as const)('VariableOptimizer on %s', (backend) => {
  beforeAll(async () => {
    await initTrainingBackend(backend);
  });

  it.each(configs)('updates bit for bit as tf.train does: $optimizer, momentum $momentum', (config) => {
    const [expected, actual] = bothFinalValues(config, 5);
    expect(Array.from(actual)).toEqual(Array.from(expected));
  });

  it.each(configs)('keeps no tensor behind after dispose: $optimizer', (config) => {
    const v = tf.variable(tf.ones([5, 3]));
    const g = tf.ones([5, 3]);
    const before = tf.memory().numTensors;
    const optimizer = new VariableOptimizer(config);
    for (let step = 0; step < 3; step++) {
      optimizer.apply(v, g);
      optimizer.endStep();
    }
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([v, g]);
  });
});

describe('VariableOptimizer.applyDense', () => {
  beforeAll(async () => {
    await initTrainingBackend('wasm');
  });

  // 0.2: the row kernel that skips zeros; 0.9: matMul then the plain update. dim 37 has a 1-float tail.
  it.each([
    { rule: configs[0], density: 0.2, dim: 64 },
    { rule: configs[1], density: 0.2, dim: 37 },
    { rule: configs[2], density: 0.2, dim: 37 },
    { rule: configs[3], density: 0.2, dim: 64 },
    { rule: configs[0], density: 0.9, dim: 37 },
  ])(
    'equals matMul then apply, bit for bit: $rule.optimizer, density $density, dim $dim',
    ({ rule, density, dim }) => {
      const config = rule as OptimizerConfig;
      const [units, batch] = [6, 9];
      const start = tf.randomNormal([units, dim], 0, 1, 'float32', 3);
      const viaMatMul = tf.variable(start.clone());
      const viaDense = tf.variable(start.clone());
      const [a, b] = [new VariableOptimizer(config), new VariableOptimizer(config)];
      for (let step = 0; step < 3; step++) {
        const dA = sparse(units, batch, density, 20 + step);
        const x = tf.randomNormal([batch, dim], 0, 1, 'float32', 40 + step) as tf.Tensor2D;
        tf.tidy(() => a.apply(viaMatMul, tf.matMul(dA, x)));
        b.applyDense(viaDense, dA, x);
        a.endStep();
        b.endStep();
        tf.dispose([dA, x]);
      }
      expect(Array.from(viaDense.dataSync())).toEqual(Array.from(viaMatMul.dataSync()));
      tf.dispose([start, viaMatMul, viaDense]);
      a.dispose();
      b.dispose();
    },
  );
});

describe('fused kernels', () => {
  it('the committed module is optimizer.wat assembled (run `npm run emit-wasm` after editing the .wat)', async () => {
    const assembled = Buffer.from(await optimizerWasmModule()).toString('base64');
    expect(assembled).toBe(optimizerWasmBase64);
  });

  it.each([0.3, 1])(
    'the dense kernel equals matMul then the plain kernel, bit for bit (density %s)',
    async (density) => {
      await initTrainingBackend('wasm');
      const [units, batch, dim] = [5, 7, 37];
      const scalars = {
        lr: 0.01,
        negLr: -0.01,
        rho: 0.9,
        oneMinusRho: Math.fround(0.1),
        eps: 1e-7,
      } as UpdateScalars;
      const [w, ms] = [1, 2].map((seed) => tf.randomUniform([units, dim], 0, 1, 'float32', seed));
      const dA = sparse(units, batch, density, 3);
      const x = tf.randomNormal([batch, dim], 0, 1, 'float32', 5) as tf.Tensor2D;
      const gradient = tf.matMul(dA, x);
      const plain = fusedUpdate('rmsprop', w as tf.Tensor, [ms as tf.Tensor], gradient, scalars);
      const dense = fusedDenseUpdate('rmsprop', w as tf.Tensor2D, [ms as tf.Tensor], dA, x, scalars);
      expect(dense.map((t) => Array.from(t.dataSync()))).toEqual(plain.map((t) => Array.from(t.dataSync())));
      tf.dispose([w, ms, dA, x, gradient, ...plain, ...dense] as tf.Tensor[]);
    },
  );

  it('refuses a gradient whose shape is not the variable shape', async () => {
    await initTrainingBackend('wasm');
    const optimizer = new VariableOptimizer(configs[0] as OptimizerConfig);
    const v = tf.variable(tf.zeros([4, 4]));
    const g = tf.zeros([4, 3]);
    expect(() => optimizer.apply(v, g)).toThrow(/a \[4,3\] float32 input, expected \[4,4\] float32/);
    tf.dispose([v, g]);
    optimizer.dispose();
  });
});
