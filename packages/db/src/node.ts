// Node-only parts of the data layer: connecting and migrating, and the embedded PostgreSQL server.
export { type ConnectOptions, connect, type Database, NoDatabaseUrlError } from './client.ts';
export * from './embedded/index.ts';
export { applyMigrations, migrationsFolder } from './migrate.ts';
