import { errorJson } from '@edgehead/contracts';
import { Hono } from 'hono';
import { onError } from './errors.ts';
import { adminRoutes } from './routes/admin.ts';
import { classifyRoutes } from './routes/classify.ts';
import { dashboardApi } from './routes/dashboard-api.ts';
import type { AppEnv } from './types.ts';

/** The edge worker: classify routes, the model registry, health; the dashboard's static assets around it. */
const app = new Hono<AppEnv>();

const routes = app
  .get('/health', (c) => c.json({ status: 'ok' as const }))
  .route('/v1', classifyRoutes)
  .route('/admin', adminRoutes)
  .route('/api', dashboardApi);

app.notFound((c) =>
  c.json(errorJson('not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`), 404),
);
app.onError(onError);

/** Route types for `hc<AppType>()` clients (dashboard, CLI). */
export type AppType = typeof routes;

export default app;
