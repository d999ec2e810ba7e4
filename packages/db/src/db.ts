import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import * as schema from './schema/index.ts';

/** The drizzle database every query function takes first. */
export type Db = PostgresJsDatabase<typeof schema>;

/** Wraps a postgres.js client in drizzle with the edgehead schema (works in Node and in Workers). */
export function fromSql(sql: Sql): Db {
  return drizzle(sql, { schema });
}
