import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { serverProgramEnv } from '../env.ts';
import { postgresBinaries } from './binaries.ts';
import { inspectDataDir } from './data-dir.ts';
import { EmbeddedPostgresError } from './errors.ts';
import { assertReachable, type ServerUser, serverUser } from './os-user.ts';

/** Options of the embedded PostgreSQL server. */
export interface EmbeddedPostgresOptions {
  /** The cluster's folder, created (initdb) when missing or empty; omit for a temporary one `stop()` removes. */
  dataDir?: string;
  /** Port on 127.0.0.1; 0 or omitted picks a free one. */
  port?: number;
  /** Password of the `postgres` role, set when the cluster is created (a cluster keeps its first one). */
  password?: string;
  /** false: no fsync, for throw-away test clusters (default true). */
  durable?: boolean;
}

/** A prepared cluster and the command that serves it: what `startEmbeddedPostgres` runs, and `edgehead up` supervises. */
export interface EmbeddedLaunch {
  url: string;
  port: number;
  dataDir: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The OS user the server runs as when this process is root. */
  user: ServerUser | null;
  /** `created`: initdb just ran; `recovering`: a crashed server's postmaster.pid is there (WAL replay follows). */
  state: 'created' | 'existing' | 'recovering';
  /** The pid in that postmaster.pid (state `recovering`). */
  crashedPid: number | null;
}

/** A running embedded server; connect with any PostgreSQL client at `url`. */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Resolves with the exit code (or signal) when the server has exited. */
  exited: Promise<number | string>;
  /** Fast shutdown (SIGINT: open transactions roll back, the data is flushed); resolves once it exited. */
  stop(): Promise<void>;
}

/** The line PostgreSQL logs once it accepts connections. */
export const READY_LINE = /database system is ready to accept connections/;

/** A free loopback port picked by the OS. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a program to completion (as `user` when set); rejects with its output when it fails. */
function runProgram(command: string, args: string[], user: ServerUser | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serverProgramEnv(),
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(output.trim()))));
  });
}

async function initCluster(
  initdb: string,
  dataDir: string,
  password: string,
  user: ServerUser | null,
  durable: boolean,
): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (user) {
    await chown(dataDir, user.uid, user.gid);
    await assertReachable(dataDir, user);
  }
  await chmod(dataDir, 0o700);
  // the password goes through a private file, never the command line (visible in ps)
  const secrets = await mkdtemp(path.join(tmpdir(), 'edgehead-initdb-'));
  const pwfile = path.join(secrets, 'password');
  try {
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) await Promise.all([chown(secrets, user.uid, user.gid), chown(pwfile, user.uid, user.gid)]);
    await runProgram(
      initdb,
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
        ...(durable ? [] : ['--no-sync']),
      ],
      user,
    ).catch((cause: Error) => {
      throw new EmbeddedPostgresError('start_failed', `initdb failed on ${dataDir}: ${cause.message}`, {
        cause,
      });
    });
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

/**
 * Makes the cluster ready to serve (checks the folder, runs initdb when it is empty) and returns the server
 * command without starting it. Throws an EmbeddedPostgresError that names the folder and what to do.
 */
export async function prepareEmbeddedPostgres(
  options: EmbeddedPostgresOptions & { dataDir: string },
): Promise<EmbeddedLaunch> {
  const { initdb, postgres } = await postgresBinaries();
  const user = await serverUser();
  const dataDir = path.resolve(options.dataDir);
  const password = options.password ?? randomBytes(24).toString('hex');
  const durable = options.durable ?? true;
  const found = await inspectDataDir(dataDir);
  if (found.kind === 'empty') await initCluster(initdb, dataDir, password, user, durable);
  else if (user) await assertReachable(dataDir, user);
  const port = options.port || (await freePort());
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    command: postgres,
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP only: no socket file in /tmp to collide with another server's
      '-c',
      'unix_socket_directories=',
      ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
    ],
    env: serverProgramEnv(),
    user,
    state: found.kind === 'empty' ? 'created' : found.crashedPid ? 'recovering' : 'existing',
    crashedPid: found.kind === 'cluster' ? found.crashedPid : null,
  };
}

