// The data layer's environment variables, read and parsed in one place (the linter keeps `process.env` out of
// every other file).
import { z } from 'zod';

/** A variable that is unset when empty (`DATABASE_URL= cmd` means "no server", as a shell user expects). */
const variable = z
  .string()
  .optional()
  .transform((value) => value || undefined);

const schema = z.object({
  /** The PostgreSQL server to use (postgres.js reports a malformed one when it connects). */
  DATABASE_URL: variable,
  /** The migrations folder of a bundled deployment (the gpu bundle sets it beside itself). */
  EDGEHEAD_MIGRATIONS_DIR: variable,
  /** Set by the test-server global setup: the embedded server every test file of a run makes its database on. */
  EDGEHEAD_TEST_SERVER_URL: variable,
});

/** The data layer's variables, parsed. */
export type DbEnv = z.infer<typeof schema>;

/**
 * The data layer's variables from `source` (default `process.env`), parsed when called: the test-server
 * setup sets one for the test processes vitest starts after it.
 * @example const { DATABASE_URL } = dbEnv();
 */
export function dbEnv(source: Readonly<Record<string, string | undefined>> = process.env): DbEnv {
  return schema.parse(source);
}

/** `DATABASE_URL`: the PostgreSQL server to use. */
export const databaseUrlFromEnv = (): string | undefined => dbEnv().DATABASE_URL;

/** `EDGEHEAD_MIGRATIONS_DIR`: the migrations folder of a bundled deployment. */
export const migrationsDirFromEnv = (): string | undefined => dbEnv().EDGEHEAD_MIGRATIONS_DIR;

/** The test server's URL, when a global setup started one. */
export const testServerUrlFromEnv = (): string | undefined => dbEnv().EDGEHEAD_TEST_SERVER_URL;

/** Publishes (or, with null, withdraws) the test server's URL to the test processes vitest starts next. */
export function setTestServerUrl(url: string | null): void {
  if (url === null) delete process.env.EDGEHEAD_TEST_SERVER_URL;
  else process.env.EDGEHEAD_TEST_SERVER_URL = url;
}

/** The environment a PostgreSQL program runs with: this process's, in the C locale (messages `up` matches). */
export const serverProgramEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C' });
