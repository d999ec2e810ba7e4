/**
 * The first layer's weight gradient and RMSprop update of the recipe head (W1t [256, 8192], dA [256, 20],
 * x [20, 8192]) on tfjs-wasm, three ways, interleaved round by round in one process: `matMul` then tfjs's
 * update ops (what plain tfjs does), `matMul` then the fused update kernel, and `applyDense`, what the fast
 * trainer calls: the fused dense kernel that makes the gradient row by row from the nonzero entries of dA
 * when at most half of dA is nonzero, else the second way. dA is drawn with 25%, 50% and 100% nonzero entries (ReLU and dropout leave about
 * 25% in the recipe). Prints wall ms per update (min and median) and checks that all three give the same bits.
 *
 * Run: npx tsx test/bench/training-dense-update.ts   (writes bench-results/training-dense-update.json)
 * Fails (exit 1) when a way's weights differ from the first way's in any bit.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { VariableOptimizer } from '@edgehead/training';
import { BenchReport, sized } from './lib/harness.ts';

await tf.setBackend('wasm');
await tf.ready();
const [UNITS, DIM, BATCH] = [256, 8192, 20];
const ROUNDS = sized(15, 2);
const report = new BenchReport('training-dense-update');
const config = { optimizer: 'rmsprop', learningRate: 2e-5, momentum: 0 } as const;
const k = { lr: tf.scalar(2e-5), rho: tf.scalar(0.9), omr: tf.scalar(1 - 0.9), eps: tf.scalar(1e-7) };

type Way = { name: string; update: (w: tf.Variable, dA: tf.Tensor2D, x: tf.Tensor2D) => void };
const ways = (): Way[] => {
  const ms = tf.variable(tf.zeros([UNITS, DIM]));
  const fused = new VariableOptimizer(config);
  const dense = new VariableOptimizer(config);
  return [
    {
      name: 'matMul + tfjs ops',
      update: (w, dA, x) =>
        tf.tidy(() => {
          const g = tf.matMul(dA, x);
          const next = tf.add(tf.mul(ms, k.rho), tf.mul(tf.square(g), k.omr));
          ms.assign(next);
          w.assign(tf.sub(w, tf.div(tf.mul(g, k.lr), tf.sqrt(tf.add(next, k.eps)))));
        }),
    },
    { name: 'matMul + fused update', update: (w, dA, x) => tf.tidy(() => fused.apply(w, tf.matMul(dA, x))) },
    { name: 'applyDense (the trainer)', update: (w, dA, x) => dense.applyDense(w, dA, x) },
  ];
};

const x = tf.randomUniform([BATCH, DIM], 0, 1, 'float32', 1) as tf.Tensor2D;
const rows: Record<string, unknown>[] = [];
for (const density of [0.25, 0.5, 1]) {
  const dA = tf.tidy(() =>
    tf.mul(
      tf.randomNormal([UNITS, BATCH], 0, 1e-3, 'float32', 2),
      tf.cast(tf.less(tf.randomUniform([UNITS, BATCH], 0, 1, 'float32', 3), density), 'float32'),
    ),
  ) as tf.Tensor2D;
  const candidates = ways();
  const weights = candidates.map(() => tf.variable(tf.randomNormal([UNITS, DIM], 0, 0.05, 'float32', 4)));
  const times: number[][] = candidates.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    candidates.forEach((way, i) => {
      const t0 = performance.now();
      // tfjs-wasm runs ops synchronously: no read-back needed (a dataSync would time an 8 MB copy and its GC)
      way.update(weights[i] as tf.Variable, dA, x);
      (times[i] as number[]).push(performance.now() - t0);
    });
  }
  const reference = (weights[0] as tf.Variable).dataSync();
  candidates.forEach((way, i) => {
    const t = [...(times[i] as number[])].sort((a, b) => a - b);
    const w = (weights[i] as tf.Variable).dataSync();
    const sameBits = w.every((v, j) => v === reference[j]);
    report.check(sameBits, `dA ${density} nonzero: ${way.name} differs from ${candidates[0]?.name}`);
    rows.push({
      'dA nonzero': density,
      way: way.name,
      'min ms': +(t[0] as number).toFixed(2),
      'median ms': +(t[t.length >> 1] as number).toFixed(2),
      'same bits': sameBits,
    });
  });
  tf.dispose([dA, ...weights]);
}
report.finish(rows, { rounds: ROUNDS, rows });
