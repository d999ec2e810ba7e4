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
 * Every engine is timed the same way: the same rows, the same number of epochs, the first epoch dropped as
 * warm-up, scaled to 2000 rows where fewer are timed (cpu: 200 rows, since a plain epoch of 2000 takes
 * ~2 min there; wasm: the full 2000). Besides wall time it reports process CPU seconds per epoch (all
 * threads): on a machine shared with other work, wall time measures the others too, while CPU time divided
 * by the threads is close to the wall time the same epoch takes on an idle machine. On wasm it also times
 * fast and parallel again while another process keeps one core busy: what decides 'auto' on a small machine.
 * Fails (exit 1) when a run trains fewer epochs than asked or the dropout-0 curves of the engines disagree.
 */
import { spawn } from 'node:child_process';
import { headConfigRequest } from '@edgehead/contracts';
import { type TrainingBackend, trainHead } from '@edgehead/training';
import { syntheticFeatures } from '@edgehead/training/testing';
import { benchEnv } from './lib/env.ts';
import { BenchReport, envNumber, sized } from './lib/harness.ts';

const FEATURE_SHAPE = [4, 4, 512];
const TRAIN = 2000;
const VAL = 1000;
const WORKERS = envNumber('BENCH_WORKERS', 2, 2);
const recipe = headConfigRequest.parse({ preset: 'keras-vgg16-feature-extraction' });
/** Rows and epochs timed per backend, the same for every engine. */
const plan: Record<TrainingBackend, { rows: number; epochs: number }> = {
  wasm: sized({ rows: TRAIN, epochs: 3 }, { rows: 40, epochs: 2 }),
  cpu: sized({ rows: 200, epochs: 2 }, { rows: 10, epochs: 2 }),
  tensorflow: sized({ rows: TRAIN, epochs: 3 }, { rows: 40, epochs: 2 }),
};
const report = new BenchReport('training-epoch');
const backends = (benchEnv.BENCH_BACKENDS ?? 'wasm,cpu')
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

/** Wall and CPU seconds per epoch (scaled to 2000 rows) of the plan's rows, the first epoch dropped. */
async function secondsPerEpoch(backend: TrainingBackend, engine: Engine) {
  const { rows, epochs } = plan[backend];
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
  report.check(
    history.length === epochs && history.every((m) => Number.isFinite(m.loss)),
    `${backend} ${engine}: ${history.length} epochs of ${epochs}, losses ${history.map((m) => m.loss).join(', ')}`,
  );
  const mean = (values: number[]) => values.slice(1).reduce((s, v) => s + v, 0) / (values.length - 1);
  const scale = TRAIN / rows;
  return {
    wall: (mean(history.map((m) => m.durationMs)) / 1000) * scale,
    cpu: mean(cpu) * scale,
  };
}

const rows: Record<string, unknown>[] = [];
for (const backend of backends) {
  const plain = await secondsPerEpoch(backend, 'layers');
  const fast = await secondsPerEpoch(backend, 'fast');
  const parallel = await secondsPerEpoch(backend, 'parallel');
  rows.push({
    backend,
    'plain s/epoch': +plain.wall.toFixed(2),
    'fast s/epoch': +fast.wall.toFixed(3),
    [`parallel(${WORKERS}) s/epoch`]: +parallel.wall.toFixed(3),
    'plain/fast': +(plain.wall / fast.wall).toFixed(1),
    'plain/parallel': +(plain.wall / parallel.wall).toFixed(1),
    'fast/parallel': +(fast.wall / parallel.wall).toFixed(2),
    'plain cpu s/epoch': +plain.cpu.toFixed(2),
    'fast cpu s/epoch': +fast.cpu.toFixed(3),
    'plain/fast cpu': +(plain.cpu / fast.cpu).toFixed(1),
    'parallel cpu s/epoch per thread': +(parallel.cpu / WORKERS).toFixed(3),
    'rows x epochs timed': `${plan[backend].rows} x ${plan[backend].epochs - 1}`,
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
  const fast = await withBusyCore(() => secondsPerEpoch('wasm', 'fast'));
  const parallel = await withBusyCore(() => secondsPerEpoch('wasm', 'parallel'));
  contended.push({
    backend: 'wasm, one other busy process',
    'fast s/epoch': +fast.wall.toFixed(3),
    [`parallel(${WORKERS}) s/epoch`]: +parallel.wall.toFixed(3),
    'fast/parallel': +(fast.wall / parallel.wall).toFixed(2),
  });
  console.table(contended);
}

// Learning-curve agreement on a learnable problem, recipe config, bounded rows and epochs (wasm).
const LEARNABLE_ROWS = sized(400, 40);
const learnable = syntheticFeatures({
  n: LEARNABLE_ROWS,
  nVal: LEARNABLE_ROWS,
  dim: 8192,
  numClasses: 2,
  informative: 256,
  separation: 0.5,
  seed: 5,
});
const EPOCHS = sized(5, 2);
/** val_accuracy after each epoch. */
const valCurve = async (engine: Engine, seed: number, dropout: number) => {
  const { model, history } = await trainHead(
    { featureShape: FEATURE_SHAPE, numClasses: 2, ...learnable },
    { ...recipe, epochs: EPOCHS, seed, dropout },
    { engine, backend: 'wasm', workers: WORKERS },
  );
  model.dispose();
  report.check(history.length === EPOCHS, `${engine} seed ${seed}: ${history.length} epochs of ${EPOCHS}`);
  return history.map((m) => m.valAccuracy as number);
};
const SEEDS = envNumber('BENCH_SEEDS', 8, 1);
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
  if (dropout === 0) {
    // nothing random is left: every epoch's val_accuracy agrees, up to one sample flipped by float rounding
    for (const engine of ['fast', 'parallel'] as const) {
      const gap = Math.max(...plainCurve.map((v, e) => Math.abs(v - (meanCurve(engine)[e] as number))));
      report.check(
        gap <= 1 / LEARNABLE_ROWS + 1e-9,
        `dropout 0: plain and ${engine} val_accuracy curves differ by ${gap}`,
      );
    }
  }
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
const problem = `${LEARNABLE_ROWS} train / ${LEARNABLE_ROWS} val x 8192, 256 informative dims (shift 0.5), recipe config, ${EPOCHS} epochs, wasm`;

console.table(rows);
console.table(contended);
console.log(problem);
report.finish(agreement, {
  workers: WORKERS,
  seeds: SEEDS,
  plan,
  epochs: rows,
  contended,
  agreement: { problem, rows: agreement },
});
