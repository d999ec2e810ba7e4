// Waiting out a lost database connection (`isConnectionError` of @edgehead/db tells it from a failed statement).
import { isConnectionError } from '@edgehead/db';

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
