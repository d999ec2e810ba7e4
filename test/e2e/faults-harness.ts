// Shared by the gpu fault tests and the gpu load bench: the gpu service as a real child process, a TCP
// proxy that can cut the database away, and a tiny dataset uploaded over HTTP.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pooling } from '@edgehead/contracts';
import { connect, type Database } from '@edgehead/db/node';
import { inheritedEnv } from './env.ts';

/** The repository root (the gpu service runs from there, as `npm run dev` does). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bearer token the fault tests give the gpu service. */
export const TOKEN = 'faults-token-0123456789';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A free loopback port (the OS picks, we release it). */
export function pickPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** A gpu service child process. */
export interface GpuProcess {
  url: string;
  child: ChildProcess;
  log(): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string | null>;
  kill(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** Starts `node --import tsx apps/gpu/src/server.ts` with `env` and waits for its "on http://" line. */
export async function startGpu(env: Record<string, string>, timeoutMs = 120_000): Promise<GpuProcess> {
  const port = await pickPort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/gpu/src/server.ts'], {
    cwd: ROOT,
    env: { ...inheritedEnv(), HOST: '127.0.0.1', PORT: String(port), EDGEHEAD_GPU_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  const gpu: GpuProcess = {
    url: `http://127.0.0.1:${port}`,
    child,
    log: () => output,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const ready = await waitFor(
    'the gpu service to start',
    async () => (gone ? 'exited' : output.includes('edgehead gpu service on http://') ? 'ready' : undefined),
    timeoutMs,
  ).catch(() => 'timed out');
  if (ready !== 'ready') {
    await gpu.kill();
    throw new Error(`gpu service ${ready} before it was ready:\n${output.slice(-3000)}`);
  }
  return gpu;
}

/** A TCP proxy in front of Postgres whose link can be cut (every connection reset, new ones refused). */
export interface CutProxy {
  port: number;
  /** Resets every open connection and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** Starts a loopback proxy to `target` (host:port). */
export async function startProxy(target: { host: string; port: number }): Promise<CutProxy> {
  const open = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    upstream.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
  const cut = () => {
    down = true;
    for (const s of open) s.resetAndDestroy();
    open.clear();
  };
  return {
    port,
    cut,
    restore() {
      down = false;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same URL through another host:port (the proxy). */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

/** host and port of a Postgres URL. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432) };
}

/** JSON request to the gpu service with the token. */
export async function api<T = unknown>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Every file under `dir` as `split/label/name` (what a multipart upload may name its files). */
export async function listImages(dir: string): Promise<{ name: string; file: string }[]> {
  const out: { name: string; file: string }[] = [];
  for (const split of await readdir(dir)) {
    for (const label of await readdir(path.join(dir, split))) {
      for (const name of await readdir(path.join(dir, split, label))) {
        out.push({ name: `${split}/${label}/${name}`, file: path.join(dir, split, label, name) });
      }
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Creates the dataset `name` (classes red, blue) and uploads every image of `dir` in one multipart batch. */
export async function uploadDataset(base: string, name: string, dir: string): Promise<number> {
  const created = await api(base, 'POST', '/v1/datasets', { name, classes: ['blue', 'red'] });
  if (created.status !== 201)
    throw new Error(`create dataset: ${created.status} ${JSON.stringify(created.body)}`);
  const form = new FormData();
  for (const img of await listImages(dir)) {
    form.append('files', new Blob([await readFile(img.file)], { type: 'image/png' }), img.name);
  }
  const res = await fetch(`${base}/v1/datasets/${name}/images`, {
    method: 'POST',
    headers: AUTH,
    body: form,
  });
  const body = (await res.json()) as { accepted: number; rejected: number };
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`upload: ${res.status} ${JSON.stringify(body)}`);
  return body.accepted;
}

/** A direct client for assertions (not through the proxy). */
export async function inspect(url: string): Promise<Database['sql']> {
  return (await connect({ url, max: 2, migrate: false })).sql;
}

/**
 * Stored vectors of a dataset for the feature sets of one backbone and pooling: ready images, rows, distinct
 * images, rows whose bytes do not fill their shape.
 */
export async function featureCounts(
  sql: Database['sql'],
  datasetId: string,
  backbone: string,
  pooling: Pooling = 'none',
) {
  const [ready] = await sql<{ n: number }[]>`
    select count(*)::int as n from images where dataset_id = ${datasetId} and status = 'ready'`;
  const rows = await sql<{ imageId: string; bytes: number | null; shape: number[] }[]>`
    select f.image_id as "imageId", octet_length(f.vector)::int as bytes, f.shape
    from features f join images i on i.id = f.image_id join feature_sets fs on fs.id = f.feature_set_id
    where i.dataset_id = ${datasetId} and fs.backbone = ${backbone} and fs.pooling = ${pooling}`;
  const broken = rows.filter((r) => r.bytes !== 4 * r.shape.reduce((a, b) => a * b, 1)).length;
  return {
    images: ready?.n ?? 0,
    vectors: rows.length,
    distinct: new Set(rows.map((r) => r.imageId)).size,
    broken,
  };
}
