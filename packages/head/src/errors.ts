import type { ErrorDetails } from '@edgehead/contracts';

/** Why a head artifact or a runtime call was refused. */
export type HeadErrorCode =
  | 'bad_manifest'
  | 'checksum_mismatch'
  | 'size_mismatch'
  | 'bad_topology'
  | 'unsupported_layer'
  | 'shape_mismatch'
  | 'input_mismatch'
  | 'bad_input';

/** Error of packages/head: `code` says what failed, `details` names the file/layer and expected vs actual. */
export class HeadError extends Error {
  override readonly name = 'HeadError';
  constructor(
    readonly code: HeadErrorCode,
    message: string,
    readonly details?: ErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
