// The CLI's environment variables, read and parsed in one place (the linter keeps `process.env` out of every
// other file). Options name the variable they fall back to (args.ts); their values are validated there, by
// the option's own schema, so a flag and its variable obey one rule.
import { z } from 'zod';

/** A variable that is unset when empty (`EDGEHEAD_GPU_URL= edgehead ...` means "not given"). */
const variable = z
  .string()
  .optional()
  .transform((value) => value || undefined);

const schema = z.object({
  /** State folder (`--home`). */
  EDGEHEAD_HOME: variable,
  /** Where the services are, and the credentials (`--gpu-url`, `--edge-url`, `--gpu-token`, ...). */
  EDGEHEAD_GPU_URL: variable,
  EDGEHEAD_EDGE_URL: variable,
  EDGEHEAD_GPU_TOKEN: variable,
  EDGEHEAD_ADMIN_TOKEN: variable,
  EDGEHEAD_API_KEY: variable,
  /** Ports and database of `up` (`--gpu-port`, `--edge-port`, `--db-port`, `--database-url`). */
  EDGEHEAD_GPU_PORT: variable,
  EDGEHEAD_EDGE_PORT: variable,
  EDGEHEAD_DB_PORT: variable,
  DATABASE_URL: variable,
  /** The gpu service entry `up` runs (the container's bundle, or a test's). */
  EDGEHEAD_GPU_ENTRY: variable,
  /** The shared data folder the gpu service finds pretrained weights in; `up` points it at `../shared`. */
  EDGEHEAD_SHARED_DIR: variable,
  /** Colour off (https://no-color.org); `up` sets it for its services when its output is not a terminal. */
  NO_COLOR: variable,
});

/** A variable the CLI reads. */
export type CliVariable = keyof z.infer<typeof schema>;

/** The CLI's variables, parsed, and the whole environment the services `up` starts inherit. */
export type CliEnv = z.infer<typeof schema> & { inherited: Readonly<Record<string, string | undefined>> };

/**
 * Reads the CLI's variables from `source` (default `process.env`).
 * @example const env = parseCliEnv({ EDGEHEAD_HOME: '/srv/edgehead' });
 */
export function parseCliEnv(source: Readonly<Record<string, string | undefined>> = process.env): CliEnv {
  return { ...schema.parse(source), inherited: { ...source } };
}
