import { compareQuery, errorJson, runParams, runsQuery } from '@edgehead/contracts';
import {
  type Db,
  DbError,
  getModelOverview,
  getRunDetail,
  getRunsForCompare,
  listDatasets,
  listExtractions,
  listRunFacets,
  listRunsPage,
} from '@edgehead/db';
import { Hono, type MiddlewareHandler } from 'hono';
import { openDatabase } from '../database.ts';
import { ApiError, onError } from '../errors.ts';
import { validate } from '../validate.ts';

/**
 * Bindings the dashboard API needs: only Hyperdrive (structurally a subset of the worker's `Env`, so the
 * page can type-check against this module without the Workers globals).
 */
export interface DashboardBindings {
  HYPERDRIVE: { connectionString: string };
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

// postgres.js codes of a database that cannot be reached (Node and workerd sockets)
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/** A 503 for a database that cannot be reached (drizzle wraps the driver's error in `cause`). */
function unreachable(err: unknown): ApiError | null {
  for (
    let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) {
      return new ApiError(
        503,
        'unavailable',
        `database unreachable through the HYPERDRIVE binding (${e.code})`,
        undefined,
        { cause: err },
      );
    }
  }
  return null;
}

/** Data-layer errors become HTTP errors naming the value (404 for an unknown run). */
function httpError(err: unknown): never {
  if (err instanceof DbError && err.code === 'not_found')
    throw new ApiError(404, 'not_found', err.message, err.details, { cause: err });
  if (err instanceof DbError)
    throw new ApiError(400, 'validation_failed', err.message, err.details, { cause: err });
  throw err;
}

/**
 * `/api/*`: the read-only data of the metrics dashboard, from Postgres through Hyperdrive.
 * Activate and roll back go to the admin routes (`/admin/models/:alias/...`), which need the admin token.
 *
 * @example app.route('/api', dashboardApi) // then hc<typeof dashboardApi>('/api')
 */
export const dashboardApi = new Hono<DashboardEnv>()
  .use(database())
  .get('/runs', validate('query', runsQuery), async (c) => {
    const q = c.req.valid('query');
    const { items, total } = await listRunsPage(c.var.db, {
      datasetId: q.dataset,
      featureSetId: q.featureSet,
      status: q.status,
      sort: q.sort,
      order: q.order,
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    });
    return c.json({
      items,
      total,
      page: q.page,
      pageSize: q.pageSize,
      pages: Math.max(1, Math.ceil(total / q.pageSize)),
    });
  })
  .get('/runs/:id', validate('param', runParams), async (c) => {
    const detail = await getRunDetail(c.var.db, c.req.valid('param').id).catch(httpError);
    return c.json(detail);
  })
  .get('/compare', validate('query', compareQuery), async (c) => {
    const runs = await getRunsForCompare(c.var.db, c.req.valid('query').ids).catch(httpError);
    return c.json({ runs });
  })
  .get('/facets', async (c) => c.json(await listRunFacets(c.var.db)))
  .get('/datasets', async (c) => c.json({ datasets: await listDatasets(c.var.db) }))
  .get('/models', async (c) => c.json(await getModelOverview(c.var.db)))
  .get('/extractions', async (c) => c.json({ extractions: await listExtractions(c.var.db) }))
  .notFound((c) =>
    c.json(errorJson('not_found', `no dashboard route ${c.req.method} ${new URL(c.req.url).pathname}`), 404),
  )
  .onError((err, c) => onError(unreachable(err) ?? err, c));

/** Route types of the dashboard API for `hc<DashboardApi>()`. */
export type DashboardApi = typeof dashboardApi;
