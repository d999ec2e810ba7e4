import { type BackboneErrorCode, isBackboneError } from '@edgehead/backbones';
import { type ErrorCode, errorJson, issuesToDetails } from '@edgehead/contracts';
import { DbError } from '@edgehead/db';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError } from 'zod';
import { ExtractorRequestError } from '../extractors/registry.ts';
import { isConnectionError } from '../queue/connection.ts';

/** The SQLSTATE of a Postgres error in `err` or its causes (drizzle wraps postgres.js errors). */
function sqlState(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** An error with the HTTP status and contract code it answers with. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** 413 with the limit that was crossed in `details`. */
export function tooLarge(message: string, details: Record<string, unknown>): ApiError {
  return new ApiError(413, 'payload_too_large', message, details);
}

const BACKBONE_STATUS: Record<BackboneErrorCode, [ContentfulStatusCode, ErrorCode]> = {
  invalid_config: [400, 'bad_request'],
  unknown_backbone: [400, 'bad_request'],
  invalid_input: [400, 'bad_request'],
  // A fine-tuning request's `unfreeze` names a layer the backbone lacks, or one below frozen layers.
  unknown_layer: [400, 'bad_request'],
  layer_not_in_top: [400, 'bad_request'],
  not_an_image: [415, 'unsupported_media_type'],
  corrupt_image: [400, 'bad_request'],
  image_too_large: [413, 'payload_too_large'],
  // The service's weights configuration or machine is at fault, not the request.
  weights_not_found: [503, 'unavailable'],
  weights_corrupt: [503, 'unavailable'],
  weights_truncated: [503, 'unavailable'],
  weights_missing_layer: [503, 'unavailable'],
  weights_shape_mismatch: [503, 'unavailable'],
  download_failed: [503, 'unavailable'],
  checksum_mismatch: [503, 'unavailable'],
  insecure_url: [400, 'bad_request'],
  backend_unavailable: [503, 'unavailable'],
  worker_failed: [503, 'unavailable'],
};

const DB_STATUS = {
  not_found: [404, 'not_found'],
  invalid_input: [400, 'validation_failed'],
  conflict: [409, 'conflict'],
} as const satisfies Record<DbError['code'], [ContentfulStatusCode, ErrorCode]>;

function statusCode(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  return status >= 500 ? 'internal' : 'bad_request';
}

/** Maps every error to `{ error: { code, message, details? } }`; unexpected ones log and answer 500. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return c.json(errorJson(err.code, err.message, err.details), err.status);
  if (err instanceof ZodError) {
    return c.json(errorJson('validation_failed', 'invalid request', issuesToDetails(err.issues)), 400);
  }
  if (err instanceof DbError) {
    const [status, code] = DB_STATUS[err.code];
    return c.json(errorJson(code, err.message, err.details), status);
  }
  if (err instanceof ExtractorRequestError) {
    const details =
      err.variable === undefined ? { field: err.field } : { field: err.field, variable: err.variable };
    return c.json(errorJson('bad_request', err.message, details), 400);
  }
  if (isBackboneError(err)) {
    const [status, code] = BACKBONE_STATUS[err.code];
    return c.json(errorJson(code, err.message, { reason: err.code, ...err.details }), status);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    return c.json(errorJson(statusCode(status), err.message || `HTTP ${status}`), status);
  }
  // class 22 (data exception): a value Postgres cannot take, e.g. a NUL byte in a name, from the request
  if (sqlState(err)?.startsWith('22')) {
    return c.json(
      errorJson('bad_request', 'a request value cannot be stored (invalid characters or range)'),
      400,
    );
  }
  if (isConnectionError(err)) {
    c.header('retry-after', '5');
    return c.json(errorJson('unavailable', 'the database is unreachable; retry shortly'), 503);
  }
  console.error(`${c.req.method} ${c.req.path} failed:`, err);
  return c.json(errorJson('internal', 'internal error'), 500);
}
