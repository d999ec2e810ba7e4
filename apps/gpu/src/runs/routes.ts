import { createRunRequest, listRunsQuery, type RunDetailResponse } from '@edgehead/contracts';
import { cancelRun, getDataset, getRunDetail, listRuns } from '@edgehead/db';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { jsonBody, parseInput } from './input.ts';
import { type RunDeps, startTrainingRun } from './service.ts';

/**
 * `/v1/runs`: start (POST, queued + `train-head` job), list (filters, sort, pagination), detail with
 * epochs/evaluations/model, cancel. The app's bearer-token middleware guards the POST routes.
 */
export function runRoutes(deps: RunDeps) {
  return new Hono()
    .post('/', async (c) => {
      const input = parseInput(createRunRequest, await jsonBody(c), 'run request');
      const run = await startTrainingRun(deps, input);
      return c.json(run, 202);
    })
    .get('/', async (c) => {
      const q = parseInput(listRunsQuery, c.req.query(), 'query');
      const datasetId = q.dataset === undefined ? undefined : (await getDataset(deps.db, q.dataset)).id;
      const { items, total } = await listRuns(deps.db, {
        ...(datasetId ? { datasetId } : {}),
        ...(q.featureSet ? { featureSetId: q.featureSet } : {}),
        ...(q.status ? { status: q.status } : {}),
        sort: q.sort,
        order: q.order,
        limit: q.limit,
        offset: q.offset,
      });
      return c.json({ items, total, limit: q.limit, offset: q.offset });
    })
    .get('/:id', async (c) => {
      const detail = await getRunDetail(deps.db, idOf(c));
      const body: RunDetailResponse = {
        run: {
          ...detail.run,
          createdAt: detail.run.createdAt.toISOString(),
          startedAt: detail.run.startedAt?.toISOString() ?? null,
          finishedAt: detail.run.finishedAt?.toISOString() ?? null,
        },
        dataset: detail.dataset,
        epochs: detail.epochs.map((e) => ({
          epoch: e.epoch,
          loss: e.loss,
          accuracy: e.accuracy ?? Number.NaN,
          val_loss: e.valLoss,
          val_accuracy: e.valAccuracy,
          duration_ms: e.durationMs,
        })),
        evaluations: detail.evaluations.map(({ id: _id, runId: _run, createdAt: _at, ...ev }) => ev),
        model: detail.model,
      };
      return c.json(body);
    })
    .post('/:id/cancel', async (c) => c.json(await cancelRun(deps.db, idOf(c))));
}

const idParam = z.object({ id: z.uuid() });

/** The `:id` path parameter as a uuid, or 400 naming it (Postgres would reject it with a 500). */
export function idOf(c: Context): string {
  return parseInput(idParam, c.req.param(), 'path').id;
}
