import { type CommandGroup, type CommandSpec, commandPath, runCommands } from './args.ts';
import { datasets } from './commands/datasets.ts';
import { demo } from './commands/demo.ts';
import { activate, classify, keys, models, rollback } from './commands/edge.ts';
import { finetune } from './commands/finetune.ts';
import { extract, ingest, publish, runs, train } from './commands/gpu.ts';
import { openapi } from './commands/openapi.ts';
import { up } from './commands/up.ts';
import { type CliEnv, parseCliEnv } from './env.ts';
import { CliError, exitCodeOf } from './errors.ts';

/** Every command, in the order `edgehead --help` lists them. */
export const COMMANDS: readonly (CommandSpec | CommandGroup)[] = [
  up,
  datasets,
  ingest,
  extract,
  train,
  finetune,
  runs,
  publish,
  activate,
  rollback,
  models,
  keys,
  classify,
  demo,
  openapi,
];

/** What `edgehead --help` says above the list of commands. */
export const DESCRIPTION = [
  'Transfer-learning image classification: a gpu service extracts features and trains heads, the edge ' +
    'classifies with them. `edgehead up` runs the whole system; the other commands drive it.',
  'URLs and tokens come from the flags, then the EDGEHEAD_* variables, then <home>/config.json (written by ' +
    '`edgehead up`). Exit codes: 0 ok, 1 failed, 2 usage, 3 configuration, 4 port in use, 5 a service is ' +
    'unreachable, 6 a service answered an error. `edgehead <command> --help` lists its options.',
].join('\n\n');

/** Runs the CLI on `argv` (without node and the script); resolves with the exit code, printing errors. */
export async function runCli(argv: readonly string[], env: CliEnv = parseCliEnv()): Promise<number> {
  const where = commandPath(COMMANDS, argv);
  try {
    return await runCommands(DESCRIPTION, COMMANDS, argv, env);
  } catch (error) {
    if (error instanceof CliError) {
      if (argv.includes('--json'))
        process.stdout.write(
          `${JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } })}\n`,
        );
      process.stderr.write(`${where}: ${error.message}\n`);
      return exitCodeOf(error.code);
    }
    const errno = error as NodeJS.ErrnoException;
    if (errno.code === 'ENOENT' || errno.code === 'EACCES' || errno.code === 'EISDIR') {
      process.stderr.write(
        `${where}: ${errno.code === 'ENOENT' ? 'no such file' : 'cannot read'}: ${errno.path ?? errno.message}\n`,
      );
      return exitCodeOf('usage');
    }
    if (error instanceof Error && error.name === 'ZodError') {
      process.stderr.write(`${where}: invalid input: ${error.message}\n`);
      return exitCodeOf('usage');
    }
    process.stderr.write(`${where}: unexpected error: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}
