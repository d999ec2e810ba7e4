import { ApiError } from '@edgehead/contracts';
import { apiApp, edgeRoutes, type GpuApi, notFound } from '@edgehead/contracts/api';
import {
  type Db,
  getModelOverview,
  getRunDetail,
  getRunsForCompare,
  listDatasets,
  listExtractions,
  listRunFacets,
  runsPage,
} from '@edgehead/db';
import type { MiddlewareHandler } from 'hono';
import { hc } from 'hono/client';
import { openDatabase } from '../database.ts';
import { onError } from '../errors.ts';

/**
 * Bindings the dashboard API needs: only Hyperdrive (structurally a subset of the worker's `Env`, so the
 * page can type-check against this module without the Workers globals).
 */
export interface DashboardBindings {
  HYPERDRIVE: { connectionString: string };
  /** The gpu service, for the pictures only it can render (augmented samples). */
  GPU_SERVICE_URL?: string;
  GPU_SERVICE_TOKEN?: string;
}

/** The augmented-samples picture of an extraction from the gpu service, passed through (its errors too). */
async function samplesFromGpu(
  env: DashboardBindings,
  id: string,
  query: Record<string, string | number>,
): Promise<Response> {
  if (!env.GPU_SERVICE_URL)
    throw new ApiError(503, 'unavailable', 'no gpu service configured (GPU_SERVICE_URL)');
  const gpu = hc<GpuApi>(env.GPU_SERVICE_URL);
  let res: Awaited<ReturnType<(typeof gpu.v1.extractions)[':id']['samples']['$get']>>;
  try {
    res = await gpu.v1.extractions[':id'].samples.$get(
      { param: { id }, query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) },
      { headers: env.GPU_SERVICE_TOKEN ? { authorization: `Bearer ${env.GPU_SERVICE_TOKEN}` } : {} },
    );
  } catch (cause) {
    console.error('gpu service unreachable', new URL(env.GPU_SERVICE_URL).origin, (cause as Error).message);
    throw new ApiError(503, 'unavailable', 'the gpu service is unreachable', undefined, { cause });
  }
  const headers = new Headers({ 'content-type': res.headers.get('content-type') ?? 'application/json' });
  for (const name of ['cache-control', 'x-edgehead-images']) {
    const value = res.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  return new Response(res.body, { status: res.status, headers });
}

/** Hono environment of the dashboard API: the bindings plus the per-request database. */
export interface DashboardEnv {
  Bindings: DashboardBindings;
  Variables: { db: Db };
}

/** A database client per request through Hyperdrive. */
function database(): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const { db, release } = openDatabase(c.env.HYPERDRIVE.connectionString, {
      executionCtx: () => c.executionCtx,
    });
    c.set('db', db);
    try {
      await next();
    } finally {
      await release();
    }
  };
}

/**
 * `/api/*`: the read-only data of the metrics dashboard, from Postgres through Hyperdrive (its own error
 * handler too, so that it answers alike when a test calls it alone). Activate and roll back go to the admin
 * routes (`/admin/models/:alias/...`).
 * @example app.route('/', dashboardApi)
 */
const dashboard = apiApp<DashboardEnv>();
dashboard.use('/api/*', database());

export const dashboardApi = dashboard
  .openapi(edgeRoutes.runs, async (c) => c.json(await runsPage(c.var.db, c.req.valid('query')), 200))
  .openapi(edgeRoutes.run, async (c) => c.json(await getRunDetail(c.var.db, c.req.valid('param').id), 200))
  .openapi(edgeRoutes.compare, async (c) =>
    c.json({ runs: await getRunsForCompare(c.var.db, c.req.valid('query').ids) }, 200),
  )
  .openapi(edgeRoutes.facets, async (c) => c.json(await listRunFacets(c.var.db), 200))
  .openapi(edgeRoutes.datasets, async (c) => c.json({ datasets: await listDatasets(c.var.db) }, 200))
  .openapi(edgeRoutes.models, async (c) => c.json(await getModelOverview(c.var.db), 200))
  .openapi(edgeRoutes.extractions, async (c) => c.json({ extractions: await listExtractions(c.var.db) }, 200))
  .openapi(edgeRoutes.augmentationSamples, async (c) =>
    samplesFromGpu(c.env, c.req.valid('param').id, c.req.valid('query')),
  )
  .notFound(notFound)
  .onError(onError);
