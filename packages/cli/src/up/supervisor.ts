import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Writes one line of the combined log; `up` prefixes every line with the service name. */
export type LogSink = (service: string, line: string) => void;

const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m'];

/** A sink that writes `name | line` to `stream`, coloured per service on a TTY. */
export function prefixedSink(stream: NodeJS.WriteStream, width = 5): LogSink {
  const colors = new Map<string, string>();
  return (service, line) => {
    let color = '';
    let reset = '';
    if (stream.isTTY) {
      if (!colors.has(service)) colors.set(service, COLORS[colors.size % COLORS.length] as string);
      color = colors.get(service) as string;
      reset = '\x1b[0m';
    }
    stream.write(`${color}${service.padEnd(width)}|${reset} ${line}\n`);
  };
}

/** How to start one child process. */
export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Sees every output line too (e.g. to wait for a `ready` line). */
  onLine?: (line: string) => void;
}

/** A supervised child: its output goes to the log sink line by line; `stop()` ends it and its children. */
export class Child {
  readonly process: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process has exited. */
  readonly exited: Promise<number | string>;
  private done = false;

  constructor(
    readonly spec: ChildSpec,
    log: LogSink,
  ) {
    // Own process group: a terminal's Ctrl-C reaches only `up`, which then stops children in order.
    this.process = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      if (stream) {
        createInterface({ input: stream }).on('line', (line) => {
          log(spec.name, line);
          spec.onLine?.(line);
        });
      }
    }
    this.exited = new Promise((resolve) => {
      this.process.once('error', (error) => {
        log(spec.name, `cannot start ${spec.command}: ${error.message}`);
        this.done = true;
        resolve('spawn_error');
      });
      this.process.once('exit', (code, signal) => {
        this.done = true;
        resolve(code ?? signal ?? 'unknown');
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** Sends `signal` to the child's process group (wrangler's workerd included). */
  signal(signal: NodeJS.Signals): void {
    if (this.done || this.process.pid === undefined) return;
    try {
      process.kill(-this.process.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
  async stop(graceMs = 15_000): Promise<number | string> {
    if (this.done) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Polls `url` until it answers 2xx; fails when `child` exits first or after `timeoutMs`. */
export async function waitHealthy(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!child.running)
      throw new Error(`${child.spec.name} exited (${await child.exited}) before it was healthy`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${child.spec.name} was not healthy at ${url} within ${Math.round(timeoutMs / 1000)} s (${last})`,
  );
}