/** Why the server exited before it was ready, from its log lines (every message names the folder or port). */
export function explainExit(
  launch: Pick<EmbeddedLaunch, 'dataDir' | 'port'>,
  lines: readonly string[],
  status: number | string,
): EmbeddedPostgresError {
  const has = (re: RegExp) => lines.some((l) => re.test(l));
  const { dataDir, port } = launch;
  if (has(/Address already in use/)) {
    return new EmbeddedPostgresError(
      'port_in_use',
      `port ${port} on 127.0.0.1 is already in use, so the embedded PostgreSQL cannot listen: choose another port`,
    );
  }
  if (has(/lock file "postmaster.pid" already exists/)) {
    return new EmbeddedPostgresError(
      'already_running',
      `another PostgreSQL server holds ${dataDir} (see ${path.join(dataDir, 'postmaster.pid')}): stop it first`,
    );
  }
  if (has(/pre-existing shared memory block .* is still in use/)) {
    return new EmbeddedPostgresError(
      'already_running',
      `processes of an earlier server on ${dataDir} are still running (they hold its shared memory): ` +
        'wait for them to exit, or stop them (ps -u postgres), then start again',
    );
  }
  const fatal = [...lines].reverse().find((l) => /\b(FATAL|PANIC):/.test(l)) ?? lines.at(-1) ?? '';
  if (/incompatible with server/.test(fatal)) return new EmbeddedPostgresError('other_version', fatal);
  if (/ownership|permissions|Permission denied/.test(fatal)) {
    return new EmbeddedPostgresError('permission', `PostgreSQL cannot use ${dataDir}: ${fatal}`);
  }
  return new EmbeddedPostgresError(
    'start_failed',
    `the embedded PostgreSQL on ${dataDir} exited (${status}) before it was ready: ${fatal || 'no output'}`,
  );
}

/** Sends `signal` unless the process has exited. */
function signalProcess(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

/**
 * Starts a real PostgreSQL server from the npm package's binaries, on `dataDir` (initialised when empty) or a
 * temporary folder, and resolves once it accepts connections.
 *
 * @example
 * const pg = await startEmbeddedPostgres({ dataDir: '.edgehead/pg', port: 54329, password });
 * // ... postgres(pg.url) ...
 * await pg.stop();
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  // a temporary cluster sits in a folder of its own that the server's user can enter (mkdtemp makes 0700)
  const temporary = options.dataDir ? null : await mkdtemp(path.join(tmpdir(), 'edgehead-pg-'));
  if (temporary) await chmod(temporary, 0o755);
  try {
    const launch = await prepareEmbeddedPostgres({
      ...options,
      dataDir: options.dataDir ?? path.join(temporary as string, 'data'),
    });
    const child = spawn(launch.command, launch.args, {
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(launch.user ? { uid: launch.user.uid, gid: launch.user.gid } : {}),
    });
    const exited = new Promise<number | string>((resolve) => {
      child.once('error', () => resolve('spawn_error'));
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    });
    // a process that ends without stop() (a test runner exiting) takes its server along
    const onExit = () => signalProcess(child, 'SIGINT');
    process.once('exit', onExit);
    const lines: string[] = [];
    const ready = new Promise<void>((resolve) => {
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on('line', (line) => {
          lines.push(line);
          if (lines.length > 200) lines.shift();
          if (READY_LINE.test(line)) resolve();
        });
      }
    });
    const status = await Promise.race([ready.then(() => null), exited]);
    if (status !== null) {
      process.off('exit', onExit);
      throw explainExit(launch, lines, status);
    }
    return {
      url: launch.url,
      port: launch.port,
      dataDir: launch.dataDir,
      pid: child.pid as number,
      exited,
      async stop() {
        signalProcess(child, 'SIGINT');
        const immediate = setTimeout(() => signalProcess(child, 'SIGQUIT'), 30_000);
        await exited;
        clearTimeout(immediate);
        process.off('exit', onExit);
        if (temporary) await rm(temporary, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (temporary) await rm(temporary, { recursive: true, force: true });
    throw error;
  }
}
