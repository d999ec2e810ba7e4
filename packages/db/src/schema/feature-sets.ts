import type { FeatureSetProvenance } from '@edgehead/contracts';
import { integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * One row per feature set: backbone, weights identity, pooling, preprocessing, input size, feature layer and
 * shape (`featureSetRecord` in contracts). `key` is contracts' `featureSetKey` of those fields and unique, so
 * replicas that compute the same feature set converge on one row; vectors, runs and extractions point at `id`.
 */
export const featureSets = pgTable('feature_sets', {
  id: uuid('id').primaryKey().defaultRandom(),
  key: text('key').notNull().unique(),
  backbone: text('backbone').notNull(),
  /** sha256 of the weight tensors; null on legacy rows (carried over from before weights were recorded). */
  weightsSha256: text('weights_sha256'),
  weightsSource: text('weights_source').notNull(),
  pooling: text('pooling').notNull(),
  preprocessing: text('preprocessing').notNull(),
  /** [height, width]; null only on legacy rows of user backbones. */
  inputSize: integer('input_size').array(),
  featureLayer: text('feature_layer'),
  featureShape: integer('feature_shape').array().notNull(),
  provenance: jsonb('provenance').$type<FeatureSetProvenance>(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
