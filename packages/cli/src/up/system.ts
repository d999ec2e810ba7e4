import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigFile, loadOrCreateConfig, newToken, saveConfig } from '../config.ts';
import { type CliEnv, parseCliEnv } from '../env.ts';
import { CliError } from '../errors.ts';
import { migrate, startEmbeddedDatabase } from './database.ts';
import { assertPortsFree, freePort, type WantedPort } from './ports.ts';
import { Child, type LogSink, type ServiceFailure, SupervisedService, waitHealthy } from './supervisor.ts';

/** Root of the repository this CLI runs from (the apps are started from their source). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** What `startSystem` needs. */
export interface SystemOptions {
  /** State folder (config, embedded database, edge storage). */
  home: string;
  gpuPort: number;
  edgePort: number;
  /** Port of the embedded Postgres (unused with `databaseUrl`). */
  dbPort: number;
  /** An external Postgres; null starts the embedded one under `<home>/pg`. */
  databaseUrl: string | null;
  /** How long each service may take to answer its health check. */
  healthTimeoutMs: number;
  /** The environment the services inherit, and `EDGEHEAD_GPU_ENTRY` / `EDGEHEAD_SHARED_DIR` (default: this process's). */
  env?: CliEnv;
  log: LogSink;
}

/** A running system. */
export interface System {
  config: ConfigFile;
  configCreated: boolean;
  gpuUrl: string;
  edgeUrl: string;
  databaseUrl: string;
  embedded: boolean;
  /** Resolves when a service crashed too often and was given up (crashes before that are restarted). */
  failed: Promise<ServiceFailure>;
  /** Stops gpu, then edge, then the database; idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** The shared data folder beside the repository (pretrained weights, photos), when present. */
const SHARED_DIR = path.resolve(REPO_ROOT, '../shared');

function lockPath(home: string) {
  return path.join(home, 'up.pid');
}

async function takeLock(home: string): Promise<void> {
  const file = lockPath(home);
  const text = await readFile(file, 'utf8').catch(() => null);
  const pid = text ? Number.parseInt(text, 10) : Number.NaN;
  if (Number.isInteger(pid) && pid !== process.pid) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive) {
      throw new CliError(
        'config',
        `edgehead is already running from ${home} (pid ${pid}); stop it first or use another --home`,
      );
    }
  }
  await writeFile(file, `${process.pid}\n`);
}

function wranglerBin(): string {
  for (let dir = path.join(REPO_ROOT, 'apps/edge'); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules/wrangler/bin/wrangler.js');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir)
      throw new CliError('config', 'wrangler is not installed: run `npm ci` first');
  }
}

/** The hyperdrive local connection string needs a password field; a server with trust auth ignores it. */
function withPassword(url: string): string {
  const u = new URL(url);
  if (!u.password) u.password = 'postgres';
  return u.toString();
}

/**
 * Starts the whole system: Postgres (embedded or `databaseUrl`) with migrations applied, the gpu service,
 * and the edge worker under `wrangler dev`, wired together and supervised (a crashed service is restarted);
 * resolves once every service answers its health check.
 */
