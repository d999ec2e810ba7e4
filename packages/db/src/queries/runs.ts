import type { RunSortKey, RunsQuery } from '@edgehead/contracts';
import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { PgSelect } from 'drizzle-orm/pg-core';
import type { Db } from '../db.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { datasets, epochs, evaluations, featureSets, models, runs } from '../schema/index.ts';
import { getDataset } from './datasets.ts';
import { featureSetLabelColumns, labelOf } from './feature-sets.ts';

export type Run = typeof runs.$inferSelect;
export type RunStatus = Run['status'];
export type EpochRow = typeof epochs.$inferSelect;
export type Evaluation = typeof evaluations.$inferSelect;

/** The columns of an epoch as the APIs serve it (contracts' `epochMetrics`). */
export const epochColumns = {
  epoch: epochs.epoch,
  loss: epochs.loss,
  accuracy: epochs.accuracy,
  valLoss: epochs.valLoss,
  valAccuracy: epochs.valAccuracy,
  durationMs: epochs.durationMs,
};

/** The columns of an evaluation as the APIs serve it (contracts' `runEvaluation`). */
export const evaluationColumns = {
  split: evaluations.split,
  n: evaluations.n,
  accuracy: evaluations.accuracy,
  precision: evaluations.precision,
  recall: evaluations.recall,
  f1: evaluations.f1,
  rocAuc: evaluations.rocAuc,
  threshold: evaluations.threshold,
  confusion: evaluations.confusion,
  perClass: evaluations.perClass,
  roc: evaluations.roc,
};

/** A dataset as a run shows it. */
export const runDatasetColumns = { name: datasets.name, classes: datasets.classes, task: datasets.task };

/**
 * Records a queued run of a dataset's vectors of one feature set; the dataset must exist. A fine-tuning run
 * (`kind: 'finetune'`) names the run whose head it starts from.
 */
export async function createRun(
  db: Db,
  input: {
    kind?: Run['kind'];
    fromRunId?: string | null;
    datasetId: string;
    featureSetId: string;
    preset?: string | null;
    config: Record<string, unknown>;
    epochsTotal: number;
  },
): Promise<Run> {
  const dataset = await getDataset(db, input.datasetId);
  if (!Number.isInteger(input.epochsTotal) || input.epochsTotal < 1) {
    throw new InvalidInputError('epochs', `must be a positive integer, got ${input.epochsTotal}`);
  }
  const [row] = await db
    .insert(runs)
    .values({
      kind: input.kind ?? 'head',
      fromRunId: input.fromRunId ?? null,
      datasetId: dataset.id,
      featureSetId: input.featureSetId,
      preset: input.preset ?? null,
      config: input.config,
      epochsTotal: input.epochsTotal,
    })
    .returning();
  return row as Run;
}

/** One run; throws NotFoundError. */
export async function getRun(db: Db, id: string): Promise<Run> {
  const [row] = await db.select().from(runs).where(eq(runs.id, id));
  if (!row) throw new NotFoundError('run', id);
  return row;
}

/**
 * Marks a run running for a new attempt and clears what an earlier, interrupted attempt wrote.
 * Returns null when the run was cancelled or already finished (the job should then do nothing).
 */
export async function startRun(db: Db, id: string, input: { backend: string }): Promise<Run | null> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(runs)
      .set({
        status: 'running',
        backend: input.backend,
        attempts: sql`${runs.attempts} + 1`,
        startedAt: new Date(),
        error: null,
      })
      .where(and(eq(runs.id, id), inArray(runs.status, ['queued', 'running'])))
      .returning();
    if (!row) return null;
    await tx.delete(epochs).where(eq(epochs.runId, id));
    await tx.delete(evaluations).where(eq(evaluations.runId, id));
    return row;
  });
}

/** Writes one finished epoch (idempotent per run and epoch number). */
export async function recordEpoch(
  db: Db,
  runId: string,
  row: Omit<typeof epochs.$inferInsert, 'runId' | 'createdAt'>,
): Promise<void> {
  await db
    .insert(epochs)
    .values({ ...row, runId })
    .onConflictDoUpdate({
      target: [epochs.runId, epochs.epoch],
      set: {
        loss: row.loss,
        accuracy: row.accuracy ?? null,
        valLoss: row.valLoss ?? null,
        valAccuracy: row.valAccuracy ?? null,
        durationMs: row.durationMs,
      },
    });
}

/** Stores (or replaces) a run's metrics on one split. */
export async function saveEvaluation(
  db: Db,
  row: Omit<typeof evaluations.$inferInsert, 'id' | 'createdAt'>,
): Promise<Evaluation> {
  const { runId, split, ...rest } = row;
  const [saved] = await db
    .insert(evaluations)
    .values(row)
    .onConflictDoUpdate({ target: [evaluations.runId, evaluations.split], set: rest })
    .returning();
  if (!saved) throw new NotFoundError('run', `${runId}/${split}`);
  return saved;
}

