/**
 * Seconds per epoch of the recipe head (8192 -> 256 -> 1, batch 20, RMSprop 2e-5, dropout 0.5) for plain
 * tfjs `model.fit` vs @edgehead/training's fast trainer on one thread vs the same trainer split across
 * worker threads, on each backend, in one run; plus the final val_accuracy of plain fit and the fast
 * trainers on a learnable synthetic problem (same seeds, same batches) to show the curves agree.
 *
 * Run: npx tsx test/bench/training-epoch.ts   (writes bench-results/training-epoch.json)
 *   BENCH_BACKENDS=wasm   only the wasm backend (default: wasm,cpu; empty: only the agreement part)
 *   BENCH_WORKERS=2       threads of the parallel trainer (default 2)
 *   BENCH_SEEDS=8         seeds of the dropout 0.5 agreement (default 8)
 * Bounded: plain fit is timed on a slice of the epoch (plain rows) and scaled to 2000 rows, because a full
 * plain epoch takes ~20 s on wasm and ~2 min on cpu; the fast trainers run full epochs on wasm.
 * Besides wall time it reports process CPU seconds per epoch (all threads): on a machine shared with other
 * work, wall time measures the others too, while CPU time divided by the threads is close to the wall time
 * the same epoch takes on an idle machine. On wasm it also times fast and parallel again while another
 * process keeps one core busy: what decides 'auto' on a small machine.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { headConfigRequest } from '@edgehead/contracts';
import { type TrainingBackend, trainHead } from '@edgehead/training';
import { syntheticFeatures } from '@edgehead/training/testing';

const FEATURE_SHAPE = [4, 4, 512];
const TRAIN = 2000;
const VAL = 1000;
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const recipe = headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' });
const plan: Record<TrainingBackend, { plainRows: number; fastRows: number; epochs: number }> = {
  wasm: { plainRows: 400, fastRows: TRAIN, epochs: 3 },
  cpu: { plainRows: 40, fastRows: 200, epochs: 2 },
  tensorflow: { plainRows: TRAIN, fastRows: TRAIN, epochs: 3 },
};
const backends = (process.env.BENCH_BACKENDS ?? 'wasm,cpu')
  .split(',')
  .filter((b) => b !== '') as TrainingBackend[];

function randomSplit(n: number, seed: number) {
  return syntheticFeatures({ n, dim: 8192, numClasses: 2, informative: 0, seed }).train;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

type Engine = 'layers' | 'fast' | 'parallel';

/** Wall and CPU seconds per epoch (scaled to 2000 rows), skipping the first epoch when there are more. */
async function secondsPerEpoch(backend: TrainingBackend, engine: Engine, rows: number, epochs: number) {
  const train = randomSplit(rows, 1);
  const validation = randomSplit(Math.round((VAL * rows) / TRAIN), 2);
  const cpu: number[] = [];
  let mark = cpuSeconds();
  const { model, history } = await trainHead(
    { featureShape: FEATURE_SHAPE, numClasses: 2, train, validation },
    { ...recipe, epochs },
    {
      engine,
      backend,
      workers: WORKERS,
      onEpoch: () => {
        const now = cpuSeconds();
        cpu.push(now - mark);
        mark = now;
      },
    },
  );
  model.dispose();
  const from = history.length > 1 ? 1 : 0;
  const mean = (values: number[]) => values.slice(from).reduce((s, v) => s + v, 0) / (values.length - from);
  const scale = TRAIN / rows;
  return {
    wall: (mean(history.map((m) => m.duration_ms)) / 1000) * scale,
    cpu: mean(cpu) * scale,
  };
}

const rows: Record<string, unknown>[] = [];
for (const backend of backends) {
  const b = plan[backend];
  const plain = await secondsPerEpoch(backend, 'layers', b.plainRows, 1);
  const fast = await secondsPerEpoch(backend, 'fast', b.fastRows, b.epochs);
  const parallel = await secondsPerEpoch(backend, 'parallel', b.fastRows, b.epochs);
  rows.push({
    backend,
    'plain s/epoch': +plain.wall.toFixed(2),
    'fast s/epoch': +fast.wall.toFixed(3),
    [`parallel(${WORKERS}) s/epoch`]: +parallel.wall.toFixed(3),
    'plain/fast': +(plain.wall / fast.wall).toFixed(1),
    'plain/parallel': +(plain.wall / parallel.wall).toFixed(1),
    'fast/parallel': +(fast.wall / parallel.wall).toFixed(2),
    'fast cpu s/epoch': +fast.cpu.toFixed(3),
    'parallel cpu s/epoch per thread': +(parallel.cpu / WORKERS).toFixed(3),
    'rows timed (plain, fast)': `${b.plainRows}, ${b.fastRows}`,
  });
  console.table(rows.slice(-1));
}

