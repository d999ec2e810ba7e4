import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { CommonOptions } from './common-options.ts';
import { CliError } from './errors.ts';

/** Default ports of `edgehead up` (fixed, so other tools and a second start find the services). */
export const DEFAULT_PORTS = { gpu: 8788, edge: 8787, db: 54329 } as const;

/** `.edgehead/config.json`: the tokens `up` generated once, and where the services last ran. */
export const configFile = z.object({
  version: z.literal(1),
  /** Bearer token of the gpu service (EDGEHEAD_GPU_TOKEN). */
  gpuToken: z.string().min(16),
  /** Bearer token of the edge admin routes (ADMIN_TOKEN). */
  adminToken: z.string().min(16),
  /** An API key of the edge classify routes, created by `up` on first start. */
  apiKey: z.string().min(1).nullable().default(null),
  gpuUrl: z.url().nullable().default(null),
  edgeUrl: z.url().nullable().default(null),
  databaseUrl: z.string().nullable().default(null),
  /** Password of the embedded PostgreSQL's `postgres` role: generated once, the cluster is created with it. */
  dbPassword: z.string().min(16).nullable().default(null),
});
export type ConfigFile = z.infer<typeof configFile>;

/** The state folder `home` (`--home` or `EDGEHEAD_HOME`, default `.edgehead`), absolute. */
export function homeDir(home = '.edgehead', cwd = process.cwd()): string {
  return path.resolve(cwd, home);
}

/** Path of the config file inside `home`. */
export const configPath = (home: string) => path.join(home, 'config.json');

/** Reads `<home>/config.json`; null when it does not exist; a CliError('config') when it is malformed. */
export async function loadConfig(home: string): Promise<ConfigFile | null> {
  const file = configPath(home);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError('config', `cannot read ${file}: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CliError('config', `${file} is not valid JSON: ${(cause as Error).message}`, undefined, {
      cause,
    });
  }
  const parsed = configFile.safeParse(json);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw new CliError('config', `${file} is not an edgehead config (${what}); delete it to start over`);
  }
  return parsed.data;
}

/** Writes the config atomically with mode 0600 (it holds tokens). */
export async function saveConfig(home: string, config: ConfigFile): Promise<void> {
  await mkdir(home, { recursive: true });
  const file = configPath(home);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** A random token for the services (32 bytes, hex). */
export const newToken = () => randomBytes(32).toString('hex');

/** The config, created with fresh tokens when there is none yet. */
export async function loadOrCreateConfig(home: string): Promise<{ config: ConfigFile; created: boolean }> {
  const existing = await loadConfig(home);
  if (existing) return { config: existing, created: false };
  const config = configFile.parse({
    version: 1,
    gpuToken: newToken(),
    adminToken: newToken(),
    dbPassword: newToken(),
  });
  await saveConfig(home, config);
  return { config, created: true };
}

/** Where the services are and how to authenticate, after flags > environment > config file > defaults. */
export interface Endpoints {
  gpuUrl: string;
  edgeUrl: string;
  gpuToken: string | null;
  adminToken: string | null;
  apiKey: string | null;
  /** Dashboard URL (the edge serves it). */
  dashboardUrl: string;
}

/**
 * Resolves endpoints in priority order: the options (a flag, else its `EDGEHEAD_*` variable), then the config
 * file, then the default ports.
 */
export function resolveEndpoints(
  options: Pick<CommonOptions, 'gpuUrl' | 'edgeUrl' | 'gpuToken' | 'adminToken' | 'apiKey'>,
  file: ConfigFile | null,
): Endpoints {
  const trim = (url: string) => url.replace(/\/+$/, '');
  const gpuUrl = trim(options.gpuUrl ?? file?.gpuUrl ?? `http://127.0.0.1:${DEFAULT_PORTS.gpu}`);
  const edgeUrl = trim(options.edgeUrl ?? file?.edgeUrl ?? `http://127.0.0.1:${DEFAULT_PORTS.edge}`);
  return {
    gpuUrl,
    edgeUrl,
    gpuToken: options.gpuToken ?? file?.gpuToken ?? null,
    adminToken: options.adminToken ?? file?.adminToken ?? null,
    apiKey: options.apiKey ?? file?.apiKey ?? null,
    dashboardUrl: `${edgeUrl}/`,
  };
}
