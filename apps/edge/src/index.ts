import { apiApp, describeService, edgeRoutes, notFound } from '@edgehead/contracts/api';
import { callerAuth } from './auth.ts';
import { onError } from './errors.ts';
import { adminRoutes } from './routes/admin.ts';
import { authRoutes } from './routes/auth.ts';
import { classifyRoutes } from './routes/classify.ts';
import { dashboardApi } from './routes/dashboard-api.ts';
import { pageRoutes } from './routes/pages.ts';
import type { AppEnv } from './types.ts';

/**
 * The edge worker: the routes of `edgeRoutes` (classify, the model registry, health, the dashboard's
 * sign-in and `/api`, which needs a signed-in user), each module mounted at the root, then the dashboard's
 * static assets.
 */
const app = apiApp<AppEnv>();
app.onError(onError);
app.notFound(notFound);

let openApi: ReturnType<typeof app.getOpenAPI31Document> | undefined;
/** The worker's OpenAPI document, from the routes registered here, built on first request (not at start-up). */
function edgeOpenApi() {
  openApi ??= app.getOpenAPI31Document(describeService(app, 'edge'));
  return openApi;
}

const routes = app
  .openapi(edgeRoutes.health, (c) => c.json({ status: 'ok' as const }, 200))
  .openapi(edgeRoutes.openApi, (c) => c.json(edgeOpenApi(), 200))
  .route('/', classifyRoutes)
  .route('/', adminRoutes)
  .route('/', authRoutes)
  .use('/api/*', callerAuth({ what: 'dashboard API' }))
  .route('/', dashboardApi)
  .route('/', pageRoutes);

export { RegistryWriter } from './registry-writer.ts';
export { SignInLinks } from './sign-in-links.ts';

/** Type of the worker's routes; it equals `EdgeApi` of the route definitions (see test/app-type.test.ts). */
export type AppType = typeof routes;

export default app;
