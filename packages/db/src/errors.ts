import type { ErrorDetails } from '@edgehead/contracts';

/** Base of the data layer's typed errors; `code` maps to an HTTP status at the service edge. */
export class DbError extends Error {
  constructor(
    readonly code: 'not_found' | 'invalid_input' | 'conflict',
    message: string,
    readonly details?: ErrorDetails,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A referenced row does not exist, e.g. `dataset 'x' not found`. */
export class NotFoundError extends DbError {
  constructor(entity: string, key: string) {
    super('not_found', `${entity} '${key}' not found`, { entity, key });
  }
}

/** Input that the schema would reject, named by field (e.g. a label outside the dataset's classes). */
export class InvalidInputError extends DbError {
  constructor(field: string, message: string) {
    super('invalid_input', `${field}: ${message}`, { field });
  }
}

/** A uniqueness rule would be broken, e.g. a dataset name already taken. */
export class ConflictError extends DbError {
  constructor(message: string, details?: ErrorDetails) {
    super('conflict', message, details);
  }
}

/** True for Postgres' unique_violation (SQLSTATE 23505), also when drizzle wrapped the driver's error. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e = error as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return true;
  }
  return false;
}

/**
 * postgres.js codes of a connection that broke or never opened (Node and workerd sockets), and the Postgres
 * states that say so.
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
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

/** The `code` of `err` or of its causes (drizzle wraps the driver's error) that passes `test`. */
function codeOf(err: unknown, test: (code: string) => boolean): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The code saying the database connection was lost (not that a statement failed), or undefined. */
export function connectionErrorCode(err: unknown): string | undefined {
  return codeOf(err, (code) => CONNECTION_CODES.has(code));
}

/** True when `err` (or its cause) says the database connection was lost, not that the statement failed. */
export function isConnectionError(err: unknown): boolean {
  return connectionErrorCode(err) !== undefined;
}

/** The SQLSTATE of a Postgres error in `err` or its causes. */
export function sqlState(err: unknown): string | undefined {
  return codeOf(err, (code) => /^[0-9A-Z]{5}$/.test(code));
}
