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
  /** Run as this user (the embedded PostgreSQL when `up` runs as root). */
  uid?: number;
  gid?: number;
  /** The signal that asks it to stop (SIGTERM; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
}

/** How many of a child's last output lines are kept for the report when it keeps crashing. */
const TAIL_LINES = 20;

/** A child process: its output goes to the log sink line by line; `stop()` ends it and its children. */
export class Child {
  readonly process: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process has exited. */
  readonly exited: Promise<number | string>;
  /** Its last output lines. */
  readonly tail: string[] = [];
  private done = false;
  private readonly listeners: ((line: string) => void)[] = [];

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
      ...(spec.uid === undefined ? {} : { uid: spec.uid, gid: spec.gid }),
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      if (stream) {
        createInterface({ input: stream }).on('line', (line) => {
          log(spec.name, line);
          this.tail.push(line);
          if (this.tail.length > TAIL_LINES) this.tail.shift();
          for (const listener of this.listeners) listener(line);
        });
      }
    }
    this.exited = new Promise((resolve) => {
      this.process.once('error', (error) => {
        log(spec.name, `cannot start ${spec.command}: ${error.message}`);
        this.tail.push(`cannot start ${spec.command}: ${error.message}`);
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

  /** Calls `listener` with every output line from now on. */
  onLine(listener: (line: string) => void): void {
    this.listeners.push(listener);
  }

  /** Sends `signal` to the child's process group (wrangler's workerd, PostgreSQL's backends included). */
  signal(signal: NodeJS.Signals): void {
    if (this.process.pid === undefined) return;
    try {
      process.kill(-this.process.pid, signal);
    } catch {
      // already gone
    }
  }

  /** Its stop signal, then SIGKILL after `graceMs`; resolves when the child has exited. */
  async stop(graceMs = 15_000): Promise<number | string> {
    if (this.done) return this.exited;
    this.signal(this.spec.stopSignal ?? 'SIGTERM');
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
      await res.body?.cancel();
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

/** Resolves when `child` prints a line matching `pattern`; rejects when it exits first. */
export function waitForLine(child: Child, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    child.onLine((line) => {
      if (pattern.test(line)) resolve();
    });
    void child.exited.then((status) =>
      reject(new Error(`${child.spec.name} exited (${status}) before it was ready`)),
    );
  });
}

/** When a crashed service is started again, and when `up` gives up on it. */
export interface RestartPolicy {
  /** Wait before the first restart; doubled after each crash (1 s, 2 s, 4 s...). */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Give up after this many crashes within `windowMs`. */
  maxCrashes: number;
  /** Also how long a service must run to count as stable again (the delay starts over). */
  windowMs: number;
}

/** The default: 1 s doubling to at most 30 s; five crashes within a minute end `up`. */
export const RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  maxCrashes: 5,
  windowMs: 60_000,
};

/** A service that crashed too often: its last exit status and output lines. */
export interface ServiceFailure {
  service: string;
  crashes: number;
  status: number | string;
  tail: string[];
}

/** What a supervised service is: how to start it, and when a started child serves. */
export interface ServiceSpec {
  /** A fresh spec for every start (a restart may use other arguments). */
  child: () => ChildSpec;
  /** Resolves once `child` serves (rejects when it exits first). */
  ready: (child: Child) => Promise<void>;
}

/**
 * Runs one child and starts it again when it exits on its own, after 1 s, 2 s, 4 s... (capped), logging why
 * and when it is back; after `maxCrashes` crashes within `windowMs` it stays down and `failed` resolves.
 */
export class SupervisedService {
  /** Resolves when the service crashed too often and was given up. */
  readonly failed: Promise<ServiceFailure>;
  private current: Child | null = null;
  private stopping = false;
  /** Set once the first start served: exits before that are start failures, not crashes. */
  private supervising = false;
  private crashes: number[] = [];
  private consecutive = 0;
  private startedAt = 0;
  private wake: (() => void) | null = null;
  private giveUp: (failure: ServiceFailure) => void = () => undefined;

  constructor(
    readonly name: string,
    private readonly spec: ServiceSpec,
    private readonly log: LogSink,
    private readonly policy: RestartPolicy = RESTART_POLICY,
  ) {
    this.failed = new Promise((resolve) => {
      this.giveUp = resolve;
    });
  }

  /** The child running now (null while waiting to restart). */
  get child(): Child | null {
    return this.current;
  }

  /** Starts the service and waits until it serves; a failure here is not retried (it is reported). */
  async start(): Promise<void> {
    const child = this.spawn();
    await this.spec.ready(child);
    this.supervising = true;
  }

  /** Stops the child (and any pending restart); resolves with its exit status. */
  async stop(): Promise<number | string | null> {
    this.stopping = true;
    this.wake?.();
    return this.current ? this.current.stop() : null;
  }

  private spawn(): Child {
    const child = new Child(this.spec.child(), this.log);
    this.current = child;
    this.startedAt = Date.now();
    void child.exited.then((status) => this.onExit(child, status));
    return child;
  }

  private async onExit(child: Child, status: number | string): Promise<void> {
    if (this.stopping || !this.supervising || child !== this.current) return;
    // orphans of the dead process (workerd under wrangler, backends under a killed postmaster) would hold
    // its port or shared memory
    child.signal('SIGKILL');
    const now = Date.now();
    if (now - this.startedAt >= this.policy.windowMs) this.consecutive = 0;
    this.consecutive++;
    this.crashes = [...this.crashes.filter((t) => now - t < this.policy.windowMs), now];
    if (this.crashes.length >= this.policy.maxCrashes) {
      this.log(
        'up',
        `${this.name} crashed ${this.crashes.length} times within ${this.policy.windowMs / 1000} s ` +
          `(last exit: ${status}); not restarting it`,
      );
      this.current = null;
      this.giveUp({ service: this.name, crashes: this.crashes.length, status, tail: [...child.tail] });
      return;
    }
    const delay = Math.min(this.policy.initialDelayMs * 2 ** (this.consecutive - 1), this.policy.maxDelayMs);
    this.log(
      'up',
      `${this.name} exited unexpectedly (${status}); restarting it in ${delay / 1000} s ` +
        `(crash ${this.crashes.length} of ${this.policy.maxCrashes} allowed within ${this.policy.windowMs / 1000} s)`,
    );
    this.current = null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
    if (this.stopping) return;
    const next = this.spawn();
    try {
      await this.spec.ready(next);
      this.log('up', `${this.name} is back (restart ${this.consecutive})`);
    } catch (error) {
      // an exit is counted by onExit; a child that runs but does not serve is left to run and said so
      if (next.running)
        this.log('up', `${this.name} restarted but is not serving: ${(error as Error).message}`);
    }
  }
}
