/**
 * Seconds per epoch of the recipe head (8192 -> 256 -> 1, batch 20, RMSprop 2e-5) for plain tfjs
 * `model.fit` vs @edgehead/training's fast trainer, on each available backend, in one run; plus the final
 * val_accuracy of both on a learnable synthetic problem (same seed, same batches) to show the curves agree.
 *
 * Run: npx tsx test/bench/training-epoch.ts   (writes bench-results/training-epoch.json)
 * Bounded: plain fit is timed on a slice of the epoch (BASELINE_ROWS rows) and scaled to 2000 rows,
 * because a full plain epoch takes ~20 s on wasm and ~2 min on cpu; the fast trainer runs full epochs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { headConfigRequest } from '@edgehead/contracts';
import { type TrainingBackend, trainHead } from '@edgehead/training';
import { syntheticFeatures } from '@edgehead/training/testing';
import * as tf from '@tensorflow/tfjs';

const FEATURE_SHAPE = [4, 4, 512];
const TRAIN = 2000;
const VAL = 1000;
const recipe = headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' });
const backends: { name: TrainingBackend; baselineRows: number; fastRows: number; fastEpochs: number }[] = [
  { name: 'wasm', baselineRows: 400, fastRows: TRAIN, fastEpochs: 3 },
  { name: 'cpu', baselineRows: 40, fastRows: 400, fastEpochs: 1 },
];

function randomSplit(n: number, seed: number) {
  const data = syntheticFeatures({ n, dim: 8192, numClasses: 2, informative: 0, seed });
  return data.train;
}

async function secondsPerEpoch(
  backend: TrainingBackend,
  engine: 'fast' | 'layers',
  rows: number,
  epochs: number,
) {
  const train = randomSplit(rows, 1);
  const validation = randomSplit(Math.round((VAL * rows) / TRAIN), 2);
  const { model, history } = await trainHead(
    { featureShape: FEATURE_SHAPE, numClasses: 2, train, validation },
    { ...recipe, epochs },
    { engine, backend },
  );
  model.dispose();
  // Skip the first epoch when there are more (warm-up: kernel compilation, operator caches).
  const timed = history.length > 1 ? history.slice(1) : history;
  const ms = timed.reduce((s, m) => s + m.duration_ms, 0) / timed.length;
  return ((ms / 1000) * TRAIN) / rows;
}

const rows: Record<string, unknown>[] = [];
for (const b of backends) {
  const plain = await secondsPerEpoch(b.name, 'layers', b.baselineRows, 1);
  const fast = await secondsPerEpoch(b.name, 'fast', b.fastRows, b.fastEpochs);
  rows.push({
    backend: b.name,
    'plain fit s/epoch': +plain.toFixed(2),
    'fast s/epoch': +fast.toFixed(3),
    speedup: +(plain / fast).toFixed(1),
    'plain rows timed': b.baselineRows,
    'fast rows timed': b.fastRows,
  });
  console.table(rows.slice(-1));
}

// Learning-curve agreement on a learnable problem: recipe config, fewer rows and epochs to stay bounded.
await tf.setBackend('wasm');
const learnable = syntheticFeatures({
  n: 600,
  nVal: 300,
  dim: 8192,
  numClasses: 2,
  informative: 256,
  separation: 0.4,
  seed: 5,
});
const curve = async (engine: 'fast' | 'layers') => {
  const { model, history } = await trainHead(
    { featureShape: FEATURE_SHAPE, numClasses: 2, ...learnable },
    { ...recipe, epochs: 6 },
    { engine, backend: 'wasm' },
  );
  model.dispose();
  return history.map((m) => m.val_accuracy as number);
};
const plainCurve = await curve('layers');
const fastCurve = await curve('fast');
const agreement = {
  problem: '600 train / 300 val x 8192, 256 informative dims, recipe config, 6 epochs, wasm',
  'plain val_accuracy by epoch': plainCurve.map((v) => +v.toFixed(4)),
  'fast val_accuracy by epoch': fastCurve.map((v) => +v.toFixed(4)),
  'final difference': +Math.abs((plainCurve.at(-1) ?? 0) - (fastCurve.at(-1) ?? 0)).toFixed(4),
};

console.table(rows);
console.log(agreement);
mkdirSync('bench-results', { recursive: true });
writeFileSync(
  'bench-results/training-epoch.json',
  `${JSON.stringify({ date: new Date().toISOString(), epochs: rows, agreement }, null, 2)}\n`,
);
