// `npm run bench:smoke`: every benchmark (each .ts directly in test/bench) in smoke mode, one after the other.
// A benchmark passes when it exits 0 within its time limit and wrote its smoke result with no failed check;
// the run exits 1 when any did not, so a benchmark that breaks breaks CI.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { benchEnv } from './env.ts';
import { envNumber, ROOT, resultPath } from './harness.ts';

const benchDir = path.join(ROOT, 'test/bench');
/** Seconds one benchmark may take (EDGEHEAD_BENCH_SMOKE_LIMIT_S): a hang fails the run instead of stalling CI. */
const LIMIT_S = envNumber('EDGEHEAD_BENCH_SMOKE_LIMIT_S', 300, 300);
/** Benchmarks to run (EDGEHEAD_BENCH_SMOKE_ONLY, comma-separated names), default all of them. */
const only = benchEnv.EDGEHEAD_BENCH_SMOKE_ONLY?.split(',').filter(Boolean);
const benches = readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -'.ts'.length))
  .filter((name) => !only || only.includes(name))
  .sort();

/** Runs one benchmark in smoke mode; resolves to its exit code (or signal) after at most LIMIT_S. */
function run(name: string): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, `${name}.ts`)], {
      cwd: ROOT,
      env: { ...benchEnv, EDGEHEAD_BENCH_SMOKE: '1' },
      stdio: 'inherit',
      detached: true, // its own process group, ended whole on a timeout or when this run is interrupted
    });
    const end = (signal: NodeJS.Signals) => child.pid && process.kill(-child.pid, signal);
    const timer = setTimeout(() => end('SIGKILL'), LIMIT_S * 1000);
    const interrupted = () => {
      end('SIGTERM');
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', interrupted);
      resolve(code ?? signal ?? 'unknown');
    });
  });
}

const results: { bench: string; seconds: string; result: string }[] = [];
for (const name of benches) {
  const file = resultPath(name, true);
  rmSync(file, { force: true });
  console.log(`\n=== bench:smoke ${name}`);
  const t = performance.now();
  const exit = await run(name);
  const seconds = ((performance.now() - t) / 1000).toFixed(1);
  let result: string;
  if (exit !== 0) result = exit === 'SIGKILL' ? `killed after ${LIMIT_S} s` : `exit ${exit}`;
  else if (!existsSync(file))
    result = `wrote no ${path.relative(ROOT, file)} (report through lib/harness.ts)`;
  else {
    const { failures } = JSON.parse(readFileSync(file, 'utf8')) as { failures?: string[] };
    result = failures?.length === 0 ? 'ok' : `failed checks: ${JSON.stringify(failures)}`;
  }
  results.push({ bench: name, seconds, result });
}
console.log('\nbench:smoke');
console.table(results);
const failed = results.filter((r) => r.result !== 'ok');
if (benches.length === 0 || failed.length > 0) {
  console.error(
    benches.length === 0 ? 'bench:smoke: no benchmark found' : `bench:smoke: ${failed.length} failed`,
  );
  process.exitCode = 1;
}
