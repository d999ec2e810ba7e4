import type { CommonOptions } from './common-options.ts';
import { type Endpoints, homeDir, loadConfig, resolveEndpoints } from './config.ts';
import { CliError } from './errors.ts';
import { type EdgeClient, edgeClient, type GpuClient, gpuClient } from './http.ts';

/** What a command runs with: the clients of both services and the output mode. */
export interface Context {
  json: boolean;
  endpoints: Endpoints;
  /** gpu service, with its token. */
  gpu: GpuClient;
  /** edge admin routes, with the admin token. */
  admin: EdgeClient;
  /** edge classify routes, with the API key. */
  edge: EdgeClient;
}

/** Builds the context from the common options (flags, else variables) and `<home>/config.json`. */
export async function createContext(options: CommonOptions): Promise<Context> {
  const file = await loadConfig(homeDir(options.home));
  const endpoints = resolveEndpoints(options, file);
  return {
    json: options.json,
    endpoints,
    gpu: gpuClient(endpoints.gpuUrl, endpoints.gpuToken),
    admin: edgeClient(endpoints.edgeUrl, endpoints.adminToken),
    edge: edgeClient(endpoints.edgeUrl, endpoints.apiKey),
  };
}

/** Fails with a clear message when a token the command needs is not configured. */
export function requireToken(value: string | null, what: string, flag: string, env: string): string {
  if (value) return value;
  throw new CliError(
    'config',
    `no ${what}: pass ${flag}, set ${env}, or run \`edgehead up\` once in this folder (it writes .edgehead/config.json)`,
  );
}
