import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@edgehead/cli';
import type {
  ClassifyResponse,
  DatasetSummary,
  ExtractionProgress,
  PublishModelResponse,
  RunDetailResponse,
  RunList,
  VersionList,
} from '@edgehead/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_SIZE, writeDataset, writeTinyBackbone } from './fixtures.ts';
import { childProcesses, cliJson, embeddedUpEnv, eventually, type Running, startUp } from './system.ts';

type Classified = (ClassifyResponse & { file: string; ms: number })[];

const accuracy = (results: Classified, labels: Map<string, string>) =>
  results.filter((r) => r.predictions[0]?.label === labels.get(r.file)).length / results.length;

// `npm start` as a new user runs it: the embedded PostgreSQL server, whatever DATABASE_URL the test run has
// (CI gives the other tests a server; this one covers the default).
describe('edgehead end to end', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let upArgs: string[];
  let running: Running | null = null;
  let tests: { file: string; label: string }[];
  const labels = new Map<string, string>();
  const alias = 'shapes';
  let runId = '';
  let published: PublishModelResponse;

  const up = async () => {
    const [gpu, edge, db] = await Promise.all([freePort(), freePort(), freePort()]);
    running = await startUp(
      [...upArgs, '--gpu-port', String(gpu), '--edge-port', String(edge), '--db-port', String(db)],
      env,
    );
  };
  const down = async () => {
    const r = running;
    running = null;
    const code = await r?.stop();
    return { code, log: r?.log() ?? '' };
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgehead-e2e-'));
    await chmod(work, 0o755); // as root the embedded server runs as 'postgres', which must reach <home>/pg
    await writeTinyBackbone(path.join(work, 'tiny'));
    await writeTinyBackbone(path.join(work, 'tinytop'), { top: true });
    tests = await writeDataset(path.join(work, 'data'));
    for (const t of tests) labels.set(t.file, t.label);
    env = {
      ...embeddedUpEnv(work),
      EDGEHEAD_BACKBONES: JSON.stringify([
        { name: 'tiny', weights: path.join(work, 'tiny'), preprocessing: 'rescale' },
        { name: 'tinytop', weights: path.join(work, 'tinytop'), preprocessing: 'rescale' },
      ]),
    };
    upArgs = [];
    await up();
  });

  afterAll(async () => {
    await down();
    await rm(work, { recursive: true, force: true });
  });

  it('ingests, extracts, trains and publishes through the CLI', async () => {
    const ingested = await cliJson<{ accepted: number; rejected: unknown[]; datasetId: string }>(
      ['ingest', path.join(work, 'data'), '--dataset', alias],
      env,
    );
    expect(ingested.accepted).toBe(80);
    expect(ingested.rejected).toEqual([]);

    const features = await cliJson<ExtractionProgress>(
      ['extract', '--dataset', alias, '--backbone', 'tiny'],
      env,
    );
    expect(features).toMatchObject({ state: 'done', total: 80, done: 80, failed: 0 });

    const run = await cliJson<RunDetailResponse>(
      [
        'train',
        '--dataset',
        alias,
        '--backbone',
        'tiny',
        '--preset',
        'edgehead-default',
        '--epochs',
        '40',
        '--learning-rate',
        '0.01',
        '--hidden-units',
        '8',
        '--dropout',
        '0',
      ],
      env,
    );
    expect(run.run.status).toBe('succeeded');
    expect(run.epochs.length).toBeGreaterThan(0);
    const testEval = run.evaluations.find((e) => e.split === 'test');
    expect(testEval?.accuracy).toBeGreaterThanOrEqual(0.9);
    runId = run.run.id;

    published = await cliJson<PublishModelResponse>(['publish', runId, '--alias', alias], env);
    expect(published).toMatchObject({ alias, active: true });
  });

  it('classifies test images at the edge by image and by precomputed features', async () => {
    const byImage = await cliJson<Classified>(
      ['classify', ...tests.map((t) => t.file), '--alias', alias],
      env,
    );
    expect(byImage.map((r) => r.version)).toEqual(tests.map(() => published.version));
    expect(accuracy(byImage, labels)).toBeGreaterThanOrEqual(0.9);

    // the features path: vectors from the gpu service, written as raw float32 files, classified at the edge
    const config = JSON.parse(await readFile(path.join(work, 'home', 'config.json'), 'utf8')) as {
      gpuUrl: string;
      gpuToken: string;
    };
    const binLabels = new Map<string, string>();
    await mkdir(path.join(work, 'features'));
    for (const t of tests) {
      const res = await fetch(`${config.gpuUrl}/v1/features?backbone=tiny`, {
        method: 'POST',
        body: await readFile(t.file),
        headers: {
          'content-type': 'image/png',
          accept: 'application/octet-stream',
          authorization: `Bearer ${config.gpuToken}`,
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-feature-shape')).toBe(`1,${TINY_SIZE / 8},${TINY_SIZE / 8},6`);
      // beside the data, not in it (the demo below scans the data folder)
      const bin = path.join(work, 'features', `${t.label}-${path.basename(t.file)}.bin`);
      await writeFile(bin, new Uint8Array(await res.arrayBuffer()));
      binLabels.set(bin, t.label);
    }
    const byFeatures = await cliJson<Classified>(['classify', ...binLabels.keys(), '--alias', alias], env);
    expect(accuracy(byFeatures, binLabels)).toBeGreaterThanOrEqual(0.9);
    // both paths run the same head on the same vectors
    expect(byFeatures.map((r) => r.predictions[0]?.label)).toEqual(
      byImage.map((r) => r.predictions[0]?.label),
    );
  });

  it('extracts an augmented feature set, trains on it and shows its copies through the edge', async () => {
    const augmented = await cliJson<ExtractionProgress & { base: ExtractionProgress }>(
      ['extract', '--dataset', alias, '--backbone', 'tiny', '--augment', 'copies=2,seed=1'],
      env,
    );
    // the training images only (24 per class), the plain extraction being the earlier one
    expect(augmented).toMatchObject({ state: 'done', total: 48, done: 48 });
    expect(augmented.featureSet.provenance).toMatchObject({
      kind: 'augmented',
      baseFeatureSetId: augmented.base.featureSet.id,
      params: { copies: 2, seed: 1, rotation: 40 },
    });
    const run = await cliJson<RunDetailResponse>(
      [
        'train',
        '--dataset',
        alias,
        '--backbone',
        'tiny',
        '--augmented',
        '--preset',
        'edgehead-default',
        '--epochs',
        '40',
        '--learning-rate',
        '0.01',
        '--hidden-units',
        '8',
        '--dropout',
        '0',
      ],
      env,
    );
    expect(run.run).toMatchObject({ status: 'succeeded', featureSetId: augmented.featureSet.id });
    expect(run.run.featureSet).toMatch(/\(augmented\)$/);
    expect(run.evaluations.map((e) => e.n)).toEqual([16, 16]);
    expect(run.evaluations.find((e) => e.split === 'test')?.accuracy).toBeGreaterThanOrEqual(0.9);

    // the dashboard's picture: the edge asks the gpu service, which renders the copies
    const config = JSON.parse(await readFile(path.join(work, 'home', 'config.json'), 'utf8')) as {
      edgeUrl: string;
      adminToken: string;
    };
    const res = await fetch(`${config.edgeUrl}/api/extractions/${augmented.id}/samples?images=2&copies=2`, {
      headers: { authorization: `Bearer ${config.adminToken}` },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-edgehead-images')?.split(',')).toHaveLength(2);
    expect(Array.from(new Uint8Array(await res.arrayBuffer()).slice(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it('runs the demo: every test image through the edge by features (one batch request) and by image (in batches)', async () => {
    type Path = { n: number; correct: number; accuracy: number; requests: number; errors: string[] };
    const report = await cliJson<{
      run: { evaluation: { test: { accuracy: number } | null } };
      edge: { features: Path; image: Path & { fromCache: number } };
      stages: { stage: string; ms: number }[];
    }>(
      [
        'demo',
        '--data',
        path.join(work, 'data'),
        '--backbone',
        'tiny',
        '--preset',
        'edgehead-default',
        '--epochs',
        '40',
        '--alias',
        'demo-shapes',
      ],
      env,
    );
    const { features, image } = report.edge;
    expect(features).toMatchObject({ n: tests.length, requests: 1, errors: [] });
    // the image path sends multipart batches of up to 32 images
    expect(image).toMatchObject({ n: tests.length, requests: Math.ceil(tests.length / 32), errors: [] });
    // the same head on the same vectors: both paths agree with the run's own test evaluation
    expect(features.correct).toBe(image.correct);
    expect(features.accuracy).toBeCloseTo(report.run.evaluation.test?.accuracy ?? -1, 9);
    // the earlier classify test left these images' features in the edge cache
    expect(image.fromCache).toBe(tests.length);
    expect(report.stages.map((s) => s.stage)).toEqual([
      'ingest',
      'extract',
      'train',
      'publish',
      'classify at the edge',
    ]);
  });

  it('runs the demo on an augmented feature set: trained on the copies, evaluated and served on plain vectors', async () => {
    type Path = { n: number; correct: number; accuracy: number; errors: string[] };
    const report = await cliJson<{
      features: ExtractionProgress;
      augmented?: ExtractionProgress;
      run: {
        id: string;
        evaluation: { validation: { n: number } | null; test: { n: number; accuracy: number } | null };
      };
      edge: { features: Path; image: Path };
    }>(
      [
        'demo',
        '--data',
        path.join(work, 'data'),
        '--backbone',
        'tiny',
        '--augment',
        'copies=2',
        '--dataset',
        'demo-augmented',
        '--preset',
        'edgehead-default',
        '--epochs',
        '40',
        '--alias',
        'demo-augmented',
      ],
      env,
    );
    expect(report.augmented).toMatchObject({ state: 'done', total: 48 });
    expect(report.augmented?.featureSet.provenance).toMatchObject({
      kind: 'augmented',
      baseFeatureSetId: report.features.featureSet.id,
    });
    const detail = await cliJson<RunDetailResponse>(['runs', 'show', report.run.id], env);
    expect(detail.run.featureSetId).toBe(report.augmented?.featureSet.id);
    expect(report.run.evaluation.validation?.n).toBe(16);
    expect(report.run.evaluation.test?.accuracy).toBeGreaterThanOrEqual(0.9);
    // the edge runs the head on plain vectors and agrees with the run's test evaluation (plain vectors too)
    expect(report.edge.features.errors).toEqual([]);
    expect(report.edge.features.accuracy).toBeCloseTo(report.run.evaluation.test?.accuracy ?? -1, 9);
  });

  /** The demo's head and fine-tuning settings on `tinytop` (its layer `top` unfrozen). */
  const fineTuneDemo = [
    '--backbone',
    'tinytop',
    '--preset',
    'edgehead-default',
    '--epochs',
    '20',
    '--finetune',
    '--unfreeze',
    'top',
    '--finetune-epochs',
    '3',
    '--finetune-lr',
    '0.001',
  ];

  it('runs the demo with --finetune: the edge serves the fine-tuned head on the fine-tuned features', async () => {
    type Path = { n: number; correct: number; accuracy: number; errors: string[] };
    type Evaluated = { evaluation: { test: { accuracy: number } | null } };
    const report = await cliJson<{
      run: Evaluated;
      finetune: Evaluated & { id: string; featureSet: string; epochs: unknown[] };
      edge: { features: Path; image: Path };
      stages: { stage: string; ms: number }[];
    }>(['demo', '--data', path.join(work, 'data'), ...fineTuneDemo, '--alias', 'demo-ft'], env);
    expect(report.stages.map((s) => s.stage)).toEqual([
      'ingest',
      'extract',
      'train',
      'fine-tune',
      'publish',
      'classify at the edge',
    ]);
    expect(report.finetune.epochs).toHaveLength(3);
    // the published head names the fine-tuned feature set, so the edge's image path asks for its features
    const versions = await cliJson<VersionList>(['models', 'demo-ft'], env);
    expect(versions.versions.at(-1)?.manifest).toMatchObject({
      featureSet: { id: report.finetune.featureSet },
    });
    const { features, image } = report.edge;
    expect(features).toMatchObject({ n: tests.length, errors: [] });
    expect(image).toMatchObject({ n: tests.length, errors: [] });
    // the same head on the same (fine-tuned) vectors by both paths, as the run's own test evaluation
    expect(features.correct).toBe(image.correct);
    expect(features.accuracy).toBeCloseTo(report.finetune.evaluation.test?.accuracy ?? -1, 9);
  });

  it('runs the demo with --augment --finetune: the head and its fine-tuning train on copies, evaluated on plain vectors', async () => {
    type Evaluated = { evaluation: { test: { accuracy: number; n: number } | null } };
    const report = await cliJson<{
      augmented?: ExtractionProgress;
      finetune: Evaluated & { id: string; featureSet: string; epochs: unknown[] };
      edge: { features: { errors: string[]; accuracy: number } };
    }>(
      [
        'demo',
        '--data',
        path.join(work, 'data'),
        ...fineTuneDemo,
        '--alias',
        'demo-aug-ft',
        '--augment',
        'copies=2',
      ],
      env,
    );
    expect(report.augmented).toMatchObject({ state: 'done', total: 48 });
    const tuned = await cliJson<RunDetailResponse>(['runs', 'show', report.finetune.id], env);
    expect(tuned.run.featureSetId).toBe(report.augmented?.featureSet.id);
    expect(tuned.epochs).toHaveLength(3);
    expect(report.finetune.evaluation.test?.n).toBe(tests.length);
    // the edge serves the fine-tuned head on the fine-tuned (plain) vectors, as the run evaluated it
    expect(report.edge.features.errors).toEqual([]);
    expect(report.edge.features.accuracy).toBeCloseTo(report.finetune.evaluation.test?.accuracy ?? -1, 9);
  });

  it('keeps datasets, runs, models and the active version across a restart', async () => {
    const stopped = await down();
    expect(stopped.code).toBe(0);
    expect(stopped.log).toContain('stopped; nothing was lost');

    await up();
    const { datasets } = await cliJson<{ datasets: DatasetSummary[] }>(['datasets', 'list'], env);
    expect(datasets.find((d) => d.name === alias)?.counts).toEqual({ train: 48, validation: 16, test: 16 });
    const runs = await cliJson<RunList>(['runs', 'list'], env);
    expect(runs.items.find((r) => r.id === runId)?.status).toBe('succeeded');
    const versions = await cliJson<VersionList>(['models', alias], env);
    expect(versions.active).toBe(published.version);

    const again = await cliJson<Classified>(['classify', ...tests.map((t) => t.file), '--alias', alias], env);
    expect(accuracy(again, labels)).toBeGreaterThanOrEqual(0.9);
    // the edge's feature cache survived too: no image needed the gpu service
    expect(again.every((r) => r.source === 'cache')).toBe(true);
  });
  it('restarts a SIGKILLed gpu service and a killed database, and everything serves again', async () => {
    const up = running as Running;
    const config = JSON.parse(await readFile(path.join(work, 'home', 'config.json'), 'utf8')) as {
      gpuUrl: string;
      gpuToken: string;
    };
    const auth = { authorization: `Bearer ${config.gpuToken}` };
    const gpuPid = async () =>
      (await childProcesses(up.child.pid as number)).find((p) => p.command.includes('apps/gpu/src/server.ts'))
        ?.pid;

    const before = await gpuPid();
    expect(before).toBeDefined();
    process.kill(before as number, 'SIGKILL');
    await eventually('the restarted gpu service', async () => up.log().includes('gpu is back (restart 1)'));
    expect(up.log()).toContain('gpu exited unexpectedly (SIGKILL); restarting it in 1 s');
    expect(await gpuPid()).not.toBe(before);
    expect((await fetch(`${config.gpuUrl}/health`)).status).toBe(200);

    // the postmaster's pid is the first line of its lock file
    const postmaster = Number.parseInt(
      await readFile(path.join(work, 'home', 'pg', 'postmaster.pid'), 'utf8'),
      10,
    );
    process.kill(postmaster, 'SIGKILL');
    await eventually('the restarted database', async () => up.log().includes('db is back (restart 1)'));
    // the gpu service kept running and reconnects: DB-backed routes answer again
    const runs = await eventually('GET /v1/runs after the database restart', async () => {
      const res = await fetch(`${config.gpuUrl}/v1/runs`, { headers: auth });
      return res.ok ? ((await res.json()) as RunList) : undefined;
    });
    expect(runs.items.find((r) => r.id === runId)?.status).toBe('succeeded');
    expect(await gpuPid()).toBeDefined();
    // and its job queue (pg-boss) works on the restarted server: a new feature set is extracted
    const pooled = await cliJson<ExtractionProgress>(
      ['extract', '--dataset', alias, '--backbone', 'tiny', '--pooling', 'avg'],
      env,
    );
    expect(pooled).toMatchObject({ state: 'done', total: 80, done: 80, failed: 0 });
    const again = await cliJson<Classified>(['classify', ...tests.map((t) => t.file), '--alias', alias], env);
    expect(accuracy(again, labels)).toBeGreaterThanOrEqual(0.9);

    const stopped = await down();
    expect(stopped.code).toBe(0);
    expect(stopped.log).toContain('stopped; nothing was lost');
  });
});
