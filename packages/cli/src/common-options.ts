// The options that commands share: output, the state folder, and where each service is with its credential.
import { z } from 'zod';
import { COMMON_GROUP, type Flag, flag, type Values } from './args.ts';
import { DEFAULT_PORTS } from './config.ts';

const token = z.string().min(1);
const fromConfig = '<home>/config.json';

/** `--json`: every command. */
export const outputOptions = {
  json: flag(
    '--json',
    'print the answer as JSON; a failure prints { "error": { code, message, details } }',
    z.boolean().default(false),
    { group: COMMON_GROUP },
  ),
};

/** `--home`: every command that reads the config `up` wrote. */
export const homeOptions = {
  home: flag('--home <dir>', 'state folder (config.json with the URLs and tokens)', z.string().min(1), {
    default: '.edgehead',
    env: 'EDGEHEAD_HOME',
    group: COMMON_GROUP,
  }),
};

const gpuUrl = flag('--gpu-url <url>', 'the gpu service', z.url().optional(), {
  env: 'EDGEHEAD_GPU_URL',
  fallback: `${fromConfig}, else http://127.0.0.1:${DEFAULT_PORTS.gpu}`,
  group: COMMON_GROUP,
});
const edgeUrl = flag('--edge-url <url>', 'the edge worker', z.url().optional(), {
  env: 'EDGEHEAD_EDGE_URL',
  fallback: `${fromConfig}, else http://127.0.0.1:${DEFAULT_PORTS.edge}`,
  group: COMMON_GROUP,
});
const credential = (flags: string, description: string, env: Flag['env']) =>
  flag(flags, description, token.optional(), { env, fallback: fromConfig, group: COMMON_GROUP });

/** The gpu service and its token. */
export const gpuOptions = {
  ...outputOptions,
  ...homeOptions,
  gpuUrl,
  gpuToken: credential('--gpu-token <token>', 'bearer token of the gpu service', 'EDGEHEAD_GPU_TOKEN'),
};

/** The edge's admin routes and the admin token. */
export const adminOptions = {
  ...outputOptions,
  ...homeOptions,
  edgeUrl,
  adminToken: credential('--admin-token <token>', 'the edge admin token', 'EDGEHEAD_ADMIN_TOKEN'),
};

/** The edge's classify routes and an API key. */
export const classifyOptions = {
  ...outputOptions,
  ...homeOptions,
  edgeUrl,
  apiKey: credential('--api-key <key>', 'API key of the classify routes', 'EDGEHEAD_API_KEY'),
};

/** Both services, with the gpu token and the API key (the demo drives both). */
export const systemOptions = { ...gpuOptions, ...classifyOptions };

/** The parsed common options; a command has those of its groups (the others resolve from config/defaults). */
export type CommonOptions = Values<typeof outputOptions & typeof homeOptions> &
  Partial<Values<typeof gpuOptions & typeof adminOptions & typeof classifyOptions>>;
