// Starts what the browser tests drive: the dashboard built by Vite, served with the edge worker under
// `wrangler dev` (local mode, offline) whose Hyperdrive binding points at a test database, and the gpu
// service on the same database (the pictures of augmented samples are its).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { inheritedEnv } from './env.ts';

const dashboardDir = fileURLToPath(new URL('..', import.meta.url));
const edgeDir = fileURLToPath(new URL('../../edge', import.meta.url));
const gpuDir = fileURLToPath(new URL('../../gpu', import.meta.url));

/** Chromium flags for a sandbox-less, offline, headless run. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Builds the dashboard into a fresh temporary folder and returns it. */
export async function buildDashboard(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'edgehead-dashboard-'));
  await build({
    root: dashboardDir,
    logLevel: 'error',
    build: { outDir, emptyOutDir: true, sourcemap: false },
  });
  return outDir;
}

/** A running `wrangler dev` of the edge worker. */
export interface Edge {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the edge worker under `wrangler dev` with the given assets folder and Hyperdrive pointed at
 * `databaseUrl`; resolves when `/health` answers.
 */
export async function startEdge(options: {
  databaseUrl: string;
  assetsDir: string;
  adminToken: string;
  /** The gpu service the edge calls (the dashboard's augmented samples). */
  gpu?: { url: string; token: string };
  timeoutMs?: number;
}): Promise<Edge> {
  const [port, inspector, persist] = await Promise.all([
    freePort(),
    freePort(),
    mkdtemp(join(tmpdir(), 'edgehead-wrangler-')),
  ]);
  // miniflare refuses a Hyperdrive URL without a password; the test databases ignore it (trust auth)
  const db = new URL(options.databaseUrl);
  if (!db.password) db.password = 'postgres';
  // the edge's own wrangler (4.86, pinned there), run with this Node
  const wrangler = createRequire(join(edgeDir, 'package.json')).resolve('wrangler/bin/wrangler.js');
  const args = [
    wrangler,
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspector),
    '--persist-to',
    persist,
    '--assets',
    options.assetsDir,
    '--var',
    `ADMIN_TOKEN:${options.adminToken}`,
    ...(options.gpu
      ? ['--var', `GPU_SERVICE_URL:${options.gpu.url}`, '--var', `GPU_SERVICE_TOKEN:${options.gpu.token}`]
      : []),
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: edgeDir,
    detached: true, // own process group: stop() ends wrangler and its workerd together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inheritedEnv(),
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: db.toString(),
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      NO_COLOR: '1',
    },
  });
  return served(child, `http://127.0.0.1:${port}`, 'wrangler dev', options.timeoutMs);
}

/**
 * Starts the gpu service (its source through tsx, as `npm run dev -w @edgehead/gpu` does) on `databaseUrl`;
 * resolves when `/health` answers.
 */
export async function startGpu(options: { databaseUrl: string; token: string }): Promise<Edge> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(gpuDir, 'src/server.ts')], {
    cwd: gpuDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inheritedEnv(),
      DATABASE_URL: options.databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      EDGEHEAD_GPU_TOKEN: options.token,
      EDGEHEAD_GPU_POOL_SIZE: '0',
      NO_COLOR: '1',
    },
  });
  return served(child, `http://127.0.0.1:${port}`, 'the gpu service');
}

/** A started child as an `Edge` (url + stop), once `url/health` answers. */
async function served(child: ChildProcess, url: string, what: string, timeoutMs = 90_000): Promise<Edge> {
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const killer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with ${child.exitCode}:\n${log.slice(-3000)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error(`${what} did not answer /health within ${timeoutMs} ms:\n${log.slice(-3000)}`);
}
