import { split, task } from '@edgehead/contracts';
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';

export const taskEnum = pgEnum('task', task.enum);
export const splitEnum = pgEnum('split', split.enum);
export const imageStatusEnum = pgEnum('image_status', ['ready', 'failed']);

/** A labelled image collection; `classes` fixes the label set and its order (the head's output order). */
export const datasets = pgTable('datasets', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  task: taskEnum('task').notNull(),
  classes: jsonb('classes').$type<string[]>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Original image bytes by content hash, shared by every dataset and every gpu replica. */
export const imageBlobs = pgTable('image_blobs', {
  sha256: text('sha256').primaryKey(),
  data: bytea('data').notNull(),
});

/** One image of a dataset; `sha256` is unique within a dataset, so re-uploads are no-ops. */
export const images = pgTable(
  'images',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    split: splitEnum('split').notNull(),
    label: text('label').notNull(),
    sha256: text('sha256').notNull(),
    originalName: text('original_name'),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    bytes: integer('bytes').notNull(),
    /** Where the bytes live: `pg:<sha256>` (image_blobs) or `file:<path>` for a registered server folder. */
    storageKey: text('storage_key').notNull(),
    status: imageStatusEnum('status').notNull().default('ready'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('images_dataset_sha256_key').on(t.datasetId, t.sha256),
    index('images_dataset_split_idx').on(t.datasetId, t.split),
    check('images_size_positive', sql`${t.width} > 0 and ${t.height} > 0 and ${t.bytes} > 0`),
  ],
);
