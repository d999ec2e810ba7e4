import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

/** Machine-readable error codes shared by every edgehead HTTP API. */
export const errorCode = z.enum([
  'bad_request',
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCode>;

/** One validation failure: the field by its path (`config.epochs`, `features.0`) and what is wrong with it. */
export const fieldIssue = z.object({ field: z.string(), message: z.string() });
export type FieldIssue = z.infer<typeof fieldIssue>;

/**
 * The `details` of every error, always an object: `field` names the offending field, parameter or header,
 * `issues` lists every validation failure, `reason` is the machine-readable cause underneath (a backbone or
 * head error code); other keys carry the values involved (`expected`, `actual`, `max`, `variable`, ...).
 */
export const errorDetails = z.looseObject({
  field: z.string().optional(),
  issues: z.array(fieldIssue).optional(),
  reason: z.string().optional(),
});
export type ErrorDetails = z.infer<typeof errorDetails>;

/** The one JSON error shape: `{ "error": { "code", "message", "details"? } }`. */
export const errorBody = z.object({
  error: z.object({
    code: errorCode,
    message: z.string(),
    details: errorDetails.optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBody>;

/** Builds an error body; `details` usually names the offending field. */
export function errorJson(code: ErrorCode, message: string, details?: ErrorDetails): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
  500: 'internal',
  502: 'unavailable',
  503: 'unavailable',
};

/** The error code of an HTTP status: its own for the known ones, `bad_request` or `internal` for the rest. */
export function errorCodeOf(status: number): ErrorCode {
  return CODE_OF_STATUS[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

/**
 * An HTTP error with the contract's code, details and extra headers (e.g. `retry-after` on a 429); the
 * services' one error handler renders it. Library errors stay library errors: each service maps them to
 * an ApiError where it answers.
 * @example throw new ApiError(404, 'not_found', `dataset 'x' not found`, { field: 'dataset' });
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** Headers sent with the error. */
  readonly headers: Record<string, string> | undefined;

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.headers = options?.headers;
  }

  /** The error body it answers with. */
  toJSON(): ErrorBody {
    return errorJson(this.code, this.message, this.details);
  }
}

/** The field a zod issue names by its path; an unknown key is named by itself. */
function fieldOf(issue: z.core.$ZodIssue): string {
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const path = keys.length === 1 ? [...issue.path, keys[0] as string] : issue.path;
  return path.map(String).join('.') || '(body)';
}

/** Turns zod issues into `details`: the first offending field and every issue by its field. */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetails {
  const list = issues.map((issue) => ({ field: fieldOf(issue), message: issue.message }));
  return list[0] === undefined ? { issues: list } : { field: list[0].field, issues: list };
}

/**
 * 400 `validation_failed` for zod issues of `what` (`body`, `query`, `path`, ...), naming the first field.
 * @example throw validationFailed('query', result.error.issues)
 */
export function validationFailed(what: string, issues: readonly z.core.$ZodIssue[]): ApiError {
  const details = issuesToDetails(issues);
  const first = details.issues?.[0];
  return new ApiError(
    400,
    'validation_failed',
    `invalid ${what}${first ? `: ${first.field}: ${first.message}` : ''}`,
    details,
  );
}
