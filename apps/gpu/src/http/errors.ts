import { type BackboneErrorCode, isBackboneError } from '@edgehead/backbones';
import { ApiError, type ErrorCode, type ErrorDetails, validationFailed } from '@edgehead/contracts';
import { errorHandler } from '@edgehead/contracts/api';
import { DbError, isConnectionError, sqlState } from '@edgehead/db';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError } from 'zod';
import { ExtractorRequestError } from '../extractors/registry.ts';

/** 413 with the limit that was crossed in `details`. */
export function tooLarge(message: string, details: ErrorDetails): ApiError {
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

/** The libraries' errors as the HTTP errors this service answers with; undefined for unexpected ones. */
function toApiError(err: unknown): ApiError | undefined {
  const cause = { cause: err };
  if (err instanceof DbError) {
    const [status, code] = DB_STATUS[err.code];
    return new ApiError(status, code, err.message, err.details, cause);
  }
  if (err instanceof ExtractorRequestError) {
    const details =
      err.variable === undefined ? { field: err.field } : { field: err.field, variable: err.variable };
    return new ApiError(400, 'bad_request', err.message, details, cause);
  }
  if (isBackboneError(err)) {
    const [status, code] = BACKBONE_STATUS[err.code];
    return new ApiError(status, code, err.message, { reason: err.code, ...err.details }, cause);
  }
  if (err instanceof ZodError) return validationFailed('request', err.issues);
  // class 22 (data exception): a value Postgres cannot take, e.g. a NUL byte in a name, from the request
  if (sqlState(err)?.startsWith('22'))
    return new ApiError(400, 'bad_request', 'a request value cannot be stored (invalid characters or range)');
  if (isConnectionError(err)) {
    return new ApiError(503, 'unavailable', 'the database is unreachable; retry shortly', undefined, {
      ...cause,
      headers: { 'retry-after': '5' },
    });
  }
  return undefined;
}

/** The service's one error handler: every failure as `{ error: { code, message, details } }`. */
export const onError = errorHandler(toApiError);
