/** Base of the data layer's typed errors; `code` maps to an HTTP status at the service edge. */
export class DbError extends Error {
  constructor(
    readonly code: 'not_found' | 'invalid_input' | 'conflict',
    message: string,
    readonly details?: Record<string, unknown>,
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
  constructor(message: string, details?: Record<string, unknown>) {
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
