// What every benchmark shares: smoke mode, counting successes and errors, the table and JSON it reports, and
// its exit code (non-zero on any error or failed check, so a benchmark that breaks breaks CI).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname, '../../..');

/** The variables of a benchmark's environment (the benchmarks' one reader of `process.env`). */
export const benchEnv: Readonly<Record<string, string | undefined>> = process.env;

/** `EDGEHEAD_BENCH_SMOKE=1`: every size is tiny and a benchmark takes seconds (`npm run bench:smoke`, CI). */
export const SMOKE = ['1', 'true'].includes(benchEnv.EDGEHEAD_BENCH_SMOKE ?? '');

/** `full` in a real run, `smoke` in smoke mode. */
export function sized<T>(full: T, smoke: T): T {
  return SMOKE ? smoke : full;
}

/** The number in variable `name` when set, else `sized(full, smoke)`. */
export function envNumber(name: string, full: number, smoke: number): number {
  const text = benchEnv[name];
  if (text === undefined || text === '') return sized(full, smoke);
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${name}=${JSON.stringify(text)}: expected a number`);
  return value;
}

/** Where a benchmark's JSON goes: bench-results/<name>.json, or bench-results/smoke/ in smoke mode. */
export function resultPath(name: string): string {
  return path.join(ROOT, 'bench-results', ...(SMOKE ? ['smoke'] : []), `${name}.json`);
}

/** What a measured row counted: successes, errors and the first error's description. */
export interface Outcomes {
  ok: number;
  errors: number;
  firstError: string | null;
}

/** One operation of a load run: resolves to null on success, else to a description of what went wrong. */
export type Operation = () => Promise<string | null>;

/** A load run's figures, from its successful operations only. */
export interface LoadResult extends Outcomes {
  concurrency: number;
  seconds: number;
  /** Successful operations per second. */
  perSecond: number;
  p50_ms: number;
  p99_ms: number;
}

/**
 * Runs `op` from `concurrency` loops until `count` operations were started, or for `seconds`; only
 * successful operations count towards the rate and the latencies, and every failure is counted.
 */
export async function drive(options: {
  concurrency: number;
  op: Operation;
  count?: number;
  seconds?: number;
}): Promise<LoadResult> {
  const { concurrency, op, count, seconds } = options;
  if ((count === undefined) === (seconds === undefined)) throw new Error('drive: give count or seconds');
  const latencies: number[] = [];
  const outcomes: Outcomes = { ok: 0, errors: 0, firstError: null };
  let started = 0;
  const t0 = performance.now();
  const end = seconds === undefined ? Number.POSITIVE_INFINITY : t0 + seconds * 1000;
  const more = () => (count === undefined ? performance.now() < end : started < count);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) {
        started++;
        const t = performance.now();
        let error: string | null;
        try {
          error = await op();
        } catch (err) {
          error = (err as Error).message;
        }
        if (error === null) {
          outcomes.ok++;
          latencies.push(performance.now() - t);
        } else {
          outcomes.errors++;
          outcomes.firstError ??= error;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return {
    ...outcomes,
    concurrency,
    seconds: elapsed,
    perSecond: outcomes.ok / elapsed,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
  };
}

/** An HTTP operation: success when `accept(response)` (default: a 2xx); the body is always read. */
export function httpOperation(
  request: () => Promise<Response>,
  accept: (res: Response) => boolean = (res) => res.ok,
): Operation {
  return async () => {
    const res = await request();
    const body = await res.text();
    return accept(res) ? null : `${res.status} ${body.slice(0, 200)}`;
  };
}

/** A benchmark's report: the conditions its figures rest on, then its table, its JSON and its exit code. */
export class BenchReport {
  private readonly failures: string[] = [];

  /** `name` is the file's name without `.ts`: the smoke run looks for `resultPath(name)`. */
  constructor(readonly name: string) {}

  /** Records a condition the figures rest on (same bits, nothing lost, the expected count); false fails the run. */
  check(ok: boolean, what: string): boolean {
    if (!ok) this.failures.push(what);
    return ok;
  }

  /** Fails the run when a measured row counted any error. */
  noErrors(row: string, outcomes: Outcomes): boolean {
    return this.check(
      outcomes.errors === 0,
      `${row}: ${outcomes.errors} errors (${outcomes.ok} ok), first: ${outcomes.firstError}`,
    );
  }

  /**
   * Prints `table`, writes `data` (with the date, smoke mode and the failed checks) to `resultPath(name)`, and
   * sets the exit code: 1 when a check failed. Returns whether every check held.
   */
  finish(table: Record<string, unknown>[], data: Record<string, unknown>): boolean {
    console.table(table);
    const file = resultPath(this.name);
    mkdirSync(path.dirname(file), { recursive: true });
    const out = { date: new Date().toISOString(), smoke: SMOKE, failures: this.failures, ...data };
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${path.relative(ROOT, file)}`);
    if (this.failures.length === 0) return true;
    console.error(`${this.name}: ${this.failures.length} failed check(s):\n  ${this.failures.join('\n  ')}`);
    process.exitCode = 1;
    return false;
  }
}
