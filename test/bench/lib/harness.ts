// What every benchmark shares: smoke mode, counting successes and errors, the table and JSON it reports, and
// its exit code (non-zero on any error or failed check, so a benchmark that breaks breaks CI).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchEnv } from './env.ts';

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname, '../../..');

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
export function resultPath(name: string, smoke = SMOKE): string {
  return path.join(ROOT, 'bench-results', ...(smoke ? ['smoke'] : []), `${name}.json`);
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

/** A load scenario: `op` from `concurrency` loops, `count` operations in all or for `seconds`. */
export interface Load {
  concurrency: number;
  op: Operation;
  count?: number;
  seconds?: number;
}

/** What the slices of one scenario measured so far. */
interface Tally extends Outcomes {
  latencies: number[];
  seconds: number;
}

/** Runs `count` operations (or for `seconds`) of `load` and adds what happened to `tally`. */
async function runSlice(tally: Tally, load: Load, count: number | undefined, seconds: number | undefined) {
  let started = 0;
  const t0 = performance.now();
  const end = seconds === undefined ? Number.POSITIVE_INFINITY : t0 + seconds * 1000;
  const more = () => (count === undefined ? performance.now() < end : started < count);
  await Promise.all(
    Array.from({ length: load.concurrency }, async () => {
      while (more()) {
        started++;
        const t = performance.now();
        let error: string | null;
        try {
          error = await load.op();
        } catch (err) {
          error = (err as Error).message;
        }
        if (error === null) {
          tally.ok++;
          tally.latencies.push(performance.now() - t);
        } else {
          tally.errors++;
          tally.firstError ??= error;
        }
      }
    }),
  );
  tally.seconds += (performance.now() - t0) / 1000;
}

function result(tally: Tally, concurrency: number): LoadResult {
  const latencies = [...tally.latencies].sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return {
    ok: tally.ok,
    errors: tally.errors,
    firstError: tally.firstError,
    concurrency,
    seconds: tally.seconds,
    perSecond: tally.ok / tally.seconds,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
  };
}

/**
 * Runs the scenarios in `rounds` interleaved slices (a slice of each scenario per round), so that other load
 * on the machine changing during the run weighs on every scenario alike; one result per scenario, from its
 * successful operations only (rate and latencies), every failure counted.
 */
export async function driveInterleaved(loads: Load[], rounds = 1): Promise<LoadResult[]> {
  for (const l of loads)
    if ((l.count === undefined) === (l.seconds === undefined))
      throw new Error('a load needs count or seconds');
  const tallies: Tally[] = loads.map(() => ({
    ok: 0,
    errors: 0,
    firstError: null,
    latencies: [],
    seconds: 0,
  }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, l] of loads.entries()) {
      const count =
        l.count === undefined
          ? undefined
          : Math.floor((l.count * (r + 1)) / rounds) - Math.floor((l.count * r) / rounds);
      await runSlice(tallies[i] as Tally, l, count, l.seconds === undefined ? undefined : l.seconds / rounds);
    }
  }
  return tallies.map((t, i) => result(t, (loads[i] as Load).concurrency));
}

/** One load scenario run on its own (see `driveInterleaved`). */
export async function drive(load: Load): Promise<LoadResult> {
  return (await driveInterleaved([load]))[0] as LoadResult;
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
