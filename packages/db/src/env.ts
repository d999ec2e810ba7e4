// The data layer's environment variables, read in one place.

/** `DATABASE_URL`: the PostgreSQL server to use. */
export const databaseUrlFromEnv = (): string | undefined => process.env.DATABASE_URL || undefined;

/** `EDGEHEAD_MIGRATIONS_DIR`: the migrations folder of a bundled deployment. */
export const migrationsDirFromEnv = (): string | undefined =>
  process.env.EDGEHEAD_MIGRATIONS_DIR || undefined;

/** Set by the test-server global setup: the embedded server every test file of a run makes its database on. */
export const TEST_SERVER_VARIABLE = 'EDGEHEAD_TEST_SERVER_URL';

/** The test server's URL, when a global setup started one. */
export const testServerUrlFromEnv = (): string | undefined => process.env[TEST_SERVER_VARIABLE] || undefined;