/** Runs `work` while another process keeps one core busy (as extraction jobs would beside a training run). */
async function withBusyCore<T>(work: () => Promise<T>): Promise<T> {
  const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    return await work();
  } finally {
    busy.kill();
  }
}

// What 'auto' weighs on a small machine: the fast trainer vs the workers when the cores are not all free.
const contended: Record<string, unknown>[] = [];
if (backends.includes('wasm')) {
  const { fastRows, epochs } = plan.wasm;
  const fast = await withBusyCore(() => secondsPerEpoch('wasm', 'fast', fastRows, epochs));
  const parallel = await withBusyCore(() => secondsPerEpoch('wasm', 'parallel', fastRows, epochs));
  contended.push({
    backend: 'wasm, one other busy process',
    'fast s/epoch': +fast.wall.toFixed(3),
    [`parallel(${WORKERS}) s/epoch`]: +parallel.wall.toFixed(3),
    'fast/parallel': +(fast.wall / parallel.wall).toFixed(2),
  });
  console.table(contended);
}

// Learning-curve agreement on a learnable problem, recipe config, bounded rows and epochs (wasm).
const learnable = syntheticFeatures({
  n: 400,
  nVal: 400,
  dim: 8192,
  numClasses: 2,
  informative: 256,
  separation: 0.5,
  seed: 5,
});
const EPOCHS = 5;
/** val_accuracy after each epoch. */
const valCurve = async (engine: Engine, seed: number, dropout: number) => {
  const { model, history } = await trainHead(
    { featureShape: FEATURE_SHAPE, numClasses: 2, ...learnable },
    { ...recipe, epochs: EPOCHS, seed, dropout },
    { engine, backend: 'wasm', workers: WORKERS },
  );
  model.dispose();
  return history.map((m) => m.val_accuracy as number);
};
const SEEDS = Number(process.env.BENCH_SEEDS ?? 8);
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const sd = (v: number[]) =>
  Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / Math.max(1, v.length - 1));
const agreement: Record<string, unknown>[] = [];
// Dropout 0: same initial weights, same batches, no randomness left: the curves must coincide.
// Dropout 0.5: tfjs draws model.fit's masks from an unseeded generator (a seeded Dropout layer would reuse
// one mask for every batch), so no trainer can repeat them: compare the spread over seeds instead.
for (const dropout of [0, 0.5]) {
  const seeds = Array.from({ length: dropout === 0 ? 1 : SEEDS }, (_, i) => i + 1);
  const curves: Record<Engine, number[][]> = { layers: [], fast: [], parallel: [] };
  for (const seed of seeds) {
    for (const engine of ['layers', 'fast', 'parallel'] as const) {
      curves[engine].push(await valCurve(engine, seed, dropout));
    }
  }
  const final = (engine: Engine) => curves[engine].map((c) => c.at(-1) as number);
  const meanCurve = (engine: Engine) =>
    Array.from({ length: EPOCHS }, (_, e) => mean(curves[engine].map((c) => c[e] as number)));
  const [plain, fast] = [final('layers'), final('fast')];
  const [plainCurve, fastCurve] = [meanCurve('layers'), meanCurve('fast')];
  agreement.push({
    dropout,
    seeds: seeds.length,
    'plain val_acc': +mean(plain).toFixed(4),
    'fast val_acc': +mean(fast).toFixed(4),
    'parallel val_acc': +mean(final('parallel')).toFixed(4),
    '|plain - fast|': +Math.abs(mean(plain) - mean(fast)).toFixed(4),
    '|plain - parallel|': +Math.abs(mean(plain) - mean(final('parallel'))).toFixed(4),
    'plain sd': +sd(plain).toFixed(4),
    'fast sd': +sd(fast).toFixed(4),
    // Standard error of the difference of the two means: a gap within ~2 of these is seed noise.
    'se of difference': +Math.sqrt((sd(plain) ** 2 + sd(fast) ** 2) / seeds.length).toFixed(4),
    // The whole curve, not only its last point: the largest gap between the seed-mean val_accuracy curves.
    'max |plain - fast| per epoch': +Math.max(
      ...plainCurve.map((v, e) => Math.abs(v - (fastCurve[e] as number))),
    ).toFixed(4),
  });
  console.table(agreement.slice(-1));
}
const problem = `400 train / 400 val x 8192, 256 informative dims (shift 0.5), recipe config, ${EPOCHS} epochs, wasm`;

console.table(rows);
console.table(contended);
console.log(problem);
console.table(agreement);
mkdirSync('bench-results', { recursive: true });
writeFileSync(
  'bench-results/training-epoch.json',
  `${JSON.stringify({ date: new Date().toISOString(), workers: WORKERS, seeds: SEEDS, epochs: rows, contended, agreement: { problem, rows: agreement } }, null, 2)}\n`,
);
