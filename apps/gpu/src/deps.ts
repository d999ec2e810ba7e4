import type { Db } from '@edgehead/db';
import type { Sql } from 'postgres';
import type { GpuEnv } from './env.ts';
import type { ExtractorRegistry } from './extractors/registry.ts';
import type { JobQueue } from './queue/index.ts';

/** Everything routes and job workers need; tests build it around a test database. */
export interface AppDeps {
  db: Db;
  /** The raw client (health checks). */
  sql: Sql;
  queue: JobQueue;
  extractors: ExtractorRegistry;
  env: GpuEnv;
}