export async function startSystem(options: SystemOptions): Promise<System> {
  const { home, log } = options;
  const env = options.env ?? parseCliEnv();
  const wanted: WantedPort[] = [
    { service: 'gpu service', port: options.gpuPort, hint: '--gpu-port or EDGEHEAD_GPU_PORT' },
    { service: 'edge', port: options.edgePort, hint: '--edge-port or EDGEHEAD_EDGE_PORT' },
  ];
  if (!options.databaseUrl) {
    wanted.push({
      service: 'embedded PostgreSQL',
      port: options.dbPort,
      hint: '--db-port or EDGEHEAD_DB_PORT',
    });
  }
  await assertPortsFree(wanted, HOST);
  const { config: loaded, created } = await loadOrCreateConfig(home);
  await takeLock(home);

  const gpuUrl = `http://${HOST}:${options.gpuPort}`;
  const edgeUrl = `http://${HOST}:${options.edgePort}`;
  // in start order (db, edge, gpu); stopped in reverse
  const services: SupervisedService[] = [];
  let stopping: Promise<void> | null = null;

  const stop = () => {
    stopping ??= (async () => {
      // gpu first (it finishes or requeues its jobs), then the edge, then the database they both use
      for (const service of [...services].reverse()) {
        if (!service.child?.running) {
          await service.stop();
          continue;
        }
        log('up', `stopping ${service.name}...`);
        const status = await service.stop();
        log('up', `${service.name} stopped (${status})`);
      }
      await rm(lockPath(home), { force: true });
    })();
    return stopping;
  };

  try {
    const tsx = import.meta.resolve('tsx');
    const dbPassword = loaded.dbPassword ?? newToken();
    let databaseUrl: string;
    if (options.databaseUrl) {
      databaseUrl = options.databaseUrl;
      log('up', `applying migrations to ${redact(databaseUrl)}`);
    } else {
      if (!loaded.dbPassword) await saveConfig(home, { ...loaded, dbPassword });
      const db = await startEmbeddedDatabase(home, options.dbPort, dbPassword, log);
      services.push(db.service);
      databaseUrl = db.url;
    }
    await migrate(databaseUrl, home, !options.databaseUrl);
    log('up', `database ready, migrations applied (${redact(databaseUrl)})`);
    const config: ConfigFile = { ...loaded, dbPassword, gpuUrl, edgeUrl, databaseUrl };
    await saveConfig(home, config);

    const baseEnv = {
      ...env.inherited,
      NO_COLOR: env.NO_COLOR ?? (process.stdout.isTTY ? undefined : '1'),
    };
    const gpu = new SupervisedService(
      'gpu',
      {
        child: () => ({
          name: 'gpu',
          command: process.execPath,
          args: [
            '--import',
            tsx,
            path.resolve(env.EDGEHEAD_GPU_ENTRY ?? path.join(REPO_ROOT, 'apps/gpu/src/server.ts')),
          ],
          cwd: path.join(REPO_ROOT, 'apps/gpu'),
          env: {
            ...baseEnv,
            DATABASE_URL: databaseUrl,
            HOST,
            PORT: String(options.gpuPort),
            EDGEHEAD_GPU_TOKEN: config.gpuToken,
            EDGEHEAD_EDGE_URL: edgeUrl,
            EDGEHEAD_EDGE_ADMIN_TOKEN: config.adminToken,
            // pretrained weights in place (../shared/models beside the repository) unless configured
            ...(env.EDGEHEAD_SHARED_DIR || !existsSync(SHARED_DIR)
              ? {}
              : { EDGEHEAD_SHARED_DIR: SHARED_DIR }),
          },
        }),
        ready: (child) => waitHealthy(`${gpuUrl}/health`, child, options.healthTimeoutMs),
      },
      log,
    );

    const assets = new Child(
      {
        name: 'edge',
        command: process.execPath,
        args: [path.join(REPO_ROOT, 'apps/edge/scripts/assets.mjs')],
        cwd: path.join(REPO_ROOT, 'apps/edge'),
        env: baseEnv,
      },
      log,
    );
    if ((await assets.exited) !== 0)
      throw new CliError('failed', 'the edge assets step failed (see the log above)');

    const inspectorPort = await freePort(HOST);
    const edge = new SupervisedService(
      'edge',
      {
        child: () => ({
          name: 'edge',
          command: process.execPath,
          args: [
            wranglerBin(),
            'dev',
            '--ip',
            HOST,
            '--port',
            String(options.edgePort),
            '--inspector-port',
            String(inspectorPort),
            '--persist-to',
            path.join(home, 'edge'),
            '--show-interactive-dev-session=false',
            '--var',
            `GPU_SERVICE_URL:${gpuUrl}`,
            '--var',
            `GPU_SERVICE_TOKEN:${config.gpuToken}`,
            '--var',
            `ADMIN_TOKEN:${config.adminToken}`,
          ],
          cwd: path.join(REPO_ROOT, 'apps/edge'),
          env: {
            ...baseEnv,
            WRANGLER_SEND_METRICS: 'false',
            CLOUDFLARE_CF_FETCH_ENABLED: 'false',
            CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: withPassword(databaseUrl),
          },
        }),
        ready: (child) => waitHealthy(`${edgeUrl}/health`, child, options.healthTimeoutMs),
      },
      log,
    );
    services.push(edge, gpu);

    await Promise.all([gpu.start(), edge.start()]).catch((error: Error) => {
      throw new CliError('failed', error.message, undefined, { cause: error });
    });

    const withKey = await ensureApiKey(edgeUrl, config);
    if (withKey !== config) await saveConfig(home, withKey);

    return {
      config: withKey,
      configCreated: created,
      gpuUrl,
      edgeUrl,
      databaseUrl,
      embedded: !options.databaseUrl,
      failed: Promise.race(services.map((s) => s.failed)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Keeps one working API key in the config: creates it on first start, or again when the edge forgot it. */
async function ensureApiKey(edgeUrl: string, config: ConfigFile): Promise<ConfigFile> {
  if (config.apiKey) {
    // A known key on an unknown alias answers 404; an unknown key answers 403 before the alias is looked up.
    const probe = await fetch(`${edgeUrl}/v1/models/edgehead-key-check/classify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.apiKey}`, 'content-type': 'application/json' },
      body: '{"features":[0]}',
    });
    await probe.body?.cancel();
    if (probe.status !== 401 && probe.status !== 403) return config;
  }
  const res = await fetch(`${edgeUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${config.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'edgehead-cli' }),
  });
  if (!res.ok)
    throw new CliError(
      'failed',
      `the edge refused to create an API key: HTTP ${res.status} ${await res.text()}`,
    );
  const { key } = (await res.json()) as { key: string };
  return { ...config, apiKey: key };
}

/** A database URL without its password, for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
