import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import * as schema from './schema/index.ts';

/** The drizzle database every query function takes first. */
export type Db = PostgresJsDatabase<typeof schema>;

/** Wraps a postgres.js client in drizzle with the edgehead schema (works in Node and in Workers). */
export function fromSql(sql: Sql): Db {
  return drizzle(sql, { schema });
}

/** One transaction as both drizzle and the raw postgres.js client (for pg-boss's `{ db }` option). */
export interface Transaction {
  db: Db;
  sql: Sql;
}

/**
 * Runs `fn` in one transaction and commits when it resolves (rolls back when it throws). Everything inside
 * must go through `tx`: a statement on the pool would wait for a connection this transaction may hold.
 * @example await inTransaction(sql, async (tx) => { await openExtraction(tx.db, ds, fs); ... });
 */
export async function inTransaction<T>(sql: Sql, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return (await sql.begin(async (raw) => {
    // drizzle configures its parsers on `options`, which a postgres.js transaction shares with its pool
    const txSql = Object.assign(raw, { options: sql.options }) as unknown as Sql;
    return fn({ db: fromSql(txSql), sql: txSql });
  })) as T;
}
