import { type ExtractionList, listExtractionsQuery } from '@edgehead/contracts';
import { Hono } from 'hono';
import type { AppDeps } from '../deps.ts';
import { validate } from '../http/validate.ts';
import { listExtractionsFor } from './service.ts';

/** `/v1/extractions`: every extraction with its progress (the per-dataset routes live under /v1/datasets). */
export function extractionRoutes(deps: AppDeps): Hono {
  return new Hono().get('/', validate('query', listExtractionsQuery), async (c) => {
    const body: ExtractionList = { extractions: await listExtractionsFor(deps, c.req.valid('query')) };
    return c.json(body);
  });
}
