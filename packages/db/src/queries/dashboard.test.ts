import { type RunSortKey, runSortKey } from '@edgehead/contracts';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import {
  createDataset,
  createRun,
  failRun,
  finishRun,
  getModelOverview,
  getRunsForCompare,
  type ListRunsOptions,
  listRunFacets,
  listRuns,
  recordDeployment,
  recordEpoch,
  registerModel,
  saveEvaluation,
  schema,
  startRun,
} from '../index.ts';
import { testFeatureSet, testManifest, useTestDatabase } from '../test-setup.ts';

const database = useTestDatabase();

/** What a runs page must show of each run: its id and the values computed from its epochs and evaluations. */
const summarise = (page: Awaited<ReturnType<typeof listRuns>>) => ({
  total: page.total,
  items: page.items.map((r) => ({
    id: r.id,
    epochsDone: r.epochsDone,
    bestValAccuracy: r.bestValAccuracy,
    testAccuracy: r.testAccuracy,
    durationMs: r.durationMs === null ? null : Math.round(r.durationMs),
  })),
});

/**
 * The runs list computed here from the tables' rows (filter, sort with nulls last and id descending on ties,
 * page), independently of the query under test: what `listRuns` must answer.
 */
async function referencePage(db: Db, options: ListRunsOptions) {
  const us = (column: unknown) => sql<string | null>`(extract(epoch from ${column}) * 1000000)::bigint`;
  const [runRows, epochRows, testRows] = await Promise.all([
    db
      .select({
        id: schema.runs.id,
        datasetId: schema.runs.datasetId,
        featureSetId: schema.runs.featureSetId,
        status: schema.runs.status,
        created: us(schema.runs.createdAt),
        started: us(schema.runs.startedAt),
        finished: us(schema.runs.finishedAt),
      })
      .from(schema.runs),
    db.select({ runId: schema.epochs.runId, valAccuracy: schema.epochs.valAccuracy }).from(schema.epochs),
    db
      .select({ runId: schema.evaluations.runId, accuracy: schema.evaluations.accuracy })
      .from(schema.evaluations)
      .where(eq(schema.evaluations.split, 'test')),
  ]);
  const all = runRows.map((r) => {
    if (r.started !== null && r.finished === null)
      throw new Error(`run ${r.id} is running: no stable duration`);
    const values = epochRows.filter((e) => e.runId === r.id).map((e) => e.valAccuracy);
    const measured = values.filter((v): v is number => v !== null);
    return {
      ...r,
      epochsDone: values.length,
      bestValAccuracy: measured.length ? Math.max(...measured) : null,
      testAccuracy: testRows.find((t) => t.runId === r.id)?.accuracy ?? null,
      durationUs: r.started === null ? null : Number(r.finished) - Number(r.started),
    };
  });
  type Row = (typeof all)[number];
  const key: Record<RunSortKey, (r: Row) => number | null> = {
    created_at: (r) => Number(r.created),
    best_val_accuracy: (r) => r.bestValAccuracy,
    test_accuracy: (r) => r.testAccuracy,
    duration: (r) => r.durationUs,
    status: (r) => schema.runStatusEnum.enumValues.indexOf(r.status),
  };
  const value = key[options.sort ?? 'created_at'];
  const sign = options.order === 'asc' ? 1 : -1;
  const sorted = all
    .filter(
      (r) =>
        (options.datasetId === undefined || r.datasetId === options.datasetId) &&
        (options.featureSetId === undefined || r.featureSetId === options.featureSetId) &&
        (options.status === undefined || r.status === options.status),
    )
    .sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      if (x !== y) {
        if (x === null) return 1;
        if (y === null) return -1;
        return sign * (x - y);
      }
      return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
    });
  const offset = options.offset ?? 0;
  return {
    total: sorted.length,
    items: sorted.slice(offset, offset + (options.limit ?? 50)).map((r) => ({
      id: r.id,
      epochsDone: r.epochsDone,
      bestValAccuracy: r.bestValAccuracy,
      testAccuracy: r.testAccuracy,
      durationMs: r.durationUs === null ? null : Math.round(r.durationUs / 1000),
    })),
  };
}

