// Drives the `edgehead` CLI as a user would: child processes, --json output, exit codes.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inheritedEnv } from './env.ts';

/** The workspace bin (a JS shim that loads the TypeScript CLI through tsx). */
export const CLI = fileURLToPath(new URL('../../packages/cli/bin/edgehead.js', import.meta.url));

/**
 * The environment of an `edgehead up` on its embedded database, with its home in `work/home`, serving the
 * tiny backbone written to `work/tiny`, and starting its own gpu service and edge (no URLs inherited).
 */
export function embeddedUpEnv(work: string): NodeJS.ProcessEnv {
  return {
    ...inheritedEnv(),
    DATABASE_URL: '',
    EDGEHEAD_HOME: path.join(work, 'home'),
    EDGEHEAD_BACKBONES: JSON.stringify([
      { name: 'tiny', weights: path.join(work, 'tiny'), preprocessing: 'rescale' },
    ]),
    EDGEHEAD_GPU_POOL_SIZE: '1',
    EDGEHEAD_QUEUE_POLL_SECONDS: '0.5',
    EDGEHEAD_GPU_URL: '',
    EDGEHEAD_EDGE_URL: '',
  };
}

/** Runs one CLI command to completion; resolves with its exit code and output. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs a CLI command with `--json` and parses its answer; a non-zero exit fails with its stderr. */
export async function cliJson<T = unknown>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const r = await cli([...args, '--json'], env);
  if (r.code !== 0) throw new Error(`edgehead ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** A running `edgehead up`. */
export interface Running {
  child: ChildProcess;
  log: () => string;
  /** SIGINT (Ctrl-C), then resolves with the exit code once everything stopped. */
  stop(): Promise<number | null>;
}

/** Starts `edgehead up` and resolves once it printed that it is up (rejects with its log otherwise). */
export function startUp(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000): Promise<Running> {
  const child = spawn(process.execPath, [CLI, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running: Running = {
    child,
    log: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`edgehead up was not ready within ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      output += d;
      if (output.includes('Ctrl-C stops everything.')) {
        clearTimeout(timer);
        resolve(running);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`edgehead up exited ${code} before it was ready:\n${output.slice(-4000)}`));
    });
  });
}

/** The processes whose parent is `pid`, with their command lines (Linux: read from /proc). */
export async function childProcesses(pid: number): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    // "pid (comm) state ppid ...": comm may contain spaces, so split after its closing parenthesis
    const ppid = stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : Number.NaN;
    if (ppid !== pid) continue;
    const command = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    found.push({ pid: Number(entry), command: command.replaceAll('\0', ' ').trim() });
  }
  return found;
}

/** Polls until `check` passes (returns a value other than undefined/false), or fails after `ms` with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T>,
  ms = 120_000,
): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  let last: unknown = 'never checked';
  while (Date.now() < until) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}
