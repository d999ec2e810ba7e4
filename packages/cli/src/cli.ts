import { datasets } from './commands/datasets.ts';
import { demo } from './commands/demo.ts';
import { activate, classify, keys, models, rollback } from './commands/edge.ts';
import { extract, ingest, publish, runs, train } from './commands/gpu.ts';
import { openapi } from './commands/openapi.ts';
import { up } from './commands/up.ts';
import { CliError, exitCodeOf } from './errors.ts';

/** Every command: name -> handler taking the arguments after the name and resolving with an exit code. */
export const COMMANDS: Record<string, (argv: readonly string[]) => Promise<number>> = {
  up,
  datasets,
  ingest,
  extract,
  train,
  runs,
  publish,
  activate,
  rollback,
  models,
  keys,
  classify,
  demo,
  openapi,
};

export const USAGE = `edgehead <command> [options]

  up                               run the whole system (Postgres, gpu service, edge worker)
  datasets create <name> --classes a,b | list | show <id> | rm <id>
  ingest <dir> --dataset <id|name>  upload a split/class/file tree (creates the dataset when missing)
  extract --dataset <d> --backbone <name> [--weights <path|url>] [--pooling avg] [--no-wait]
  extract --dataset <d> --cancel [--backbone <name>] | extract --list [--dataset <d>]
  train --dataset <d> --backbone <name> [--preset P] [--epochs N] [--learning-rate X] ...
  runs list | show <id> | compare <a> <b>
  publish <run> --alias <alias>     publish a trained head to the edge
  activate <alias> <version> | rollback <alias> | models [alias]
  classify <image|features.bin>... --alias <alias>
  keys create [--name N]
  demo --data <dir> --backbone <name> [--weights <path|url>]
  openapi <gpu|edge>               print the OpenAPI 3.1 document of a service

Every command takes --json, --home DIR, --gpu-url, --edge-url, --gpu-token, --admin-token, --api-key
(defaults: EDGEHEAD_* environment variables, then .edgehead/config.json written by \`edgehead up\`).`;

/** Runs the CLI on `argv` (without node and the script); resolves with the exit code, printing errors. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  try {
    if (!command)
      throw new CliError('usage', `unknown command ${JSON.stringify(name)}; run \`edgehead --help\``);
    return await command(rest);
  } catch (error) {
    if (error instanceof CliError) {
      const json = rest.includes('--json');
      if (json)
        process.stdout.write(
          `${JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } })}\n`,
        );
      process.stderr.write(`edgehead ${name}: ${error.message}\n`);
      return exitCodeOf(error.code);
    }
    const errno = error as NodeJS.ErrnoException;
    if (errno.code === 'ENOENT' || errno.code === 'EACCES' || errno.code === 'EISDIR') {
      process.stderr.write(
        `edgehead ${name}: ${errno.code === 'ENOENT' ? 'no such file' : 'cannot read'}: ${errno.path ?? errno.message}\n`,
      );
      return exitCodeOf('usage');
    }
    if (error instanceof Error && error.name === 'ZodError') {
      process.stderr.write(`edgehead ${name}: invalid input: ${error.message}\n`);
      return exitCodeOf('usage');
    }
    process.stderr.write(`edgehead ${name}: unexpected error: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}
