import { index, integer, pgEnum, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { images } from './datasets.ts';

export const featureDtypeEnum = pgEnum('feature_dtype', ['float32', 'float16']);

/**
 * One feature vector per (image, feature set). `featureSet` is the backbone's feature-set key
 * (backbone plus options such as pooling, e.g. `mobilenet_v1_0.75+avg`).
 * The vector is little-endian in `vector`, or elsewhere at `storageKey`.
 */
export const features = pgTable(
  'features',
  {
    imageId: uuid('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    featureSet: text('feature_set').notNull(),
    dtype: featureDtypeEnum('dtype').notNull(),
    shape: integer('shape').array().notNull(),
    vector: bytea('vector'),
    storageKey: text('storage_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.imageId, t.featureSet] }),
    index('features_feature_set_idx').on(t.featureSet),
  ],
);
