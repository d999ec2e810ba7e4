import { ApiError } from '@edgehead/contracts';
import { errorHandler } from '@edgehead/contracts/api';
import { connectionErrorCode, DbError } from '@edgehead/db';
import { HeadError } from '@edgehead/head';

/** The libraries' errors as the HTTP errors the worker answers with; undefined for unexpected ones. */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof HeadError) {
    // an artifact that fails verification at load time is a registry fault, not the caller's
    console.error('head error', err.code, err.message);
    return new ApiError(503, 'unavailable', `model artifact refused: ${err.message}`, { reason: err.code });
  }
  if (err instanceof DbError) {
    return err.code === 'not_found'
      ? new ApiError(404, 'not_found', err.message, err.details, { cause: err })
      : new ApiError(400, 'validation_failed', err.message, err.details, { cause: err });
  }
  const code = connectionErrorCode(err);
  if (code !== undefined) {
    return new ApiError(
      503,
      'unavailable',
      `database unreachable through the HYPERDRIVE binding (${code})`,
      undefined,
      {
        cause: err,
      },
    );
  }
  return undefined;
}

/**
 * The worker's one error handler: every failure becomes `{ error: { code, message, details } }`; the stack
 * of an unexpected one goes to the worker's log only (no request headers or bodies in it).
 */
export const onError = errorHandler(toApiError);
