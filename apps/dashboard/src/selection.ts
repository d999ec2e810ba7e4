import { COMPARE_MAX_RUNS } from '@edgehead/contracts';

const KEY = 'edgehead.compare';

/** Run ids picked for comparison (kept across pages of the table, per tab). */
export const selection = {
  get(): string[] {
    try {
      const v = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  },
  toggle(id: string, on: boolean): string[] {
    const ids = selection.get().filter((x) => x !== id);
    if (on) ids.push(id);
    const kept = ids.slice(-COMPARE_MAX_RUNS);
    sessionStorage.setItem(KEY, JSON.stringify(kept));
    return kept;
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};
