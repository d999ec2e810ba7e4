import { type Db, fromSql } from '@edgehead/db';
import postgres from 'postgres';

/** A database client for one request, and how to let it go. */
export interface RequestDatabase {
  db: Db;
  /**
   * In a Worker, nothing: the runtime closes the request's sockets when the invocation ends, and
   * postgres.js's `end()` there leaves an unhandled "Stream was cancelled" rejection behind
   * (porsager/postgres#1202; Cloudflare's Hyperdrive examples dropped `end()` for this). Elsewhere (the
   * dashboard API under Node in tests) it closes the connection, after the response when there is an
   * ExecutionContext.
   */
  release(): Promise<void>;
}

/** workerd identifies itself so (`navigator.userAgent`, not in this project's Workers types). */
const IN_WORKERS =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';

type ExecutionContextGetter = () => { waitUntil(promise: Promise<unknown>): void };

/**
 * A postgres.js client through Hyperdrive for one request (a Worker may not share sockets across requests).
 * `connectTimeoutS` bounds how long an unreachable database can hold the request.
 */
export function openDatabase(
  connectionString: string,
  executionCtx: ExecutionContextGetter,
  connectTimeoutS = 30,
): RequestDatabase {
  const sql = postgres(connectionString, {
    max: 1,
    // no type catalog round trip on each new connection (Cloudflare's Hyperdrive example does the same)
    fetch_types: false,
    // a client lives for one request, so a named statement would never be reused (Hyperdrive accepts both)
    prepare: false,
    connect_timeout: connectTimeoutS,
    onnotice: () => undefined,
  });
  const release = async () => {
    if (IN_WORKERS) return;
    const closing = sql.end({ timeout: 5 });
    try {
      executionCtx().waitUntil(closing);
    } catch {
      await closing; // no ExecutionContext (Hono throws outside one)
    }
  };
  return { db: fromSql(sql), release };
}
