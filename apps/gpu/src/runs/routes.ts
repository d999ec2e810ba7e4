import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import { cancelRun, getRunDetail, runsPage } from '@edgehead/db';
import { type RunDeps, startTrainingRun } from './service.ts';

/**
 * `/v1/runs`: start (POST, queued + `train-head` job), list (filters, sort, pages), detail with
 * epochs/evaluations/model, cancel. The app's bearer-token middleware guards the POST routes.
 */
export function runRoutes(deps: RunDeps) {
  return apiApp()
    .openapi(gpuRoutes.createRun, async (c) => c.json(await startTrainingRun(deps, c.req.valid('json')), 202))
    .openapi(gpuRoutes.listRuns, async (c) => c.json(await runsPage(deps.db, c.req.valid('query')), 200))
    .openapi(gpuRoutes.getRun, async (c) => c.json(await getRunDetail(deps.db, c.req.valid('param').id), 200))
    .openapi(gpuRoutes.cancelRun, async (c) =>
      c.json(await cancelRun(deps.db, c.req.valid('param').id), 200),
    );
}
