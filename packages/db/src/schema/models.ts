import type { HeadManifest } from '@edgehead/contracts';
import { sql } from 'drizzle-orm';
import {
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { bytea } from './bytea.ts';
import { runs } from './runs.ts';

/** A trained head registered as a numbered version under a model name (one per run). */
export const models = pgTable(
  'models',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    runId: uuid('run_id')
      .notNull()
      .unique()
      .references(() => runs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    version: integer('version').notNull(),
    /** sha256 of manifest.json, which itself lists the sha256 of every artifact file. */
    artifactSha256: text('artifact_sha256').notNull(),
    classes: jsonb('classes').$type<string[]>().notNull(),
    threshold: doublePrecision('threshold'),
    manifest: jsonb('manifest').$type<HeadManifest>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('models_name_version_key').on(t.name, t.version)],
);

/** The files of a model's artifact (model.json, weights.bin, manifest.json). */
export const modelFiles = pgTable(
  'model_files',
  {
    modelId: uuid('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    path: text('path').notNull(),
    sha256: text('sha256').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.path] })],
);

/** A model version published to the edge under an alias; at most one active row per alias. */
export const deployments = pgTable(
  'deployments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    modelId: uuid('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    alias: text('alias').notNull(),
    /** The version name at the edge. */
    edgeVersion: text('edge_version').notNull(),
    active: boolean('active').notNull().default(false),
    activatedBy: text('activated_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('deployments_alias_version_key').on(t.alias, t.edgeVersion),
    uniqueIndex('deployments_one_active_per_alias').on(t.alias).where(sql`${t.active}`),
    index('deployments_model_idx').on(t.modelId),
  ],
);
