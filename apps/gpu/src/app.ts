import { apiApp, describeService, gpuRoutes, notFound } from '@edgehead/contracts/api';
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
 * The gpu service's HTTP app, without a server (tests call `app.request()`): the routes of `gpuRoutes`,
 * each module mounted at the root (the definitions carry full paths). Every `/v1` write route and
 * `/v1/features` need `Authorization: Bearer <EDGEHEAD_GPU_TOKEN>`; GET routes too when
 * `EDGEHEAD_GPU_PROTECT_READS` is set.
 * @example const app = createApp(deps); const res = await app.request('/health');
 */
export function createApp(deps: AppDeps) {
  const app = apiApp();
  app.onError(onError);
  app.notFound(notFound);
  let openApi: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  return app
    .openapi(gpuRoutes.openApi, (c) => {
      openApi ??= app.getOpenAPI31Document(describeService(app, 'gpu'));
      return c.json(openApi, 200);
    })
    .route('/', healthRoutes(deps))
    .use('/v1/*', requireToken({ token: deps.env.token, openReads: !deps.env.protectReads }))
    .route('/', datasetRoutes(deps))
    .route('/', extractionRoutes(deps))
    .route('/', featureRoutes(deps))
    .route('/', runRoutes(deps))
    .route('/', modelRoutes(deps));
}

/** Type of the app, for `hc` clients; it equals `GpuApi` of the route definitions (see app-type.test.ts). */
export type GpuAppType = ReturnType<typeof createApp>;
