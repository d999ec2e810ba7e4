/**
 * Micro-benchmark of one RMSprop update of the recipe's first kernel (256 x 8192 = 2M weights) on tfjs-wasm:
 * tfjs's op-for-op rule vs variants, interleaved round by round, timed in process CPU time (the machine is
 * shared: wall time mostly measures the others). Prints CPU ms per full update and the max difference from op-for-op.
 *
 * Run: npx tsx test/bench/training-optimizer-ops.ts   (writes bench-results/training-optimizer-ops.json)
 * Fails (exit 1) when the fused kernel's weights differ from op for op's in any bit.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { VariableOptimizer } from '@edgehead/training';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { BenchReport, sized } from './lib/harness.ts';

await tf.setBackend('wasm');
await tf.ready();
const wasm = tf.backend() as BackendWasm;
const TOTAL = 256 * 8192;
const lr = 2e-5;
const rho = 0.9;
const eps = 1e-7;
const ROUNDS = sized(20, 2);
const report = new BenchReport('training-optimizer-ops');
/** CPU time of this (single-threaded) process: far less sensitive than wall time to other load. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

type Rule = (w: tf.Variable, ms: tf.Variable, g: tf.Tensor) => void;
const s = (v: number) => tf.keep(tf.scalar(v));
const k = { lr: s(lr), rho: s(rho), omr: s(1 - rho), eps: s(eps) };

const opForOp: Rule = (w, ms, g) => {
  const next = tf.add(tf.mul(ms, k.rho), tf.mul(tf.square(g), k.omr));
  ms.assign(next);
  w.assign(tf.sub(w, tf.div(tf.mul(g, k.lr), tf.sqrt(tf.add(next, k.eps)))));
};
const rsqrt: Rule = (w, ms, g) => {
  const next = tf.add(tf.mul(ms, k.rho), tf.mul(tf.square(g), k.omr));
  ms.assign(next);
  w.assign(tf.sub(w, tf.mul(tf.mul(g, k.lr), tf.rsqrt(tf.add(next, k.eps)))));
};
const heapLoop: Rule = (w, ms, g) => {
  const wv = wasm.typedArrayFromHeap(w) as Float32Array;
  const mv = wasm.typedArrayFromHeap(ms) as Float32Array;
  const gv = wasm.typedArrayFromHeap(g) as Float32Array;
  const omr = 1 - rho;
  for (let i = 0; i < wv.length; i++) {
    const gi = gv[i] as number;
    const m = rho * (mv[i] as number) + omr * gi * gi;
    mv[i] = m;
    wv[i] = (wv[i] as number) - (lr * gi) / Math.sqrt(m + eps);
  }
};
// The trainer's update: one pass of the fused kernel (kernels/optimizer.wat) over the whole variable.
const fused = new VariableOptimizer({ optimizer: 'rmsprop', learningRate: lr, momentum: 0 });
const fusedKernel: Rule = (w, _ms, g) => fused.apply(w, g);
const variants: { name: string; rule: Rule; chunk: number; tidy: boolean }[] = [
  { name: 'fused wasm kernel', rule: fusedKernel, chunk: TOTAL, tidy: false },
  { name: 'op for op', rule: opForOp, chunk: 1 << 18, tidy: true },
  { name: 'op for op', rule: opForOp, chunk: 1 << 16, tidy: true },
  { name: 'rsqrt', rule: rsqrt, chunk: 1 << 18, tidy: true },
  { name: 'rsqrt', rule: rsqrt, chunk: 1 << 16, tidy: true },
  { name: 'js loop on heap', rule: heapLoop, chunk: 1 << 18, tidy: false },
  { name: 'js loop on heap', rule: heapLoop, chunk: TOTAL, tidy: false },
];

let seed = 1;
const rand = (n: number, scale: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 16807) % 2147483647;
    a[i] = ((seed / 2147483647) * 2 - 1) * scale;
  }
  return a;
};
const w0 = rand(TOTAL, 0.05);
const g0 = [rand(TOTAL, 1e-3), rand(TOTAL, 1e-3)];
const state = variants.map((v) => {
  const rows = v.chunk / 8192;
  const parts = TOTAL / v.chunk;
  const slice = (a: Float32Array, c: number) =>
    tf.tensor2d(a.subarray(c * v.chunk, (c + 1) * v.chunk), [rows, 8192]);
  return {
    ws: Array.from({ length: parts }, (_, c) => tf.variable(slice(w0, c))),
    mss: Array.from({ length: parts }, () => tf.variable(tf.zeros([rows, 8192]))),
    gs: g0.map((g) => Array.from({ length: parts }, (_, c) => slice(g, c))),
    times: [] as number[],
  };
});
for (let r = 0; r < ROUNDS; r++) {
  variants.forEach((v, i) => {
    const st = state[i] as (typeof state)[number];
    const t0 = cpuMs();
    st.ws.forEach((w, c) => {
      const g = st.gs[r % 2]?.[c] as tf.Tensor;
      const ms = st.mss[c] as tf.Variable;
      if (v.tidy) tf.tidy(() => v.rule(w, ms, g));
      else v.rule(w, ms, g);
    });
    // tfjs-wasm runs ops synchronously, so nothing is pending here (and no read-back copy is timed)
    st.times.push(cpuMs() - t0);
  });
}
const reference = tf.concat((state[1] as (typeof state)[number]).ws).dataSync();
const rows = variants.map((v, i) => {
  const st = state[i] as (typeof state)[number];
  const w = tf.concat(st.ws).dataSync();
  let diff = 0;
  for (let j = 0; j < w.length; j++)
    diff = Math.max(diff, Math.abs((w[j] as number) - (reference[j] as number)));
  const t = [...st.times].sort((a, b) => a - b);
  return {
    variant: v.name,
    'chunk values': v.chunk,
    'min cpu ms': +(t[0] as number).toFixed(2),
    'median cpu ms': +(t[t.length >> 1] as number).toFixed(2),
    'max |dw| vs op for op': diff,
  };
});
// tfjs's rules and the fused kernel do the same f32 operations in the same order (the variants need not)
const fusedRow = rows.find((r) => r.variant === 'fused wasm kernel');
report.check(
  fusedRow?.['max |dw| vs op for op'] === 0,
  `fused kernel vs op for op: ${JSON.stringify(fusedRow)}`,
);
report.finish(rows, { rounds: ROUNDS, rows });
