import { resolve } from 'node:path';
import postgres, { type Sql } from 'postgres';
import { type Db, fromSql } from './db.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.ts';
import { applyMigrations } from './migrate.ts';

/** A connected database: drizzle for queries, the raw postgres.js client, and who owns the server. */
export interface Database {
  db: Db;
  sql: Sql;
  url: string;
  /** The embedded server this process started, or null when connected to `DATABASE_URL`. */
  embedded: EmbeddedPostgres | null;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Postgres URL; defaults to `DATABASE_URL`. Without one an embedded Postgres is started. */
  url?: string;
  /** Start the embedded Postgres even when `DATABASE_URL` is set. */
  embedded?: boolean;
  /** Data directory of the embedded database (default `.edgehead/pg` under the working directory). */
  dataDir?: string;
  /** Port of the embedded database (default 0: any free port). */
  port?: number;
  /** Pool size of this client. */
  max?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
}

/**
 * Connects to Postgres: the server at `DATABASE_URL` when set, otherwise an embedded PGlite
 * (kept under `.edgehead/pg`) served on 127.0.0.1, so every process uses the same postgres.js path.
 *
 * @example
 * const database = await connect();
 * const all = await listDatasets(database.db);
 * await database.close();
 */
export async function connect(options: ConnectOptions = {}): Promise<Database> {
  const url = options.embedded ? undefined : (options.url ?? process.env.DATABASE_URL);
  const embedded = url
    ? null
    : await startEmbeddedPostgres({
        dataDir: options.dataDir ?? resolve('.edgehead/pg'),
        ...(options.port === undefined ? {} : { port: options.port }),
      });
  const target = url ?? (embedded as EmbeddedPostgres).url;
  // Unnamed statements only: the embedded database is one backend shared by every process, where named
  // prepared statements of two clients would collide (and Hyperdrive prefers them too).
  const sql = postgres(target, { max: options.max ?? 10, prepare: false, onnotice: () => undefined });
  try {
    if (options.migrate !== false) await applyMigrations(target);
  } catch (error) {
    await sql.end();
    await embedded?.stop();
    throw error;
  }
  return {
    db: fromSql(sql),
    sql,
    url: target,
    embedded,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}
