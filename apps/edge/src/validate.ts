import { issuesToDetails } from '@edgehead/contracts';
import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { z } from 'zod';
import { ApiError } from './errors.ts';

/** zValidator whose failures go through `app.onError` as 400 `validation_failed` naming each field. */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const details = issuesToDetails(result.error.issues);
      const first = details[0];
      throw new ApiError(
        400,
        'validation_failed',
        `invalid ${target}${first ? `: ${first.field}: ${first.message}` : ''}`,
        details,
      );
    }
  });
}
