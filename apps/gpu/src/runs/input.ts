import { issuesToDetails } from '@edgehead/contracts';
import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../http/errors.ts';

/** Parses `value` with `schema`, or throws 400 `validation_failed` naming the first offending field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = issuesToDetails(r.error.issues);
  const first = details[0];
  throw new ApiError(
    400,
    'validation_failed',
    `invalid ${what}${first ? `: ${first.field}: ${first.message}` : ''}`,
    details.length === 1 ? first : details,
  );
}

/** The JSON body of a request, or 400 when it is not JSON. */
export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (cause) {
    throw new ApiError(
      400,
      'bad_request',
      `request body is not valid JSON: ${(cause as Error).message}`,
      { field: '(body)' },
      { cause },
    );
  }
}
