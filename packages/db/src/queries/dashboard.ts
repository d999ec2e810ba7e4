import { and, asc, count, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import { datasets, deployments, epochs, evaluations, featureSets, models, runs } from '../schema/index.ts';
import { featureSetLabelColumns, labelOf } from './feature-sets.ts';
import {
  type EpochRow,
  type Evaluation,
  type ListRunsOptions,
  listRuns,
  type Run,
  type RunSummary,
  runDurationMs,
  runListColumns,
  runListFilter,
  withFeatureSetLabel,
} from './runs.ts';

/** What the runs table can be filtered by, with how many runs each choice holds. */
export interface RunFacets {
  datasets: { id: string; name: string; task: 'binary' | 'multiclass'; runs: number }[];
  /** `featureSet` is the label; filter runs by `id`. */
  featureSets: { id: string; featureSet: string; runs: number }[];
  statuses: { status: Run['status']; runs: number }[];
  total: number;
}

/** Filter choices of the runs table: every dataset (with its run count), feature set and status in use. */
export async function listRunFacets(db: Db): Promise<RunFacets> {
  const [byDataset, byFeatureSet, byStatus] = await Promise.all([
    db
      .select({ id: datasets.id, name: datasets.name, task: datasets.task, runs: count(runs.id) })
      .from(datasets)
      .leftJoin(runs, eq(runs.datasetId, datasets.id))
      .groupBy(datasets.id)
      .orderBy(asc(datasets.name)),
    db
      .select({ id: featureSets.id, label: featureSetLabelColumns, runs: count() })
      .from(runs)
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .groupBy(featureSets.id),
    db
      .select({ status: runs.status, runs: count() })
      .from(runs)
      .groupBy(runs.status)
      .orderBy(asc(runs.status)),
  ]);
  return {
    datasets: byDataset,
    featureSets: byFeatureSet
      .map((f) => ({ id: f.id, featureSet: labelOf(f.label), runs: f.runs }))
      .sort((a, b) => (a.featureSet < b.featureSet ? -1 : a.featureSet > b.featureSet ? 1 : 0)),
    statuses: byStatus,
    total: byStatus.reduce((sum, s) => sum + s.runs, 0),
  };
}

/** One run of a comparison: the run (its feature set labelled), its dataset's name and classes, epochs and evaluations. */
export interface ComparedRun {
  run: Run & { featureSet: string };
  dataset: { name: string; classes: string[]; task: 'binary' | 'multiclass' };
  epochs: EpochRow[];
  evaluations: Evaluation[];
}

/**
 * Several runs with their curves and metrics in three queries, in the order of `ids`;
 * throws NotFoundError naming the first id that does not exist.
 */
export async function getRunsForCompare(db: Db, ids: readonly string[]): Promise<ComparedRun[]> {
  if (ids.length === 0) return [];
  const list = [...ids];
  const [found, runEpochs, runEvaluations] = await Promise.all([
    db
      .select({
        run: runs,
        dataset: { name: datasets.name, classes: datasets.classes, task: datasets.task },
        featureSet: featureSetLabelColumns,
      })
      .from(runs)
      .innerJoin(datasets, eq(datasets.id, runs.datasetId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .where(inArray(runs.id, list)),
    db.select().from(epochs).where(inArray(epochs.runId, list)).orderBy(asc(epochs.runId), asc(epochs.epoch)),
    db.select().from(evaluations).where(inArray(evaluations.runId, list)).orderBy(asc(evaluations.split)),
  ]);
  const byId = new Map(found.map((row) => [row.run.id, row]));
  return list.map((id) => {
    const row = byId.get(id);
    if (!row) throw new NotFoundError('run', id);
    return {
      run: { ...row.run, featureSet: labelOf(row.featureSet) },
      dataset: row.dataset,
      epochs: runEpochs.filter((e) => e.runId === id),
      evaluations: runEvaluations.filter((e) => e.runId === id),
    };
  });
}

/** One version of an alias at the edge, with the model and run behind it. */
export interface AliasVersion {
  edgeVersion: string;
  active: boolean;
  activatedBy: string | null;
  deployedAt: Date;
  model: { id: string; name: string; version: number; classes: string[]; threshold: number | null };
  run: { id: string; featureSet: string; preset: string | null; testAccuracy: number | null };
}

/** Deployments grouped by alias (newest version first), plus every registered model. */
export interface ModelOverview {
  aliases: { alias: string; active: string | null; versions: AliasVersion[] }[];
  models: {
    id: string;
    name: string;
    version: number;
    runId: string;
    featureSet: string;
    testAccuracy: number | null;
    createdAt: Date;
    aliases: string[];
  }[];
}

/** The Models page: versions per alias with the active one, and the registered models (newest first). */
export async function getModelOverview(db: Db, options: { limit?: number } = {}): Promise<ModelOverview> {
  const [deployed, registered] = await Promise.all([
    db
      .select({
        alias: deployments.alias,
        edgeVersion: deployments.edgeVersion,
        active: deployments.active,
        activatedBy: deployments.activatedBy,
        deployedAt: deployments.createdAt,
        model: {
          id: models.id,
          name: models.name,
          version: models.version,
          classes: models.classes,
          threshold: models.threshold,
        },
        run: {
          id: runs.id,
          preset: runs.preset,
          testAccuracy: evaluations.accuracy,
        },
        featureSet: featureSetLabelColumns,
      })
      .from(deployments)
      .innerJoin(models, eq(models.id, deployments.modelId))
      .innerJoin(runs, eq(runs.id, models.runId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .leftJoin(evaluations, and(eq(evaluations.runId, runs.id), eq(evaluations.split, 'test')))
      .orderBy(asc(deployments.alias), desc(deployments.createdAt), desc(deployments.edgeVersion)),
    db
      .select({
        id: models.id,
        name: models.name,
        version: models.version,
        runId: models.runId,
        featureSet: featureSetLabelColumns,
        testAccuracy: evaluations.accuracy,
        createdAt: models.createdAt,
      })
      .from(models)
      .innerJoin(runs, eq(runs.id, models.runId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .leftJoin(evaluations, and(eq(evaluations.runId, runs.id), eq(evaluations.split, 'test')))
      .orderBy(desc(models.createdAt), desc(models.version))
      .limit(options.limit ?? 200),
  ]);
  const aliases = new Map<string, ModelOverview['aliases'][number]>();
  const aliasesOfModel = new Map<string, string[]>();
  for (const { alias, featureSet, ...row } of deployed) {
    const version: AliasVersion = { ...row, run: { ...row.run, featureSet: labelOf(featureSet) } };
    let entry = aliases.get(alias);
    if (!entry) {
      entry = { alias, active: null, versions: [] };
      aliases.set(alias, entry);
    }
    entry.versions.push(version);
    if (version.active) entry.active = version.edgeVersion;
    aliasesOfModel.set(version.model.id, [...(aliasesOfModel.get(version.model.id) ?? []), alias]);
  }
  return {
    aliases: [...aliases.values()],
    models: registered.map((m) => ({
      ...withFeatureSetLabel(m),
      aliases: [...new Set(aliasesOfModel.get(m.id) ?? [])],
    })),
  };
}

/**
 * `listRuns` for the dashboard's table: the same rows and order, but when the sort key is a column of `runs`
 * (created_at, duration, status) the page is chosen first and epochs are aggregated for its rows only, so a
 * page costs about the same with 100 or 10,000 runs. Aggregate sorts (best_val_accuracy, test_accuracy) use
 * `listRuns` as is.
 *
 * @example await listRunsPage(db, { status: 'running', sort: 'created_at', limit: 25, offset: 0 })
 */
export async function listRunsPage(
  db: Db,
  options: ListRunsOptions = {},
): Promise<{ items: RunSummary[]; total: number }> {
  const sortKey = options.sort ?? 'created_at';
  if (sortKey === 'best_val_accuracy' || sortKey === 'test_accuracy') return listRuns(db, options);
  const where = runListFilter(options);
  const column = { created_at: sql`${runs.createdAt}`, duration: runDurationMs, status: sql`${runs.status}` }[
    sortKey
  ];
  const direction = options.order === 'asc' ? asc : desc;

  const [page, [counted]] = await Promise.all([
    db
      .select(runListColumns)
      .from(runs)
      .innerJoin(datasets, eq(datasets.id, runs.datasetId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .where(where)
      .orderBy(sql`${direction(column)} nulls last`, desc(runs.id))
      .limit(options.limit ?? 50)
      .offset(options.offset ?? 0),
    db.select({ n: count() }).from(runs).where(where),
  ]);
  if (page.length === 0) return { items: [], total: counted?.n ?? 0 };
  const ids = page.map((r) => r.id);
  const [stats, tests] = await Promise.all([
    db
      .select({
        runId: epochs.runId,
        epochsDone: count(),
        bestValAccuracy: sql<number | null>`max(${epochs.valAccuracy})`.mapWith((v) =>
          v === null ? null : Number(v),
        ),
      })
      .from(epochs)
      .where(inArray(epochs.runId, ids))
      .groupBy(epochs.runId),
    db
      .select({ runId: evaluations.runId, accuracy: evaluations.accuracy })
      .from(evaluations)
      .where(and(inArray(evaluations.runId, ids), eq(evaluations.split, 'test'))),
  ]);
  const statsOf = new Map(stats.map((s) => [s.runId, s]));
  const testOf = new Map(tests.map((t) => [t.runId, t.accuracy]));
  const items: RunSummary[] = page.map((r) => ({
    ...withFeatureSetLabel(r),
    epochsDone: statsOf.get(r.id)?.epochsDone ?? 0,
    bestValAccuracy: statsOf.get(r.id)?.bestValAccuracy ?? null,
    testAccuracy: testOf.get(r.id) ?? null,
  }));
  return { items, total: counted?.n ?? 0 };
}
