import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import type { AppDeps } from '../deps.ts';
import { renderAugmentationSamples } from './samples.ts';
import { listExtractionsFor } from './service.ts';

/**
 * `/v1/extractions`: every extraction with its progress, and the augmented samples of one (the per-dataset
 * routes live under /v1/datasets).
 */
export function extractionRoutes(deps: AppDeps) {
  return apiApp()
    .openapi(gpuRoutes.listExtractions, async (c) =>
      c.json({ extractions: await listExtractionsFor(deps, c.req.valid('query')) }, 200),
    )
    .openapi(gpuRoutes.augmentationSamples, async (c) => {
      const samples = await renderAugmentationSamples(deps, c.req.valid('param').id, c.req.valid('query'));
      return c.body(samples.bytes as Uint8Array<ArrayBuffer>, 200, {
        'content-type': samples.contentType,
        'cache-control': 'private, max-age=3600',
        'x-edgehead-images': samples.imageIds.join(','),
      });
    });
}
