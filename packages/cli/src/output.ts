/** Human and machine output of the CLI: tables, durations, percentiles, a progress bar. */
import type { EpochMetrics } from '@edgehead/contracts';

/** Formats rows as an aligned text table; columns are taken from `columns` (header = key unless given). */
export function table<T extends Record<string, unknown>>(
  rows: readonly T[],
  columns: readonly ((keyof T & string) | [keyof T & string, string])[],
): string {
  const cols = columns.map((c) => (Array.isArray(c) ? c : ([c, c] as const)));
  const cell = (v: unknown) =>
    v === null || v === undefined ? '-' : typeof v === 'number' ? formatNumber(v) : String(v);
  const body = rows.map((row) => cols.map(([key]) => cell(row[key])));
  const head = cols.map(([, title]) => title);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

/** A number with at most 4 significant decimals (integers unchanged). */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(1);
  return Number(n.toPrecision(4)).toString();
}

/** Milliseconds as `850 ms`, `12.3 s`, `2 min 05 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${min} min ${String(s).padStart(2, '0')} s`;
}

/** Percentile `p` (0-100) of `values` with linear interpolation; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

/** p50/p90/p99/max of latencies in ms. */
export function latencySummary(values: readonly number[]): {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
} {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** One line of a progress bar: `[#####.....]  50/100 files  12.5 files/s  3 rejected`. */
export function progressLine(
  done: number,
  total: number,
  elapsedMs: number,
  extra = '',
  unit = 'files',
  width = 24,
): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total} ${unit}  ${rate.toFixed(1)} ${unit}/s${extra ? `  ${extra}` : ''}`;
}

/** A progress display: redraws one line on a TTY, prints at most every `everyMs` otherwise. */
export class Progress {
  private last = 0;
  private readonly started = Date.now();
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
    private readonly everyMs = 2000,
    private readonly unit = 'files',
  ) {}

  /** Updates the display with `done` items and optional extra text. */
  update(done: number, extra = ''): void {
    const now = Date.now();
    const line = progressLine(done, this.total, now - this.started, extra, this.unit);
    if (this.stream.isTTY) this.stream.write(`\r${line}\x1b[K`);
    else if (now - this.last >= this.everyMs || done === this.total) this.stream.write(`${line}\n`);
    else return;
    this.last = now;
  }

  /** Ends the line on a TTY. */
  finish(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }
}

/** One epoch as a line: `epoch  3/30  loss 0.4123  acc 0.8125  val_loss 0.3999  val_acc 0.8300  1.2 s`. */
export function epochLine(m: EpochMetrics, epochs?: number): string {
  const f = (v: number | null) => (v === null ? '-' : v.toFixed(4));
  const of = epochs ? `/${epochs}` : '';
  return `epoch ${`${m.epoch}${of}`.padStart(epochs ? String(epochs).length * 2 + 1 : 3)}  loss ${f(m.loss)}  acc ${f(m.accuracy)}  val_loss ${f(m.valLoss)}  val_acc ${f(m.valAccuracy)}  ${formatDuration(m.durationMs)}`;
}

/** Writes `value` as JSON (with `--json`) or the human text. */
export function emit(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
