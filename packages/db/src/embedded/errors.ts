/** Why the embedded PostgreSQL server cannot start; every message names the folder or port and what to do. */
export type EmbeddedPostgresErrorCode =
  | 'no_binaries' // no PostgreSQL binaries for this platform
  | 'pglite_data' // the data folder was written by PGlite (edgehead before the real server)
  | 'other_version' // the data folder is a cluster of another PostgreSQL major version
  | 'not_a_cluster' // the data folder holds something else
  | 'already_running' // a PostgreSQL server runs on the data folder
  | 'stale_lock' // postmaster.pid names a live process that is not PostgreSQL
  | 'permission' // the server's OS user cannot reach the data folder
  | 'port_in_use'
  | 'start_failed';

/** A failure of the embedded PostgreSQL server, with a `code` to branch on. */
export class EmbeddedPostgresError extends Error {
  constructor(
    readonly code: EmbeddedPostgresErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
  }
}
