import { type Db, fromSql } from '@edgehead/db';
import postgres from 'postgres';

/** A database client for one request, and how to let it go. */
export interface RequestDatabase {
  db: Db;
  /**
   * In a Worker with postgres.js's own socket, nothing: the runtime closes the request's sockets when the
   * invocation ends, and `end()` there leaves an unhandled "Stream was cancelled" rejection behind
   * (porsager/postgres#1202; Cloudflare's Hyperdrive examples dropped `end()` for this). With a `socket`
   * option, and outside workerd (the dashboard API under Node in tests), it closes the connection, after
   * the response when there is an ExecutionContext.
   */
  release(): Promise<void>;
}

/** workerd identifies itself so (`navigator.userAgent`, not in this project's Workers types). */
const IN_WORKERS =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';

type ExecutionContextGetter = () => { waitUntil(promise: Promise<unknown>): void };

/** How `openDatabase` connects and lets go. */
export interface OpenOptions {
  /** The request's ExecutionContext: outside workerd the client is closed through its waitUntil. */
  executionCtx?: ExecutionContextGetter;
  /** Bounds how long an unreachable database can hold the caller up (default 30 s). */
  connectTimeoutS?: number;
  /**
   * postgres.js's `socket` option (`workerd-socket.ts`): a socket that closes without an unhandled
   * rejection, so that the client is ended in workerd too instead of being left to the runtime.
   */
  socket?: (options: { host: string[]; port: number[] }) => unknown;
}

/** A postgres.js client through Hyperdrive for one request or alarm (a Worker may not share sockets across requests). */
export function openDatabase(connectionString: string, options: OpenOptions = {}): RequestDatabase {
  const sql = postgres(connectionString, {
    max: 1,
    // no type catalog round trip on each new connection (Cloudflare's Hyperdrive example does the same)
    fetch_types: false,
    // a client lives for one request, so a named statement would never be reused (Hyperdrive accepts both)
    prepare: false,
    connect_timeout: options.connectTimeoutS ?? 30,
    onnotice: () => undefined,
    // not in postgres.js's types, but a documented-in-source option of its connection
    ...(options.socket ? ({ socket: options.socket } as object) : {}),
  });
  const release = async () => {
    if (IN_WORKERS && !options.socket) return;
    const closing = sql.end({ timeout: 5 });
    let ctx: ReturnType<ExecutionContextGetter> | undefined;
    try {
      ctx = options.executionCtx?.();
    } catch {
      ctx = undefined; // Hono's getter throws outside a request
    }
    if (ctx) ctx.waitUntil(closing);
    else await closing;
  };
  return { db: fromSql(sql), release };
}
