import type { z } from 'zod';
/** Why a training call failed. */
export type TrainingErrorCode = 'invalid_input' | 'invalid_config' | 'backend_unavailable' | 'worker_failed';

/** A training library error: `code` for callers, a message naming the value received and the expectation. */
export class TrainingError extends Error {
  override readonly name = 'TrainingError';
  constructor(
    readonly code: TrainingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `config` parsed by `schema`; TrainingError `invalid_config` naming the first offending field. */
export function parseConfig<T>(schema: z.ZodType<T>, config: unknown): T {
  const parsed = schema.safeParse(config);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new TrainingError(
    'invalid_config',
    `config.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    {
      cause: parsed.error,
    },
  );
}
