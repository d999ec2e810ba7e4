/** Formatting shared by the pages; pure functions (unit-tested). */

/** 0.9123 -> "91.2%"; null -> "–". */
export function pct(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? '–'
    : `${(value * 100).toFixed(digits)}%`;
}

/** A number with up to `digits` significant digits; null -> "–". */
export function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return Number(value.toPrecision(digits)).toString();
}

/** Milliseconds as "850 ms", "42 s", "3 min 05 s", "2 h 07 min". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** An ISO date as local "YYYY-MM-DD HH:MM". */
export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The head config in a few words: "256 relu · drop 0.5 · rmsprop 2e-5 · bs 20". */
export function headSummary(config: Record<string, unknown>): string {
  const parts: string[] = [];
  // a fine-tuning run's config: the layers it trains first
  if (Array.isArray(config.unfreeze)) parts.push(`unfreeze ${config.unfreeze.join(',')}`);
  const hidden = config.hiddenUnits;
  if (typeof hidden === 'number') parts.push(hidden === 0 ? 'linear' : `dense ${hidden}`);
  if (typeof config.dropout === 'number' && config.dropout > 0) parts.push(`drop ${config.dropout}`);
  if (typeof config.pooling === 'string' && config.pooling !== 'flatten')
    parts.push(`${config.pooling} pool`);
  if (typeof config.optimizer === 'string') {
    const lr = config.learningRate;
    parts.push(
      typeof lr === 'number'
        ? `${config.optimizer} ${lr < 1e-3 ? lr.toExponential() : lr}`
        : config.optimizer,
    );
  }
  if (typeof config.batchSize === 'number') parts.push(`bs ${config.batchSize}`);
  if (config.earlyStopping && typeof config.earlyStopping === 'object') parts.push('early stop');
  return parts.join(' · ') || '–';
}

/** What a run's preset cell says: its preset, `custom`, or `fine-tuning` for a fine-tuning run. */
export function presetLabel(run: { kind: string; preset: string | null }): string {
  return run.kind === 'finetune' ? 'fine-tuning' : (run.preset ?? 'custom');
}

/** Flattens a config object into dotted keys, for side-by-side tables: { a: { b: 1 } } -> { 'a.b': '1' }. */
export function flatten(
  value: unknown,
  prefix = '',
  out: Record<string, string> = {},
): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = '{}';
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] =
      value === null || value === undefined
        ? '–'
        : Array.isArray(value)
          ? JSON.stringify(value)
          : String(value);
  }
  return out;
}

/** True when not every value of the row is equal (the compare table highlights such rows). */
export function differs(values: readonly string[]): boolean {
  return values.some((v) => v !== values[0]);
}

/** Best (max) of a list of possibly-null numbers; null when none. */
export function best(values: readonly (number | null)[]): number | null {
  let top: number | null = null;
  for (const v of values) if (v !== null && (top === null || v > top)) top = v;
  return top;
}
