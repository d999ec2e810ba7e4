import { and, asc, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { datasets, epochs, evaluations, featureSets, models, runs } from '../schema/index.ts';
import { getDataset } from './datasets.ts';
import { featureSetLabelColumns, labelOf } from './feature-sets.ts';

export type Run = typeof runs.$inferSelect;
export type RunStatus = Run['status'];
export type EpochRow = typeof epochs.$inferSelect;
export type Evaluation = typeof evaluations.$inferSelect;
export const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** Records a queued run of a dataset's vectors of one feature set; the dataset must exist. */
export async function createRun(
  db: Db,
  input: {
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

/** A run with its feature set's label, dataset name, epochs, evaluations and registered model id. */
export async function getRunDetail(db: Db, id: string) {
  const found = await getRun(db, id);
  const [[dataset], [featureSet]] = await Promise.all([
    db
      .select({ name: datasets.name, classes: datasets.classes, task: datasets.task })
      .from(datasets)
      .where(eq(datasets.id, found.datasetId)),
    db.select(featureSetLabelColumns).from(featureSets).where(eq(featureSets.id, found.featureSetId)),
  ]);
  if (!featureSet) throw new NotFoundError('feature set', found.featureSetId);
  const run = { ...found, featureSet: labelOf(featureSet) };
  const [runEpochs, runEvaluations, [model]] = await Promise.all([
    listEpochs(db, id),
    db.select().from(evaluations).where(eq(evaluations.runId, id)).orderBy(evaluations.split),
    db
      .select({ id: models.id, name: models.name, version: models.version })
      .from(models)
      .where(eq(models.runId, id)),
  ]);
  return {
    run,
    dataset: dataset ?? null,
    epochs: runEpochs,
    evaluations: runEvaluations,
    model: model ?? null,
  };
}
export type RunDetail = Awaited<ReturnType<typeof getRunDetail>>;

export const RUN_SORT_KEYS = [
  'created_at',
  'best_val_accuracy',
  'test_accuracy',
  'duration',
  'status',
] as const;
export type RunSortKey = (typeof RUN_SORT_KEYS)[number];

export interface ListRunsOptions {
  datasetId?: string;
  featureSetId?: string;
  status?: RunStatus;
  sort?: RunSortKey;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

/** The WHERE clause of a run list's filters (undefined: every run). */
export function runListFilter(options: ListRunsOptions): SQL | undefined {
  const filters: SQL[] = [];
  if (options.datasetId) filters.push(eq(runs.datasetId, options.datasetId));
  if (options.featureSetId) filters.push(eq(runs.featureSetId, options.featureSetId));
  if (options.status) filters.push(eq(runs.status, options.status));
  return filters.length ? and(...filters) : undefined;
}

/** A run's duration in ms: until now while it runs, null before it starts. */
export const runDurationMs = sql<
  number | null
>`extract(epoch from (coalesce(${runs.finishedAt}, now()) - ${runs.startedAt})) * 1000`;

/**
 * The columns of a run list row that come from `runs`, `datasets` and `feature_sets` (joined on the run's
 * dataset and feature set); `featureSet` becomes the label in `withFeatureSetLabel`.
 */
export const runListColumns = {
  id: runs.id,
  datasetId: runs.datasetId,
  datasetName: datasets.name,
  featureSetId: runs.featureSetId,
  featureSet: featureSetLabelColumns,
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

/** A row selected with `runListColumns`, its feature set shown by `featureSetLabel`. */
export function withFeatureSetLabel<T extends { featureSet: Parameters<typeof labelOf>[0] }>(
  row: T,
): Omit<T, 'featureSet'> & { featureSet: string } {
  return { ...row, featureSet: labelOf(row.featureSet) };
}

/** Runs with their progress and best metrics, filtered, sorted and paginated in SQL. */
export async function listRuns(db: Db, options: ListRunsOptions = {}) {
  const where = runListFilter(options);

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
  const sortColumn: Record<RunSortKey, SQL | typeof runs.createdAt> = {
    created_at: sql`${runs.createdAt}`,
    best_val_accuracy: sql`${epochStats.bestValAccuracy}`,
    test_accuracy: sql`${test.accuracy}`,
    duration: runDurationMs,
    status: sql`${runs.status}`,
  };
  const column = sortColumn[options.sort ?? 'created_at'];
  const direction = options.order === 'asc' ? asc : desc;

  const [items, [count]] = await Promise.all([
    db
      .select({
        ...runListColumns,
        epochsDone: sql<number>`coalesce(${epochStats.epochsDone}, 0)`.mapWith(Number),
        bestValAccuracy: sql<number | null>`${epochStats.bestValAccuracy}`.mapWith((v) =>
          v === null ? null : Number(v),
        ),
        testAccuracy: test.accuracy,
      })
      .from(runs)
      .innerJoin(datasets, eq(datasets.id, runs.datasetId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .leftJoin(epochStats, eq(epochStats.runId, runs.id))
      .leftJoin(test, eq(test.runId, runs.id))
      .where(where)
      .orderBy(sql`${direction(column)} nulls last`, desc(runs.id))
      .limit(options.limit ?? 50)
      .offset(options.offset ?? 0),
    db
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(runs)
      .where(where),
  ]);
  return { items: items.map(withFeatureSetLabel), total: count?.n ?? 0 };
}
export type RunSummary = Awaited<ReturnType<typeof listRuns>>['items'][number];