async function setFinalStatus(
  db: Db,
  id: string,
  status: 'succeeded' | 'failed' | 'cancelled',
  patch: { error?: string | null; timings?: Record<string, number> },
  from: RunStatus[],
): Promise<Run | null> {
  const [row] = await db
    .update(runs)
    .set({ status, finishedAt: new Date(), ...patch })
    .where(and(eq(runs.id, id), inArray(runs.status, from)))
    .returning();
  return row ?? null;
}

/** Records the feature set a fine-tuning run produced (its tuned weights' vectors). */
export async function setRunOutputFeatureSet(db: Db, id: string, featureSetId: string): Promise<void> {
  await db.update(runs).set({ outputFeatureSetId: featureSetId }).where(eq(runs.id, id));
}

/** The model a run registered, or null when it has none (yet). */
export async function getRunModel(db: Db, runId: string) {
  const [row] = await db.select().from(models).where(eq(models.runId, runId));
  return row ?? null;
}

/** Marks a running run succeeded; null if it was cancelled meanwhile. */
export function finishRun(db: Db, id: string, timings: Record<string, number>): Promise<Run | null> {
  return setFinalStatus(db, id, 'succeeded', { timings, error: null }, ['running']);
}

/** Marks a queued or running run failed with the reason. */
export function failRun(db: Db, id: string, error: string): Promise<Run | null> {
  return setFinalStatus(db, id, 'failed', { error }, ['queued', 'running']);
}

/** Cancels a queued or running run; returns the run as it now is (unchanged when already finished). */
export async function cancelRun(db: Db, id: string): Promise<Run> {
  return (await setFinalStatus(db, id, 'cancelled', {}, ['queued', 'running'])) ?? getRun(db, id);
}

/** Epochs of a run in order. */
export function listEpochs(db: Db, runId: string): Promise<EpochRow[]> {
  return db.select().from(epochs).where(eq(epochs.runId, runId)).orderBy(asc(epochs.epoch));
}

/** A run with its feature set's label, its dataset, epochs, evaluations and registered model (contracts' `runDetailResponse`). */
export async function getRunDetail(db: Db, id: string) {
  const found = await getRun(db, id);
  const [[dataset], [featureSet], runEpochs, runEvaluations, [model]] = await Promise.all([
    db.select(runDatasetColumns).from(datasets).where(eq(datasets.id, found.datasetId)),
    db.select(featureSetLabelColumns).from(featureSets).where(eq(featureSets.id, found.featureSetId)),
    db.select(epochColumns).from(epochs).where(eq(epochs.runId, id)).orderBy(asc(epochs.epoch)),
    db
      .select(evaluationColumns)
      .from(evaluations)
      .where(eq(evaluations.runId, id))
      .orderBy(evaluations.split),
    db
      .select({ id: models.id, name: models.name, version: models.version })
      .from(models)
      .where(eq(models.runId, id)),
  ]);
  if (!dataset) throw new NotFoundError('dataset', found.datasetId);
  if (!featureSet) throw new NotFoundError('feature set', found.featureSetId);
  return {
    run: { ...found, featureSet: labelOf(featureSet) },
    dataset,
    epochs: runEpochs,
    evaluations: runEvaluations,
    model: model ?? null,
  };
}

