// Command-line parsing on commander. A command declares each option once (its flag, meaning, default,
// environment variable and zod schema); commander parses argv from that, answers `--help`, and names unknown
// options and commands with a suggestion. A value passes the option's schema whether it came from the flag or
// from the variable, so both obey one rule.
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import type { CliEnv, CliVariable } from './env.ts';
import { CliError } from './errors.ts';

/** One option of a command: how it is written, what it means, and the schema its value must pass. */
export interface Flag<S extends z.ZodType = z.ZodType> {
  /** As commander writes it: `-d, --dataset <id|name>`, `--json`, `--no-wait`. */
  flags: string;
  description: string;
  schema: S;
  /** The value when neither the flag nor the variable is given (shown in --help). */
  default?: unknown;
  /** How the value is found when not given, for --help, where that is no single value. */
  fallback?: string;
  /** The variable the option falls back to before its default. */
  env?: CliVariable;
  /** The heading it is listed under in --help (default: "Options:"). */
  group?: string;
}

/** Declarations of a command's options, by the name of their value in the parsed options. */
export type Flags = Record<string, Flag>;

/** The parsed options of `flags`. */
export type Values<F extends Flags> = { [K in keyof F]: z.output<F[K]['schema']> };

/**
 * Declares an option; its key in `Flags` is commander's attribute name (`--feature-set` -> `featureSet`,
 * `--no-wait` -> `wait`). Enum schemas list their choices in --help.
 * @example flag('--epochs <n>', 'epochs to train', intFlag(1, 10000).optional())
 */
export function flag<S extends z.ZodType>(
  flags: string,
  description: string,
  schema: S,
  more: Omit<Flag, 'flags' | 'description' | 'schema'> = {},
): Flag<S> {
  return { flags, description, schema, ...more };
}

/** A command: its name, what it does, its positional arguments and options, and what runs it. */
export interface CommandSpec<F extends Flags = Flags> {
  name: string;
  /** One line, in the list of commands. */
  summary: string;
  /** Text under the usage line of its --help (default: the summary). */
  description?: string;
  /** Positional arguments as commander writes them (`<dir>`, `[alias]`, `<files...>`) and their meaning. */
  arguments?: readonly (readonly [string, string])[];
  options: F;
  /** Command lines shown under "Examples:" in its --help. */
  examples?: readonly string[];
  /** Runs the command with its parsed options and positional arguments; resolves with the exit code. */
  run(options: Values<F>, args: string[], env: CliEnv): Promise<number>;
}

/** Commands under one name (`edgehead datasets create|list|show|rm`). */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: readonly (CommandSpec | CommandGroup)[];
}

/** Types a command declaration (its options type the parsed options `run` receives). */
export function defineCommand<F extends Flags>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

/** A string flag holding an integer in [min, max] (e.g. `--epochs 30`). */
export const intFlag = (min = 1, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** A string flag holding a port number. */
export const portFlag = intFlag(1, 65535);

/** A string flag holding a number that must then pass `schema` (e.g. a range from the contracts). */
export const numberFlag = <S extends z.ZodType<number, number>>(schema: S) =>
  z.coerce.number().refine(Number.isFinite, 'expected a finite number').pipe(schema);

/** The --help heading of the options every command shares. */
export const COMMON_GROUP = 'Common options:';

const HELP = 'show this help';

/** A one-line summary as the sentence under a usage line. */
const sentence = (summary: string) => `${summary.charAt(0).toUpperCase()}${summary.slice(1)}.`;

/** An option carrying the variable it falls back to, for --help. */
class EnvOption extends Option {
  variable: CliVariable | undefined;
}

/** The choices of an enum schema (also when optional or defaulted), for commander to check and list. */
function enumValues(schema: z.ZodType): string[] | undefined {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  return inner instanceof z.ZodEnum ? inner.options.map(String) : undefined;
}

function toOption(f: Flag): EnvOption {
  const option = new EnvOption(f.flags, f.description);
  const choices = enumValues(f.schema);
  if (choices) option.choices(choices);
  if (f.default !== undefined) option.default(f.default);
  if (f.fallback) option.defaultValueDescription = f.fallback;
  if (f.group) option.helpGroup(f.group);
  option.variable = f.env;
  return option;
}

/** An option's line in --help: its meaning, then its choices, default and variable. */
function describeOption(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`one of ${option.argChoices.join(', ')}`);
  const takesValue = option.required || option.optional;
  if (option.defaultValueDescription) extra.push(`default: ${option.defaultValueDescription}`);
  else if (takesValue && option.defaultValue !== undefined)
    extra.push(`default: ${String(option.defaultValue)}`);
  if (option instanceof EnvOption && option.variable) extra.push(`env: ${option.variable}`);
  return extra.length ? `${option.description} (${extra.join('; ')})` : option.description;
}

