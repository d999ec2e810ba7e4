import { type ErrorCode, errorJson } from '@edgehead/contracts';
import { HeadError } from '@edgehead/head';
import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** An HTTP error with the contract's code, details and extra headers; `app.onError` renders it. */
export class ApiError extends HTTPException {
  /** Headers sent with the error (e.g. `retry-after` on a 429). */
  readonly headers: Record<string, string> | undefined;

  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(status, { message, cause: options?.cause });
    this.headers = options?.headers;
  }
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

/** The one error handler: every failure becomes `{ error: { code, message, details } }`, never a stack. */
export const onError: ErrorHandler = (err, c) => {
  if (err instanceof ApiError)
    return c.json(errorJson(err.code, err.message, err.details), err.status, err.headers);
  if (err instanceof HeadError) {
    // an artifact that fails verification at load time is a registry fault, not the caller's
    console.error('head error', err.code, err.message);
    return c.json(
      errorJson('unavailable', `model artifact refused: ${err.message}`, { code: err.code }),
      503,
    );
  }
  if (err instanceof HTTPException) {
    const code = STATUS_CODES[err.status] ?? (err.status >= 500 ? 'internal' : 'bad_request');
    return c.json(errorJson(code, err.message || code), err.status);
  }
  // the stack goes to the worker's log only (no request headers or bodies in it); the caller gets no detail
  console.error('unhandled error', err instanceof Error ? (err.stack ?? err.message) : typeof err);
  return c.json(errorJson('internal', 'internal error'), 500);
};