/** Filters, sort and page of `listRuns`. */
export interface ListRunsOptions {
  datasetId?: string | undefined;
  featureSetId?: string | undefined;
  status?: RunStatus | undefined;
  sort?: RunSortKey;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

/** The WHERE clause of a run list's filters (undefined: every run). */
function runListFilter(options: ListRunsOptions): SQL | undefined {
  const filters: SQL[] = [];
  if (options.datasetId) filters.push(eq(runs.datasetId, options.datasetId));
  if (options.featureSetId) filters.push(eq(runs.featureSetId, options.featureSetId));
  if (options.status) filters.push(eq(runs.status, options.status));
  return filters.length ? and(...filters) : undefined;
}

/** A run's duration in ms: until now while it runs, null before it starts. */
const runDurationMs = sql<
  number | null
>`extract(epoch from (coalesce(${runs.finishedAt}, now()) - ${runs.startedAt})) * 1000`;

/**
 * The columns of a run list row that come from `runs`, `datasets` and `feature_sets` (joined on the run's
 * dataset and feature set); `featureSet` becomes the label in `withFeatureSetLabel`.
 */
const runListColumns = {
  id: runs.id,
  kind: runs.kind,
  datasetId: runs.datasetId,
  datasetName: datasets.name,
  featureSetId: runs.featureSetId,
  featureSet: featureSetLabelColumns,
  fromRunId: runs.fromRunId,
  outputFeatureSetId: runs.outputFeatureSetId,
  preset: runs.preset,
  config: runs.config,
  status: runs.status,
  error: runs.error,
  backend: runs.backend,
  epochsTotal: runs.epochsTotal,
  durationMs: runDurationMs.mapWith((v) => (v === null ? null : Number(v))),
  createdAt: runs.createdAt,
  startedAt: runs.startedAt,
  finishedAt: runs.finishedAt,
};

/** A row selected with `featureSetLabelColumns` as `featureSet`, its feature set shown by `featureSetLabel`. */
export function withFeatureSetLabel<T extends { featureSet: Parameters<typeof labelOf>[0] }>(
  row: T,
): Omit<T, 'featureSet'> & { featureSet: string } {
  return { ...row, featureSet: labelOf(row.featureSet) };
}

const nullableNumber = (v: unknown) => (v === null ? null : Number(v));

/**
 * Runs with their progress and best metrics (contracts' `runSummary` rows), filtered, sorted (nulls last,
 * ties by id) and paged in SQL. When the sort key is a column of `runs` (created_at, duration, status) the
 * page is chosen first and epochs are aggregated for its rows only, so a page costs about the same with 100
 * or 10,000 runs; the aggregate sorts (best_val_accuracy, test_accuracy) aggregate every run first.
 * @example await listRuns(db, { status: 'running', sort: 'created_at', limit: 25, offset: 0 })
 */
export async function listRuns(db: Db, options: ListRunsOptions = {}) {
  const sortKey = options.sort ?? 'created_at';
  if (sortKey === 'best_val_accuracy' || sortKey === 'test_accuracy')
    return listRunsByAggregate(db, { ...options, sort: sortKey });
  const column = { created_at: sql`${runs.createdAt}`, duration: runDurationMs, status: sql`${runs.status}` }[
    sortKey
  ];
  const [page, total] = await Promise.all([
    paged(db.select(runListColumns).from(runs).$dynamic(), options, column),
    countRuns(db, options),
  ]);
  const ids = page.map((r) => r.id);
  const [stats, tests] =
    ids.length === 0
      ? [[], []]
      : await Promise.all([
          db
            .select({
              runId: epochs.runId,
              epochsDone: count(),
              bestValAccuracy: sql<number | null>`max(${epochs.valAccuracy})`.mapWith(nullableNumber),
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
  const items = page.map((r) => ({
    ...withFeatureSetLabel(r),
    epochsDone: statsOf.get(r.id)?.epochsDone ?? 0,
    bestValAccuracy: statsOf.get(r.id)?.bestValAccuracy ?? null,
    testAccuracy: testOf.get(r.id) ?? null,
  }));
  return { items, total };
}

/**
 * One page of a runs query: each run's dataset and feature set joined (the list's columns name both), the
 * filters, the sort (nulls last, ties by id), limit and offset.
 */
function paged<T extends PgSelect>(query: T, options: ListRunsOptions, column: SQL) {
  const direction = options.order === 'asc' ? asc : desc;
  return query
    .innerJoin(datasets, eq(datasets.id, runs.datasetId))
    .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
    .where(runListFilter(options))
    .orderBy(sql`${direction(column)} nulls last`, desc(runs.id))
    .limit(options.limit ?? 50)
    .offset(options.offset ?? 0);
}

/** How many runs pass the filters. */
async function countRuns(db: Db, options: ListRunsOptions): Promise<number> {
  const [counted] = await db.select({ n: count() }).from(runs).where(runListFilter(options));
  return counted?.n ?? 0;
}

/**
 * One page of runs as every runs list answers it: contracts' `runsQuery` (1-based `page` of `pageSize`)
 * in, `runList` out.
 */
export async function runsPage(db: Db, query: RunsQuery) {
  const { items, total } = await listRuns(db, {
    datasetId: query.dataset,
    featureSetId: query.featureSet,
    status: query.status,
    sort: query.sort,
    order: query.order,
    limit: query.pageSize,
    offset: (query.page - 1) * query.pageSize,
  });
  const pages = Math.max(1, Math.ceil(total / query.pageSize));
  return { items, total, page: query.page, pageSize: query.pageSize, pages };
}

/** `listRuns` sorted by an aggregate: every run's epochs and test evaluation joined, then sorted and paged. */
async function listRunsByAggregate(
  db: Db,
  options: ListRunsOptions & { sort: 'best_val_accuracy' | 'test_accuracy' },
) {
  const epochStats = db
    .select({
      runId: epochs.runId,
      epochsDone: sql<number>`count(*)`.as('epochs_done'),
      bestValAccuracy: sql<number | null>`max(${epochs.valAccuracy})`.as('best_val_accuracy'),
    })
    .from(epochs)
    .groupBy(epochs.runId)
    .as('epoch_stats');
  const test = db
    .select({ runId: evaluations.runId, accuracy: evaluations.accuracy })
    .from(evaluations)
    .where(eq(evaluations.split, 'test'))
    .as('test_eval');
  const column =
    options.sort === 'best_val_accuracy' ? sql`${epochStats.bestValAccuracy}` : sql`${test.accuracy}`;
  const [items, total] = await Promise.all([
    paged(
      db
        .select({
          ...runListColumns,
          epochsDone: sql<number>`coalesce(${epochStats.epochsDone}, 0)`.mapWith(Number),
          bestValAccuracy: sql<number | null>`${epochStats.bestValAccuracy}`.mapWith(nullableNumber),
          testAccuracy: test.accuracy,
        })
        .from(runs)
        .leftJoin(epochStats, eq(epochStats.runId, runs.id))
        .leftJoin(test, eq(test.runId, runs.id))
        .$dynamic(),
      options,
      column,
    ),
    countRuns(db, options),
  ]);
  return { items: items.map(withFeatureSetLabel), total };
}
