import { errorJson, openApiDocument } from '@edgehead/contracts';
import { Hono } from 'hono';
import { callerAuth } from './auth.ts';
import { onError } from './errors.ts';
import { adminRoutes } from './routes/admin.ts';
import { authRoutes } from './routes/auth.ts';
import { classifyRoutes } from './routes/classify.ts';
import { dashboardApi } from './routes/dashboard-api.ts';
import { pageRoutes } from './routes/pages.ts';
import type { AppEnv } from './types.ts';

/**
 * The edge worker: classify routes, the model registry, health, and the dashboard (its page, `/api` and
 * sign-in), which needs a signed-in user.
 */
const app = new Hono<AppEnv>();

let openApi: ReturnType<typeof openApiDocument> | undefined;
/** The edge's OpenAPI document, built on first request (not at isolate start-up). */
function edgeOpenApi() {
  openApi ??= openApiDocument('edge');
  return openApi;
}

const routes = app
  .get('/health', (c) => c.json({ status: 'ok' as const }))
  .get('/openapi.json', (c) => c.json(edgeOpenApi()))
  .route('/v1', classifyRoutes)
  .route('/admin', adminRoutes)
  .route('/auth', authRoutes)
  .use('/api/*', callerAuth({ what: 'dashboard API' }))
  .route('/api', dashboardApi)
  .route('/', pageRoutes);

app.notFound((c) =>
  c.json(errorJson('not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`), 404),
);
app.onError(onError);

export { RegistryWriter } from './registry-writer.ts';

/** Route types for `hc<AppType>()` clients (dashboard, CLI). */
export type AppType = typeof routes;

export default app;
