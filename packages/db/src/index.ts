export { type Db, fromSql } from './db.ts';
export * from './errors.ts';
export * from './queries/datasets.ts';
export * from './queries/features.ts';
export * from './queries/images.ts';
export * from './queries/models.ts';
export * from './queries/runs.ts';
export * as schema from './schema/index.ts';
