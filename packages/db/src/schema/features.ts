import { featureDtype } from '@edgehead/contracts';
import { index, integer, pgEnum, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { images } from './datasets.ts';
import { featureSets } from './feature-sets.ts';

export const featureDtypeEnum = pgEnum('feature_dtype', featureDtype.enum);

/**
 * One feature vector per (image, feature set, copy). `copy` is 0 for a plain feature set; an augmented one
 * (provenance kind 'augmented') holds copies 0..k-1 of each training image, copy i made with
 * `augmentationParameters(params, image, i)`. The vector is little-endian in `vector`, or elsewhere at
 * `storageKey`.
 */
export const features = pgTable(
  'features',
  {
    imageId: uuid('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    featureSetId: uuid('feature_set_id')
      .notNull()
      .references(() => featureSets.id),
    /** Augmented copy index (0 for plain feature sets). */
    copy: integer('copy').notNull().default(0),
    dtype: featureDtypeEnum('dtype').notNull(),
    shape: integer('shape').array().notNull(),
    vector: bytea('vector'),
    storageKey: text('storage_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.imageId, t.featureSetId, t.copy] }),
    index('features_feature_set_idx').on(t.featureSetId),
  ],
);
