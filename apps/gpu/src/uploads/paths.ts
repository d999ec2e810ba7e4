import type { RejectReason } from '@edgehead/contracts';

/** Where a file's split and label come from, or why its name is refused. */
export type PathLabels =
  | { ok: true; split: string | undefined; label: string | undefined; base: string }
  | { ok: false; reason: RejectReason; message: string };

/** Keras folder names edgehead also accepts for a split. */
const SPLIT_ALIASES: Record<string, string> = { val: 'validation', valid: 'validation' };

/** Maps `val`/`valid` to `validation`; other names unchanged. */
export function normalizeSplit(split: string): string {
  return SPLIT_ALIASES[split] ?? split;
}

/**
 * Reads `split/label/file` (any leading folders ignored, `label/file` when the split is given) from a
 * relative name; fields given for the whole batch win. Refuses absolute paths and `..` segments.
 * @example labelsFromPath('cats_and_dogs_small/train/cats/cat.1.jpg', {}) // split train, label cats
 */
export function labelsFromPath(name: string, fields: { split?: string; label?: string }): PathLabels {
  const unix = name.replace(/\\/g, '/');
  if (unix.startsWith('/') || /^[A-Za-z]:/.test(unix)) {
    return { ok: false, reason: 'unsafe_path', message: `absolute path ${JSON.stringify(name)} is refused` };
  }
  const parts = unix.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    return { ok: false, reason: 'unsafe_path', message: `path ${JSON.stringify(name)} contains ..` };
  }
  const base = parts[parts.length - 1];
  if (base === undefined) return { ok: false, reason: 'unsupported_entry', message: 'empty file name' };
  if (base.startsWith('.') || parts[0] === '__MACOSX') {
    return { ok: false, reason: 'unsupported_entry', message: `hidden or metadata file ${name} skipped` };
  }
  const dirs = parts.slice(0, -1);
  const label = fields.label ?? dirs[dirs.length - 1];
  const fromPath = dirs[dirs.length - (fields.label === undefined ? 2 : 1)];
  const split = fields.split ?? (fromPath === undefined ? undefined : normalizeSplit(fromPath));
  return { ok: true, split, label, base };
}
