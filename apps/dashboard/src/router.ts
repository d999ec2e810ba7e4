/** Hash routes: `#/runs?…`, `#/runs/<id>`, `#/compare?ids=…`, `#/models`, `#/extractions`. */
export interface Route {
  page: 'runs' | 'run' | 'compare' | 'models' | 'extractions' | 'unknown';
  id?: string;
  params: URLSearchParams;
}

/** Parses a location hash into a route (the empty hash is the runs table). */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/runs';
  const [path = '', query = ''] = raw.split('?', 2);
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0 || (parts[0] === 'runs' && parts.length === 1)) return { page: 'runs', params };
  if (parts[0] === 'runs' && parts.length === 2)
    return { page: 'run', id: decodeURIComponent(parts[1] as string), params };
  if (parts[0] === 'compare' && parts.length === 1) return { page: 'compare', params };
  if (parts[0] === 'models' && parts.length === 1) return { page: 'models', params };
  if (parts[0] === 'extractions' && parts.length === 1) return { page: 'extractions', params };
  return { page: 'unknown', params };
}

/** Builds a hash link, dropping empty parameters. */
export function href(path: string, params: Record<string, string | number | null | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

/** Polls `fn` every `ms` until `stop()`; skips a tick while the previous call runs or the tab is hidden. */
export function poll(fn: () => Promise<void>, ms: number): { stop(): void } {
  let busy = false;
  let stopped = false;
  const timer = setInterval(async () => {
    if (busy || stopped || document.hidden) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  }, ms);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * Where the sign-in page goes after signing in: a path of this site from `?next=`, else `/`. Anything that a
 * browser could read as another origin (`//host`, backslashes, whitespace that it strips) is refused.
 */
export function safeNext(next: string | null): string {
  if (!next || !/^\/(?![/\\])[^\s\\]*$/.test(next) || next.startsWith('/signin')) return '/';
  return next;
}
