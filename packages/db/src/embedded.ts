import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PgliteWireServer } from './wire-server.ts';

/** Options of the embedded Postgres (PGlite served over the Postgres wire protocol). */
export interface EmbeddedPostgresOptions {
  /** Directory that keeps the data between restarts; omit for an in-memory database. */
  dataDir?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Must cover the pool sizes of every process that connects (the server refuses the rest). */
  maxConnections?: number;
}

/** A running embedded Postgres: connect to it with any Postgres client at `url`. */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  readonly code = 'embedded_postgres_failed';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
  }
}

/** Starts PGlite (kept under `dataDir`) and serves it on `host:port` so every process uses the same path. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const host = options.host ?? '127.0.0.1';
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const pglite = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  await pglite.waitReady;
  const server = new PgliteWireServer(pglite, options.maxConnections ?? 64);
  let port: number;
  try {
    port = await server.listen(host, options.port ?? 0);
  } catch (cause) {
    await pglite.close();
    const where = `${host}:${options.port ?? 0}`;
    const busy = (cause as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new EmbeddedPostgresError(
      busy
        ? `port ${where} is already in use; set EDGEHEAD_DB_PORT to a free port`
        : `cannot listen on ${where}`,
      { cause },
    );
  }
  return {
    url: `postgres://postgres@${host}:${port}/postgres`,
    port,
    async stop() {
      await server.close();
      await pglite.close();
    },
  };
}
