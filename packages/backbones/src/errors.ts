import type { ErrorDetails } from '@edgehead/contracts';

/** Machine-readable reasons a backbone operation failed. */
export type BackboneErrorCode =
  | 'invalid_config'
  | 'unknown_backbone'
  | 'weights_not_found'
  | 'weights_corrupt'
  | 'weights_truncated'
  | 'weights_missing_layer'
  | 'weights_shape_mismatch'
  | 'download_failed'
  | 'checksum_mismatch'
  | 'insecure_url'
  | 'not_an_image'
  | 'corrupt_image'
  | 'image_too_large'
  | 'invalid_input'
  | 'unknown_layer'
  | 'layer_not_in_top'
  | 'backend_unavailable'
  | 'worker_failed';

/** Every error this package throws on purpose; `code` says why, the message names value and expectation. */
export class BackboneError extends Error {
  override readonly name = 'BackboneError';
  readonly code: BackboneErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(
    code: BackboneErrorCode,
    message: string,
    options?: { cause?: unknown; details?: ErrorDetails },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is a BackboneError, optionally with the given code. */
export function isBackboneError(err: unknown, code?: BackboneErrorCode): err is BackboneError {
  return err instanceof BackboneError && (code === undefined || err.code === code);
}

/** Formats a shape the way the messages print it: `[3,3,512,512]`. */
export function shapeString(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(',')}]`;
}
