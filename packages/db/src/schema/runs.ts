import { type ClassMetrics, type RocPoint, runKind, runStatus } from '@edgehead/contracts';
import {
  type AnyPgColumn,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { datasets, splitEnum } from './datasets.ts';
import { featureSets } from './feature-sets.ts';

export const runStatusEnum = pgEnum('run_status', runStatus.enum);
export const runKindEnum = pgEnum('run_kind', runKind.enum);

/**
 * A training run on one dataset's stored features for one feature set: a head, or (kind `finetune`) the
 * backbone's top with the head of `fromRunId`, producing `outputFeatureSetId`.
 */
export const runs = pgTable(
  'runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: runKindEnum('kind').notNull().default('head'),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    featureSetId: uuid('feature_set_id')
      .notNull()
      .references(() => featureSets.id),
    fromRunId: uuid('from_run_id').references((): AnyPgColumn => runs.id, { onDelete: 'set null' }),
    outputFeatureSetId: uuid('output_feature_set_id').references(() => featureSets.id),
    preset: text('preset'),
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    status: runStatusEnum('status').notNull().default('queued'),
    error: text('error'),
    /** tfjs backend the run trained on (tensorflow, wasm, cpu). */
    backend: text('backend'),
    epochsTotal: integer('epochs_total').notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** Stage durations in ms (load, train, evaluate, save...). */
    timings: jsonb('timings').$type<Record<string, number>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('runs_created_at_idx').on(t.createdAt),
    index('runs_dataset_idx').on(t.datasetId, t.createdAt),
    index('runs_status_idx').on(t.status),
    index('runs_feature_set_idx').on(t.featureSetId),
  ],
);

/** One row per finished epoch, written as the epoch ends so a run can be watched live. */
export const epochs = pgTable(
  'epochs',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    epoch: integer('epoch').notNull(),
    loss: doublePrecision('loss').notNull(),
    accuracy: doublePrecision('accuracy'),
    valLoss: doublePrecision('val_loss'),
    valAccuracy: doublePrecision('val_accuracy'),
    durationMs: real('duration_ms').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.epoch] })],
);

/** Metrics of a finished run on one split. */
export const evaluations = pgTable(
  'evaluations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    split: splitEnum('split').notNull(),
    n: integer('n').notNull(),
    accuracy: doublePrecision('accuracy').notNull(),
    precision: doublePrecision('precision').notNull(),
    recall: doublePrecision('recall').notNull(),
    f1: doublePrecision('f1').notNull(),
    rocAuc: doublePrecision('roc_auc'),
    threshold: doublePrecision('threshold'),
    confusion: jsonb('confusion').$type<number[][]>().notNull(),
    perClass: jsonb('per_class').$type<ClassMetrics[]>().notNull(),
    roc: jsonb('roc').$type<RocPoint[]>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('evaluations_run_split_key').on(t.runId, t.split)],
);
