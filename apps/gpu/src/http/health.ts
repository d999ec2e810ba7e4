import path from 'node:path';
import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import type { AppDeps } from '../deps.ts';

/** A probe slower than this reports the dependency down: queue statements wait out lost connections. */
const PROBE_TIMEOUT_MS = 3000;

async function timed<T>(
  f: () => Promise<T>,
): Promise<{ ok: true; ms: number; value: T } | { ok: false; error: string }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  try {
    const value = await Promise.race([f(), timeout]);
    return { ok: true, ms: Math.round(performance.now() - t0), value };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Where weights came from, fit for an unauthenticated probe: a URL's origin and path (no credentials, no
 * query: a presigned URL's signature is in it), a local path's last segment.
 */
export function publicWeightsSource(source: string): string {
  if (/^https?:\/\//i.test(source)) {
    const url = new URL(source);
    return `${url.origin}${url.pathname}`;
  }
  return path.basename(source);
}

/** `GET /health`: tfjs backend, database and queue reachability; 503 when the database or queue is down. */
export function healthRoutes(deps: AppDeps) {
  return apiApp().openapi(gpuRoutes.health, async (c) => {
    const [backend, db, queue, extractors] = await Promise.all([
      timed(() => deps.extractors.backend()),
      timed(() => deps.sql`select 1 as one`),
      timed(() => deps.queue.boss.getQueues()),
      deps.extractors.loaded(),
    ]);
    const ok = db.ok && queue.ok && backend.ok;
    const body = {
      status: ok ? ('ok' as const) : ('degraded' as const),
      backend: backend.ok
        ? {
            name: backend.value.name,
            tfBackend: backend.value.tfBackend,
            simd: backend.value.simd,
            skipped: backend.value.skipped,
            tfjsVersion: backend.value.tfjsVersion,
          }
        : { error: backend.error },
      db: db.ok ? { ok: true as const, ms: db.ms } : db,
      queue: queue.ok ? { ok: true as const, ms: queue.ms, queues: queue.value.map((q) => q.name) } : queue,
      extractors: extractors.map((e) => ({ ...e, weights: publicWeightsSource(e.weights) })),
      poolSize: deps.env.poolSize,
    };
    return ok ? c.json(body, 200) : c.json(body, 503);
  });
}