describe('dashboard queries', () => {
  it('counts runs per dataset (also datasets without runs), feature set and status', async () => {
    const { db } = database();
    const a = await createDataset(db, { name: 'facet-a', classes: ['x', 'y'] });
    await createDataset(db, { name: 'facet-b', classes: ['x', 'y', 'z'] });
    await createRun(db, {
      datasetId: a.id,
      featureSetId: (await testFeatureSet(db, 'vgg16')).id,
      config: {},
      epochsTotal: 1,
    });
    await createRun(db, {
      datasetId: a.id,
      featureSetId: (await testFeatureSet(db, 'mobilenet')).id,
      config: {},
      epochsTotal: 1,
    });
    const facets = await listRunFacets(db);
    expect(
      facets.datasets.filter((d) => d.name.startsWith('facet-')).map((d) => [d.name, d.task, d.runs]),
    ).toEqual([
      ['facet-a', 'binary', 2],
      ['facet-b', 'multiclass', 0],
    ]);
    const [mobilenet, vgg16] = [await testFeatureSet(db, 'mobilenet'), await testFeatureSet(db, 'vgg16')];
    const label = (f: typeof vgg16) => `${f.backbone}@rescale#${f.weights.sha256?.slice(0, 8)}`;
    expect(facets.featureSets).toEqual(
      expect.arrayContaining([
        { id: mobilenet.id, featureSet: label(mobilenet), runs: 1 },
        { id: vgg16.id, featureSet: label(vgg16), runs: 1 },
      ]),
    );
    expect(facets.statuses).toContainEqual({ status: 'queued', runs: facets.total });
  });

  it('returns compared runs in the order asked with only their own epochs, and names a missing id', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'compare', classes: ['x', 'y'] });
    const r1 = await createRun(db, {
      datasetId: ds.id,
      featureSetId: (await testFeatureSet(db, 'f')).id,
      config: { lr: 1 },
      epochsTotal: 2,
    });
    const r2 = await createRun(db, {
      datasetId: ds.id,
      featureSetId: (await testFeatureSet(db, 'f')).id,
      config: { lr: 2 },
      epochsTotal: 3,
    });
    for (const [run, n] of [
      [r1, 2],
      [r2, 3],
    ] as const) {
      for (let e = 1; e <= n; e++)
        await recordEpoch(db, run.id, { epoch: e, loss: 1 / e, valAccuracy: e / 10, durationMs: 1 });
    }
    const compared = await getRunsForCompare(db, [r2.id, r1.id]);
    expect(compared.map((c) => [c.run.id, c.epochs.map((e) => e.epoch), c.dataset.name])).toEqual([
      [r2.id, [1, 2, 3], 'compare'],
      [r1.id, [1, 2], 'compare'],
    ]);
    const missing = '00000000-0000-4000-8000-0000000000aa';
    await expect(getRunsForCompare(db, [r1.id, missing])).rejects.toThrow(new NotFoundError('run', missing));
  });

  it('groups deployments per alias with the active version, the model and the test accuracy of its run', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'overview', classes: ['a', 'b'] });
    const ids: string[] = [];
    for (const acc of [0.8, 0.85]) {
      const run = await createRun(db, {
        datasetId: ds.id,
        featureSetId: (await testFeatureSet(db, 'tiny')).id,
        config: {},
        epochsTotal: 1,
      });
      await saveEvaluation(db, {
        runId: run.id,
        split: 'test',
        n: 2,
        accuracy: acc,
        precision: 1,
        recall: 1,
        f1: 1,
        confusion: [
          [1, 0],
          [0, 1],
        ],
        perClass: [],
      });
      await saveEvaluation(db, {
        runId: run.id,
        split: 'validation',
        n: 2,
        accuracy: 0.1,
        precision: 1,
        recall: 1,
        f1: 1,
        confusion: [
          [1, 0],
          [0, 1],
        ],
        perClass: [],
      });
      const model = await registerModel(db, {
        runId: run.id,
        name: 'ov',
        manifest: testManifest(run.id),
        artifactSha256: 'd'.repeat(64),
        files: [{ path: 'model.json', sha256: 'c'.repeat(64), data: new Uint8Array([1]) }],
      });
      ids.push(model.id);
    }
    await recordDeployment(db, { modelId: ids[0] as string, alias: 'ov', edgeVersion: 'v1', active: true });
    await recordDeployment(db, { modelId: ids[1] as string, alias: 'ov', edgeVersion: 'v2', active: false });
    await recordDeployment(db, {
      modelId: ids[1] as string,
      alias: 'ov-canary',
      edgeVersion: 'c1',
      active: true,
    });
    const overview = await getModelOverview(db);
    const ov = overview.aliases.find((a) => a.alias === 'ov');
    expect(ov?.active).toBe('v1');
    expect(ov?.versions.map((v) => [v.edgeVersion, v.model.version, v.run.testAccuracy])).toEqual([
      ['v2', 2, 0.85],
      ['v1', 1, 0.8],
    ]);
    const models = overview.models.filter((m) => m.name === 'ov');
    expect(models.map((m) => [m.version, m.testAccuracy, m.aliases.sort()])).toEqual([
      [2, 0.85, ['ov', 'ov-canary']],
      [1, 0.8, ['ov']],
    ]);
  });

  it('lists and pages runs in the order of every sort key, both orders, every filter and page', async () => {
    const { db } = database();
    const ds = await createDataset(db, { name: 'paging', classes: ['x', 'y'] });
    const other = await createDataset(db, { name: 'paging-other', classes: ['x', 'y'] });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 9; i++) {
      const run = await createRun(db, {
        datasetId: i % 3 ? ds.id : other.id,
        featureSetId: (await testFeatureSet(db, i % 2 ? 'a' : 'b')).id,
        config: { i },
        epochsTotal: 3,
      });
      if (i === 8) continue; // stays queued: no epochs, null duration
      await startRun(db, run.id, { backend: 'cpu' });
      for (let e = 1; e <= 1 + (i % 3); e++)
        await recordEpoch(db, run.id, {
          epoch: e,
          loss: 1,
          valAccuracy: i % 4 === 0 ? null : ((i * 7 + e) % 10) / 10,
          durationMs: 1,
        });
      if (i % 2)
        await saveEvaluation(db, {
          runId: run.id,
          split: 'test',
          n: 1,
          accuracy: i / 10,
          precision: 1,
          recall: 1,
          f1: 1,
          confusion: [[1]],
          perClass: [],
        });
      if (i === 5) await failRun(db, run.id, 'boom');
      else await finishRun(db, run.id, {});
      // durations of 1, 2 or 3 s: ties that only the id orders
      await db
        .update(schema.runs)
        .set({
          startedAt: new Date(t0 + i * 10_000),
          finishedAt: new Date(t0 + i * 10_000 + 1000 * (1 + (i % 3))),
        })
        .where(eq(schema.runs.id, run.id));
    }
    const filters = [
      {},
      { datasetId: ds.id },
      { featureSetId: (await testFeatureSet(db, 'a')).id },
      { status: 'succeeded' as const },
    ];
    let checked = 0;
    for (const sort of runSortKey.options) {
      for (const order of ['asc', 'desc'] as const) {
        for (const filter of filters) {
          for (const offset of [0, 4, 10]) {
            const options = { ...filter, sort, order, limit: 4, offset };
            const label = JSON.stringify(options);
            const expected = await referencePage(db, options);
            expect(summarise(await listRuns(db, options)), label).toEqual(expected);
            checked += expected.items.length;
          }
        }
      }
    }
    // the pages held runs, not only empty lists: per key and order 12 of the 15 runs unfiltered, 6 of the
    // dataset's, 4 of feature set a, 7 succeeded
    expect(checked).toBe(5 * 2 * (12 + 6 + 4 + 7));
  });
});
