import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';

/**
 * Backbone weights edgehead made itself (a fine-tuning run's result), as a TF.js layers folder: every
 * replica loads them from here. `sha256` is the weights identity a feature set records (over the tensors,
 * see contracts' `featureSetWeights`); each file carries its own sha256 too.
 */
export const backboneWeights = pgTable('backbone_weights', {
  sha256: text('sha256').primaryKey(),
  backbone: text('backbone').notNull(),
  modelJson: bytea('model_json').notNull(),
  modelJsonSha256: text('model_json_sha256').notNull(),
  weightsBin: bytea('weights_bin').notNull(),
  weightsBinSha256: text('weights_bin_sha256').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
