import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CliError } from './errors.ts';

/** Option declarations as `util.parseArgs` takes them. */
export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Options every command accepts (where the services are and how to print). */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  home: { type: 'string' },
  'gpu-url': { type: 'string' },
  'edge-url': { type: 'string' },
  'gpu-token': { type: 'string' },
  'admin-token': { type: 'string' },
  'api-key': { type: 'string' },
} as const satisfies OptionSpec;

/** Parsed arguments of one command: validated options and the positionals. */
export interface Parsed<T> {
  options: T;
  positionals: string[];
}

/**
 * Parses `argv` with node's `util.parseArgs` (strict: unknown flags are errors), then validates the
 * options with `schema` (zod coerces numbers); every failure is a `CliError('usage')` naming the flag.
 * @example parseCommand(['--epochs', '3'], { epochs: { type: 'string' } }, z.object({ epochs: z.coerce.number() }))
 */
export function parseCommand<S extends z.ZodType>(
  argv: readonly string[],
  spec: OptionSpec,
  schema: S,
  positionals: { min?: number; max?: number; usage?: string } = {},
): Parsed<z.infer<S>> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...COMMON_OPTIONS, ...spec },
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    throw new CliError('usage', (cause as Error).message, undefined, { cause });
  }
  const count = parsed.positionals.length;
  const usage = positionals.usage ? ` (usage: ${positionals.usage})` : '';
  if (count < (positionals.min ?? 0)) {
    throw new CliError('usage', `expected at least ${positionals.min} argument(s), got ${count}${usage}`);
  }
  if (positionals.max !== undefined && count > positionals.max) {
    throw new CliError(
      'usage',
      `expected at most ${positionals.max} argument(s), got ${count}: ${parsed.positionals.join(' ')}${usage}`,
    );
  }
  const result = schema.safeParse(parsed.values);
  if (!result.success) {
    const what = result.error.issues
      .map((issue) => {
        const flag = issue.path.map(String).join('.');
        const received = flag ? (parsed.values as Record<string, unknown>)[flag] : undefined;
        return `--${flag || '(options)'}${received === undefined ? '' : ` ${JSON.stringify(received)}`}: ${issue.message}`;
      })
      .join('; ');
    throw new CliError('usage', `invalid option ${what}`, { issues: result.error.issues });
  }
  return { options: result.data, positionals: parsed.positionals };
}

/** A string flag holding a positive integer (e.g. `--epochs 30`). */
export const intFlag = (min = 1, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** A string flag holding a port number. */
export const portFlag = z.coerce.number().int().min(1).max(65535);

/** A string flag holding a positive finite number (e.g. `--learning-rate 2e-5`). */
export const numberFlag = z.coerce.number().refine(Number.isFinite, 'expected a finite number');

/** The options every command shares, validated. */
export const commonSchema = z.object({
  json: z.boolean().default(false),
  help: z.boolean().default(false),
  home: z.string().min(1).optional(),
  'gpu-url': z.url().optional(),
  'edge-url': z.url().optional(),
  'gpu-token': z.string().min(1).optional(),
  'admin-token': z.string().min(1).optional(),
  'api-key': z.string().min(1).optional(),
});
export type CommonOptions = z.infer<typeof commonSchema>;
