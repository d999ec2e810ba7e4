import path from 'node:path';
import { z } from 'zod';
import { defineCommand, flag, intFlag, portFlag, type Values } from '../args.ts';
import { homeOptions, outputOptions } from '../common-options.ts';
import { configPath, DEFAULT_PORTS, homeDir } from '../config.ts';
import type { CliEnv } from '../env.ts';
import { CliError } from '../errors.ts';
import { edgeClient, ok } from '../http.ts';
import { prefixedSink } from '../up/supervisor.ts';
import { redact, startSystem } from '../up/system.ts';

const upOptions = {
  ...outputOptions,
  ...homeOptions,
  gpuPort: flag('--gpu-port <port>', 'port of the gpu service', portFlag, {
    default: DEFAULT_PORTS.gpu,
    env: 'EDGEHEAD_GPU_PORT',
  }),
  edgePort: flag('--edge-port <port>', 'port of the edge worker (and the dashboard)', portFlag, {
    default: DEFAULT_PORTS.edge,
    env: 'EDGEHEAD_EDGE_PORT',
  }),
  dbPort: flag('--db-port <port>', 'port of the embedded PostgreSQL', portFlag, {
    default: DEFAULT_PORTS.db,
    env: 'EDGEHEAD_DB_PORT',
  }),
  databaseUrl: flag(
    '--database-url <url>',
    'a PostgreSQL server to use instead of the embedded one',
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
      .optional(),
    { env: 'DATABASE_URL', fallback: 'the embedded PostgreSQL under <home>/pg' },
  ),
  healthTimeout: flag(
    '--health-timeout <seconds>',
    'how long each service may take to answer its health check',
    intFlag(1, 3600),
    { default: 180 },
  ),
};

/** Resolved settings of `up` from its options (flags > variables > defaults); exported for tests. */
export function upSettings(options: Values<typeof upOptions>) {
  return {
    home: homeDir(options.home),
    gpuPort: options.gpuPort,
    edgePort: options.edgePort,
    dbPort: options.dbPort,
    databaseUrl: options.databaseUrl ?? null,
    healthTimeoutMs: options.healthTimeout * 1000,
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
export const up = defineCommand({
  name: 'up',
  summary: 'run the whole system: PostgreSQL, the gpu service and the edge worker, supervised',
  description:
    'Runs the whole system: PostgreSQL (embedded under <home>/pg, or --database-url), the migrations, the gpu ' +
    'service and the edge worker (wrangler dev), wired together, with one log stream. Prints the URLs and ' +
    'tokens (kept in <home>/config.json) and a dashboard link that signs you in once. A crashed service is ' +
    'restarted after 1 s, 2 s, 4 s... (at most 30 s); one that crashes 5 times within a minute stops ' +
    'everything (exit 1). A busy port is named before anything starts (exit 4). Ctrl-C stops the gpu ' +
    'service, then the edge, then the database.',
  options: upOptions,
  examples: ['edgehead up', 'edgehead up --database-url postgres://postgres@127.0.0.1:5432/edgehead'],
  run: runUp,
});

/** Starts the system, prints the banner, and waits for Ctrl-C or a service that keeps crashing. */
async function runUp(options: Values<typeof upOptions>, _args: string[], env: CliEnv): Promise<number> {
  const settings = upSettings(options);
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
    const system = await startSystem({ ...settings, env, log });
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
