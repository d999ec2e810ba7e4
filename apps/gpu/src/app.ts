import { errorJson, openApiDocument } from '@edgehead/contracts';
import { Hono } from 'hono';
import { datasetRoutes } from './datasets/routes.ts';
import type { AppDeps } from './deps.ts';
import { extractionRoutes } from './extraction/routes.ts';
import { featureRoutes } from './features/routes.ts';
import { requireToken } from './http/auth.ts';
import { onError } from './http/errors.ts';
import { healthRoutes } from './http/health.ts';
import { modelRoutes } from './models/index.ts';
import { runRoutes } from './runs/index.ts';

export type { AppDeps } from './deps.ts';

/**
 * The gpu service's HTTP app, without a server (tests call `app.request()`).
 * Every `/v1` write route and `/v1/features` need `Authorization: Bearer <EDGEHEAD_GPU_TOKEN>`; GET
 * routes too when `EDGEHEAD_GPU_PROTECT_READS` is set.
 * @example const app = createApp(deps); const res = await app.request('/health');
 */
export function createApp(deps: AppDeps) {
  const app = new Hono();
  app.onError(onError);
  app.notFound((c) => c.json(errorJson('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.route('/health', healthRoutes(deps));
  const openApi = openApiDocument('gpu');
  app.get('/openapi.json', (c) => c.json(openApi));
  app.use('/v1/*', requireToken({ token: deps.env.token, openReads: !deps.env.protectReads }));
  app.route('/v1/datasets', datasetRoutes(deps));
  app.route('/v1/extractions', extractionRoutes(deps));
  app.route('/v1/features', featureRoutes(deps));
  app.route('/v1/runs', runRoutes(deps));
  app.route('/v1/models', modelRoutes(deps));
  return app;
}

/** Type of the app, for `hc<GpuAppType>()` clients. */
export type GpuAppType = ReturnType<typeof createApp>;