/** The options of `command` from their flags, else their variables, else their defaults, validated. */
function parseValues<F extends Flags>(flags: F, command: Command, env: CliEnv): Values<F> {
  const raw: Record<string, unknown> = {};
  const fromEnv = new Set<string>();
  for (const [key, f] of Object.entries(flags)) {
    const variable = f.env ? env[f.env] : undefined;
    if (command.getOptionValueSource(key) !== 'cli' && variable !== undefined) {
      raw[key] = variable;
      fromEnv.add(key);
    } else raw[key] = command.getOptionValue(key);
  }
  const schema = z.object(Object.fromEntries(Object.entries(flags).map(([k, f]) => [k, f.schema])));
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data as Values<F>;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0]);
    const f = flags[key];
    const name = f?.flags.split(/[ ,]+/).find((part) => part.startsWith('--')) ?? key;
    if (fromEnv.has(key)) return `${f?.env}=${JSON.stringify(raw[key])} (for ${name}): ${issue.message}`;
    if (raw[key] === undefined) return `${f?.flags.replace(/^-\w, /, '') ?? key} is required`;
    return `${name} ${JSON.stringify(raw[key])}: ${issue.message}`;
  });
  // a bad variable is a configuration error (exit 3), a bad flag a usage error (exit 2)
  const code = parsed.error.issues.some((issue) => fromEnv.has(String(issue.path[0]))) ? 'config' : 'usage';
  throw new CliError(code, problems.join('; '), { issues: parsed.error.issues });
}

/** Adds a command (or a group of them) under `parent`; `ran` receives the exit code of the one that ran. */
function addCommand(
  parent: Command,
  spec: CommandSpec | CommandGroup,
  env: CliEnv,
  ran: (code: number) => void,
): void {
  const command = parent.command(spec.name).summary(spec.summary);
  if ('commands' in spec) {
    command.description(sentence(spec.summary)).helpOption('-h, --help', HELP);
    for (const sub of spec.commands) addCommand(command, sub, env, ran);
    return;
  }
  command.description(spec.description ?? sentence(spec.summary));
  for (const [name, description] of spec.arguments ?? []) command.argument(name, description);
  command.addHelpOption(new Option('-h, --help', HELP).helpGroup(COMMON_GROUP));
  // the command's own options first, then the shared groups
  const entries = Object.entries(spec.options).sort(([, a], [, b]) => Number(!!a.group) - Number(!!b.group));
  for (const [key, f] of entries) {
    const option = toOption(f);
    if (option.attributeName() !== key)
      throw new Error(
        `edgehead ${spec.name}: ${f.flags} is declared as ${key}, not ${option.attributeName()}`,
      );
    command.addOption(option);
  }
  if (spec.examples?.length)
    command.addHelpText('after', `\nExamples:\n${spec.examples.map((line) => `  ${line}`).join('\n')}`);
  command.action(async (...params: unknown[]) => {
    const self = params.at(-1) as Command;
    ran(await spec.run(parseValues(spec.options, self, env), self.args, env));
  });
}

/** The program: `edgehead` and every command under it, with edgehead's help layout. */
function buildProgram(
  description: string,
  commands: readonly (CommandSpec | CommandGroup)[],
  env: CliEnv,
  ran: (code: number) => void,
): Command {
  const program = new Command('edgehead')
    .description(description)
    .exitOverride()
    .configureOutput({ outputError: () => undefined }) // the caller prints errors, in its format
    .configureHelp({ optionDescription: describeOption, sortSubcommands: false })
    .helpOption('-h, --help', HELP)
    .helpCommand('help [command]', 'show the help of a command');
  for (const spec of commands) addCommand(program, spec, env, ran);
  return program;
}

/** The command path `argv` names, for messages: `edgehead datasets create`, or `edgehead` alone. */
export function commandPath(
  commands: readonly (CommandSpec | CommandGroup)[],
  argv: readonly string[],
): string {
  const names = ['edgehead'];
  let level: readonly (CommandSpec | CommandGroup)[] = commands;
  for (const word of argv) {
    const next = level.find((c) => c.name === word);
    if (!next) break;
    names.push(word);
    if (!('commands' in next)) break;
    level = next.commands;
  }
  return names.join(' ');
}

/**
 * Parses `argv` against `commands` and runs the command it names; resolves with its exit code. `--help`
 * (anywhere) prints that command's help and resolves with 0; a usage error is a `CliError('usage')` naming
 * the unknown option or command, with commander's suggestion.
 */
export async function runCommands(
  description: string,
  commands: readonly (CommandSpec | CommandGroup)[],
  argv: readonly string[],
  env: CliEnv,
): Promise<number> {
  let code = 0;
  const program = buildProgram(description, commands, env, (ranCode) => {
    code = ranCode;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    const commander = error;
    if (commander.code === 'commander.helpDisplayed' || commander.code === 'commander.version') return 0;
    // `edgehead` or `edgehead datasets` alone: commander printed the help to stderr
    if (commander.code === 'commander.help') return commander.exitCode === 0 ? 0 : 2;
    const message = commander.message
      .replace(/^error: /, '')
      .replace(/\n\(Did you mean (.*)\)$/, ' (did you mean $1)')
      .replace(/\.$/, '');
    throw new CliError('usage', `${message}; see \`${commandPath(commands, argv)} --help\``, undefined, {
      cause: error,
    });
  }
}

/**
 * Parses `argv` for one command as `runCommands` would, without running it.
 * @example const { options } = await parseCommand(trainCommand, ['--dataset', 'd', '--epochs', '3'], env);
 */
export async function parseCommand<F extends Flags>(
  spec: CommandSpec<F>,
  argv: readonly string[],
  env: CliEnv,
): Promise<{ options: Values<F>; args: string[] }> {
  const parsed: { value?: { options: Values<F>; args: string[] } } = {};
  const capture: CommandSpec<F> = {
    ...spec,
    run: async (options, args) => {
      parsed.value = { options, args };
      return 0;
    },
  };
  await runCommands('', [capture], [spec.name, ...argv], env);
  if (!parsed.value) throw new CliError('usage', `edgehead ${spec.name}: nothing parsed (was --help given?)`);
  return parsed.value;
}
