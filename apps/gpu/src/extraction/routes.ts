import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import type { AppDeps } from '../deps.ts';
import { listExtractionsFor } from './service.ts';

/** `/v1/extractions`: every extraction with its progress (the per-dataset routes live under /v1/datasets). */
export function extractionRoutes(deps: AppDeps) {
  return apiApp().openapi(gpuRoutes.listExtractions, async (c) =>
    c.json({ extractions: await listExtractionsFor(deps, c.req.valid('query')) }, 200),
  );
}
