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
