// Telling a lost database connection from a failed statement, and waiting one out.

/** postgres.js codes of a connection that broke or never opened, and the Postgres classes that say so. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // admin_shutdown, crash_shutdown, cannot_connect_now; connection_exception class
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/** True when `err` (or its cause) says the database connection was lost, not that the statement failed. */
export function isConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Options of `retryOnConnectionLoss`. */
export interface ConnectionRetryOptions {
  /** Give up (rethrow the last error) after this long without a connection (default 60 s). */
  windowMs?: number;
  /** First wait between attempts, doubled up to 2 s (default 200 ms). */
  delayMs?: number;
}

/**
 * Runs `fn`, and while it fails because the database is unreachable, runs it again with backoff for up to
 * `windowMs`. Only for statements that are safe to repeat (idempotent writes, reads): a connection lost
 * after the server committed runs them twice.
 * @example await retryOnConnectionLoss(() => recordEpoch(db, runId, row));
 */
export async function retryOnConnectionLoss<T>(
  fn: () => Promise<T>,
  options: ConnectionRetryOptions = {},
): Promise<T> {
  const until = Date.now() + (options.windowMs ?? 60_000);
  let wait = options.delayMs ?? 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + wait > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, 2000);
    }
  }
}
