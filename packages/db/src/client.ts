import postgres, { type Sql } from 'postgres';
import { type Db, fromSql } from './db.ts';
import { databaseUrlFromEnv } from './env.ts';
import { applyMigrations } from './migrate.ts';

/** A connected database: drizzle for queries, the raw postgres.js client, and its URL. */
export interface Database {
  db: Db;
  sql: Sql;
  url: string;
  close(): Promise<void>;
}

/** Options of `connect`. */
export interface ConnectOptions {
  /** PostgreSQL URL; defaults to `DATABASE_URL`. */
  url?: string;
  /** Pool size of this client. */
  max?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
}

/** No URL to connect to: neither `url` nor `DATABASE_URL`. */
export class NoDatabaseUrlError extends Error {
  readonly code = 'no_database_url';
  constructor() {
    super(
      'DATABASE_URL is not set: point it at a PostgreSQL server, or run `npx edgehead up`, which starts the ' +
        'embedded server and gives every service its URL',
    );
    this.name = 'NoDatabaseUrlError';
  }
}

/**
 * Connects postgres.js (wrapped in drizzle) to the server at `url` or `DATABASE_URL`, migrating it first.
 *
 * @example
 * const database = await connect();
 * const all = await listDatasets(database.db);
 * await database.close();
 */
export async function connect(options: ConnectOptions = {}): Promise<Database> {
  const url = options.url ?? databaseUrlFromEnv();
  if (!url) throw new NoDatabaseUrlError();
  if (options.migrate !== false) await applyMigrations(url);
  const sql = postgres(url, { max: options.max ?? 10, onnotice: () => undefined });
  return {
    db: fromSql(sql),
    sql,
    url,
    close: () => sql.end({ timeout: 5 }),
  };
}
