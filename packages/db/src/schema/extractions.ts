import { index, integer, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { datasets } from './datasets.ts';
import { featureSets } from './feature-sets.ts';

/** Life of an extraction as stored; queued/idle are read off the queue and the vectors (see contracts). */
export const extractionStatusEnum = pgEnum('extraction_status', ['running', 'done', 'failed', 'cancelled']);

/**
 * One extraction per (dataset, feature set): repeated requests find this row (locked while a request adds
 * batches), so the queue never holds two extractions of the same pair. `batches` numbers the batches queued
 * so far (their pg-boss priority is minus their number, so every extraction's first batches run first).
 */
export const extractions = pgTable(
  'extractions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    featureSetId: uuid('feature_set_id')
      .notNull()
      .references(() => featureSets.id),
    status: extractionStatusEnum('status').notNull().default('running'),
    /** Images queued over the extraction's life. */
    images: integer('images').notNull().default(0),
    batches: integer('batches').notNull().default(0),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('extractions_dataset_feature_set_key').on(t.datasetId, t.featureSetId),
    index('extractions_created_at_idx').on(t.createdAt),
  ],
);
