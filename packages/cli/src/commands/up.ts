import path from 'node:path';
import { signInLinkResponse } from '@edgehead/contracts';
import { z } from 'zod';
import { commonSchema, intFlag, parseCommand, portFlag } from '../args.ts';
import { configPath, DEFAULT_PORTS, homeDir } from '../config.ts';
import { CliError } from '../errors.ts';
import { edgeClient, ok } from '../http.ts';
import { prefixedSink } from '../up/supervisor.ts';
import { redact, startSystem } from '../up/system.ts';

export const UP_USAGE = `edgehead up [--gpu-port N] [--edge-port N] [--db-port N] [--database-url URL] [--home DIR]

Runs the whole system: Postgres (embedded under <home>/pg, or --database-url / DATABASE_URL), migrations,
the gpu service and the edge worker (wrangler dev), wired together; a crashed service is restarted
(1 s, 2 s, 4 s... at most 30 s), and one that crashes 5 times within a minute ends up. Ctrl-C stops
everything cleanly.
Ports: --gpu-port / EDGEHEAD_GPU_PORT (${DEFAULT_PORTS.gpu}), --edge-port / EDGEHEAD_EDGE_PORT (${DEFAULT_PORTS.edge}),
--db-port / EDGEHEAD_DB_PORT (${DEFAULT_PORTS.db}). --health-timeout seconds (180).`;

const spec = {
  'gpu-port': { type: 'string' },
  'edge-port': { type: 'string' },
  'db-port': { type: 'string' },
  'database-url': { type: 'string' },
  'health-timeout': { type: 'string' },
} as const;

const schema = commonSchema.extend({
  'gpu-port': portFlag.optional(),
  'edge-port': portFlag.optional(),
  'db-port': portFlag.optional(),
  'database-url': z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
    .optional(),
  'health-timeout': intFlag(1, 3600).default(180),
});

/** Resolved settings of `up` (flags > env > defaults); exported for tests. */
export function upSettings(argv: readonly string[], env: NodeJS.ProcessEnv) {
  const { options } = parseCommand(argv, spec, schema, { max: 0, usage: 'edgehead up [flags]' });
  const fromEnv = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = portFlag.safeParse(raw);
    if (!parsed.success)
      throw new CliError('usage', `${name}=${JSON.stringify(raw)}: expected a port 1-65535`);
    return parsed.data;
  };
  return {
    help: options.help,
    home: homeDir(options.home, env),
    gpuPort: options['gpu-port'] ?? fromEnv('EDGEHEAD_GPU_PORT', DEFAULT_PORTS.gpu),
    edgePort: options['edge-port'] ?? fromEnv('EDGEHEAD_EDGE_PORT', DEFAULT_PORTS.edge),
    dbPort: options['db-port'] ?? fromEnv('EDGEHEAD_DB_PORT', DEFAULT_PORTS.db),
    databaseUrl: options['database-url'] ?? (env.DATABASE_URL || null),
    healthTimeoutMs: options['health-timeout'] * 1000,
  };
}

/** The dashboard's address for the banner: a one-time sign-in link when the edge gives one. */
async function dashboardLine(edgeUrl: string, adminToken: string): Promise<string> {
  try {
    const link = await ok(edgeClient(edgeUrl, adminToken).admin['sign-in-links'].$post());
    const minutes = Math.round((Date.parse(link.expiresAt) - Date.now()) / 60_000);
    return `${link.url}  (signs you in once, within ${minutes} minutes)`;
  } catch (err) {
    return `${edgeUrl}/  (sign in with the admin token; no sign-in link: ${(err as Error).message})`;
  }
}

/** `edgehead up`: starts everything, prints where it is, and runs until Ctrl-C / SIGTERM. */
export async function up(argv: readonly string[]): Promise<number> {
  const settings = upSettings(argv, process.env);
  if (settings.help) {
    process.stdout.write(`${UP_USAGE}\n`);
    return 0;
  }
  const log = prefixedSink(process.stdout);
  let signalled: NodeJS.Signals | null = null;
  let onSignal: (signal: NodeJS.Signals) => void = (signal) => {
    signalled = signal;
  };
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    const started = Date.now();
    const system = await startSystem({ ...settings, log });
    if (signalled) {
      await system.stop();
      return 0;
    }
    const rel = (p: string) => path.relative(process.cwd(), p) || '.';
    const { config } = system;
    const banner = [
      '',
      `edgehead is up (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  gpu API     ${system.gpuUrl}      token   ${config.gpuToken}`,
      `  edge API    ${system.edgeUrl}      admin   ${config.adminToken}`,
      `                                         api key ${config.apiKey}`,
      `  dashboard   ${await dashboardLine(system.edgeUrl, config.adminToken)}`,
      `  database    ${redact(system.databaseUrl)}${system.embedded ? `  (embedded PostgreSQL, data in ${rel(path.join(settings.home, 'pg'))})` : ''}`,
      `  config      ${rel(configPath(settings.home))}  (tokens; the edgehead CLI reads it)`,
      '',
      `  try: curl -H 'authorization: Bearer ${config.gpuToken}' ${system.gpuUrl}/v1/datasets`,
      '       npx edgehead datasets list',
      'Ctrl-C stops everything.',
      '',
    ];
    for (const line of banner) log('up', line);
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      onSignal = (signal) => resolve(signal);
    });
    const outcome = await Promise.race([stopped.then((signal) => ({ signal })), system.failed]);
    if ('signal' in outcome) {
      log('up', `${outcome.signal}: shutting down`);
      onSignal = () => log('up', 'already shutting down; waiting for the services to stop');
      await system.stop();
      log('up', 'stopped; nothing was lost (data in the database and the edge storage)');
      return 0;
    }
    log(
      'up',
      `${outcome.service} keeps crashing (${outcome.crashes} times within a minute); stopping the rest`,
    );
    await system.stop();
    throw new CliError(
      'failed',
      `${outcome.service} crashed ${outcome.crashes} times within a minute; last exit ${outcome.status}, ` +
        `its last lines:\n${outcome.tail.map((l) => `  ${l}`).join('\n')}`,
    );
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}
