/** Codes of CLI failures; each maps to an exit status (`exitCodeOf`). */
export type CliErrorCode =
  | 'usage' // bad arguments: exit 2
  | 'config' // missing/invalid configuration or tokens: exit 3
  | 'port_in_use' // a port `up` needs is taken: exit 4
  | 'unreachable' // a service cannot be reached: exit 5
  | 'api' // a service answered with an error: exit 6
  | 'failed'; // anything else that went wrong (a run failed, a child crashed): exit 1

const EXIT: Record<CliErrorCode, number> = {
  usage: 2,
  config: 3,
  port_in_use: 4,
  unreachable: 5,
  api: 6,
  failed: 1,
};

/** An expected failure: printed as one clear line (no stack), exits with `exitCodeOf(code)`. */
export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The process exit status of a CLI error code. */
export function exitCodeOf(code: CliErrorCode): number {
  return EXIT[code];
}
