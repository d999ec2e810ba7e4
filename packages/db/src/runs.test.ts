import { describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError } from './errors.ts';
import {
  activateDeployment,
  cancelRun,
  createDataset,
  createRun,
  failRun,
  finishRun,
  getModelFiles,
  getRunDetail,
  listDeployments,
  listRuns,
  recordDeployment,
  recordEpoch,
  registerModel,
  saveEvaluation,
  startRun,
} from './index.ts';
import { testFeatureSet, testManifest, useTestDatabase } from './test-setup.ts';

const database = useTestDatabase();

const evaluation = {
  n: 4,
  precision: 1,
  recall: 0.5,
  f1: 2 / 3,
  confusion: [
    [2, 0],
    [1, 1],
  ],
  perClass: [],
};

describe('runs', () => {
  it('records a run from queued to succeeded with its epochs and test metrics', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'runs-life', classes: ['a', 'b'] });
    const run = await createRun(db, {
      datasetId: ds.id,
      featureSetId: (await testFeatureSet(db, 'tiny')).id,
      preset: 'p',
      config: { epochs: 2 },
      epochsTotal: 2,
    });
    expect(run.status).toBe('queued');
    expect(await startRun(db, run.id, { backend: 'wasm' })).toMatchObject({ status: 'running', attempts: 1 });
    await recordEpoch(db, run.id, {
      epoch: 1,
      loss: 0.7,
      accuracy: 0.5,
      valLoss: 0.6,
      valAccuracy: 0.6,
      durationMs: 10,
    });
    await recordEpoch(db, run.id, {
      epoch: 2,
      loss: 0.4,
      accuracy: 0.8,
      valLoss: 0.5,
      valAccuracy: 0.75,
      durationMs: 9,
    });
    await saveEvaluation(db, { runId: run.id, split: 'test', accuracy: 0.75, ...evaluation });
    expect(await finishRun(db, run.id, { train: 19 })).toMatchObject({
      status: 'succeeded',
      timings: { train: 19 },
    });

    const detail = await getRunDetail(db, run.id);
    expect(detail.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(detail.evaluations[0]).toMatchObject({
      split: 'test',
      accuracy: 0.75,
      confusion: [
        [2, 0],
        [1, 1],
      ],
    });
    expect(detail.dataset?.name).toBe('runs-life');
    const { items } = await listRuns(db, { datasetId: ds.id });
    expect(items[0]).toMatchObject({
      epochsDone: 2,
      bestValAccuracy: 0.75,
      testAccuracy: 0.75,
      status: 'succeeded',
    });
  });

  it('starts a retried run afresh and never restarts a cancelled one', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'runs-retry', classes: ['a', 'b'] });
    const run = await createRun(db, {
      datasetId: ds.id,
      featureSetId: (await testFeatureSet(db, 'tiny')).id,
      config: {},
      epochsTotal: 3,
    });
    await startRun(db, run.id, { backend: 'cpu' });
    await recordEpoch(db, run.id, { epoch: 1, loss: 1, durationMs: 1 });
    const retried = await startRun(db, run.id, { backend: 'wasm' });
    expect(retried).toMatchObject({ attempts: 2, backend: 'wasm' });
    expect((await getRunDetail(db, run.id)).epochs).toEqual([]);

    expect(await cancelRun(db, run.id)).toMatchObject({ status: 'cancelled' });
    expect(await startRun(db, run.id, { backend: 'wasm' })).toBeNull();
    expect(await finishRun(db, run.id, {})).toBeNull();
    expect(await failRun(db, run.id, 'late')).toBeNull();
    expect((await cancelRun(db, run.id)).status).toBe('cancelled');
  });

  it('filters, sorts and paginates the run list in SQL', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'runs-list', classes: ['a', 'b'] });
    const accuracies = [0.6, 0.9, 0.7, 0.8];
    for (const acc of accuracies) {
      const run = await createRun(db, {
        datasetId: ds.id,
        featureSetId: (await testFeatureSet(db, acc > 0.75 ? 'big' : 'small')).id,
        config: {},
        epochsTotal: 1,
      });
      await startRun(db, run.id, { backend: 'cpu' });
      await recordEpoch(db, run.id, { epoch: 1, loss: 1 - acc, valAccuracy: acc, durationMs: 1 });
      if (acc !== 0.7) await finishRun(db, run.id, {});
    }
    const sorted = await listRuns(db, {
      datasetId: ds.id,
      sort: 'best_val_accuracy',
      order: 'desc',
      limit: 2,
    });
    expect(sorted.total).toBe(4);
    expect(sorted.items.map((r) => r.bestValAccuracy)).toEqual([0.9, 0.8]);
    const page2 = await listRuns(db, {
      datasetId: ds.id,
      sort: 'best_val_accuracy',
      order: 'desc',
      limit: 2,
      offset: 2,
    });
    expect(page2.items.map((r) => r.bestValAccuracy)).toEqual([0.7, 0.6]);
    const big = await testFeatureSet(db, 'big');
    expect((await listRuns(db, { datasetId: ds.id, featureSetId: big.id })).total).toBe(2);
    expect((await listRuns(db, { datasetId: ds.id, featureSetId: big.id })).items[0]?.featureSet).toBe(
      `big@rescale#${big.weights.sha256?.slice(0, 8)}`,
    );
    expect(
      (await listRuns(db, { datasetId: ds.id, status: 'running' })).items.map((r) => r.bestValAccuracy),
    ).toEqual([0.7]);
  });

  it('rejects a run on an unknown dataset or with no epochs', async () => {
    const { db } = database();
    await expect(
      createRun(db, {
        datasetId: 'nope',
        featureSetId: (await testFeatureSet(db, 'tiny')).id,
        config: {},
        epochsTotal: 1,
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
    const ds = await createDataset(db, { name: 'runs-bad', classes: ['a', 'b'] });
    await expect(
      createRun(db, {
        datasetId: ds.id,
        featureSetId: (await testFeatureSet(db, 'tiny')).id,
        config: {},
        epochsTotal: 0,
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe('models and deployments', () => {
  it('numbers versions per model name and keeps one active deployment per alias', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'models', classes: ['a', 'b'] });
    const versions = [];
    for (let i = 0; i < 3; i++) {
      const run = await createRun(db, {
        datasetId: ds.id,
        featureSetId: (await testFeatureSet(db, 'tiny')).id,
        config: {},
        epochsTotal: 1,
      });
      const files = [{ path: 'model.json', sha256: 'c'.repeat(64), data: new Uint8Array([i]) }];
      versions.push(
        await registerModel(db, {
          runId: run.id,
          name: 'pets',
          manifest: testManifest(run.id),
          artifactSha256: 'd'.repeat(64),
          files,
        }),
      );
    }
    expect(versions.map((m) => m.version)).toEqual([1, 2, 3]);
    expect((await getModelFiles(db, versions[2]?.id as string))[0]?.data[0]).toBe(2);

    const [v1, v2] = versions as [(typeof versions)[0], (typeof versions)[0]];
    await recordDeployment(db, {
      modelId: v1.id,
      alias: 'pets',
      edgeVersion: 'v1',
      active: true,
      activatedBy: 'test',
    });
    await recordDeployment(db, {
      modelId: v2.id,
      alias: 'pets',
      edgeVersion: 'v2',
      active: true,
      activatedBy: 'test',
    });
    expect((await listDeployments(db, 'pets')).filter((d) => d.active).map((d) => d.edgeVersion)).toEqual([
      'v2',
    ]);
    await activateDeployment(db, 'pets', 'v1', 'rollback');
    expect((await listDeployments(db, 'pets')).filter((d) => d.active).map((d) => d.edgeVersion)).toEqual([
      'v1',
    ]);
    await expect(activateDeployment(db, 'pets', 'v9', 'x')).rejects.toBeInstanceOf(NotFoundError);
    expect((await listDeployments(db, 'pets')).filter((d) => d.active)).toHaveLength(1);
  });
});
