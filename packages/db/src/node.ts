export { type ConnectOptions, connect, type Database } from './client.ts';
export {
  type EmbeddedPostgres,
  EmbeddedPostgresError,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from './embedded.ts';
export { applyMigrations, migrationsFolder } from './migrate.ts';
