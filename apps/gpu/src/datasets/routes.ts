import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import { getDataset } from '@edgehead/db';
import type { AppDeps } from '../deps.ts';
import { cancelExtractionsFor, extractionFor, startExtraction } from '../extraction/service.ts';
import { limitBody } from '../http/limits.ts';
import { archiveFormat, readArchive } from '../uploads/archive.ts';
import { folderFiles } from '../uploads/folder.ts';
import { type IncomingFile, ingestFiles } from '../uploads/ingest.ts';
import { readMultipart } from '../uploads/multipart.ts';
import { createDatasetFor, datasetDetail, deleteDatasetFor, listDatasetsFor } from './service.ts';

/** `/v1/datasets`: CRUD, uploads (multipart, archive, server folder) and feature extraction. */
export function datasetRoutes(deps: AppDeps) {
  const { limits } = deps.env;
  const archiveLimits = {
    maxTotalBytes: limits.maxArchiveBytes,
    maxEntries: limits.maxArchiveEntries,
    maxEntryBytes: limits.maxImageBytes,
  };
  const expand = async (name: string, data: Uint8Array, fields: Partial<IncomingFile>) =>
    (await readArchive(data, archiveLimits)).map(
      (e): IncomingFile => ({ ...fields, ...e, path: e.name, name: `${name}:${e.name}` }),
    );
  const limited = limitBody(limits.maxBodyBytes);
  return apiApp()
    .openapi(gpuRoutes.createDataset, async (c) =>
      c.json(await createDatasetFor(deps, c.req.valid('json')), 201),
    )
    .openapi(gpuRoutes.listDatasets, async (c) => c.json({ datasets: await listDatasetsFor(deps) }, 200))
    .openapi(gpuRoutes.getDataset, async (c) =>
      c.json(await datasetDetail(deps, c.req.valid('param').id), 200),
    )
    .openapi(gpuRoutes.deleteDataset, async (c) =>
      c.json(await deleteDatasetFor(deps, c.req.valid('param').id), 200),
    )
    .openapi({ ...gpuRoutes.uploadImages, middleware: [limited] }, async (c) => {
      const dataset = await getDataset(deps.db, c.req.valid('param').id);
      const { fields, files } = await readMultipart(c, limits.maxFiles);
      const incoming: IncomingFile[] = [];
      for (const f of files) {
        // An archive part is expanded in place, its member paths naming split and label.
        if (archiveFormat(f.data) !== undefined) incoming.push(...(await expand(f.name, f.data, fields)));
        else incoming.push({ ...fields, name: f.name, data: f.data });
      }
      return c.json(await ingestFiles(deps, dataset, incoming), 200);
    })
    .openapi({ ...gpuRoutes.uploadArchive, middleware: [limited] }, async (c) => {
      const dataset = await getDataset(deps.db, c.req.valid('param').id);
      const body = new Uint8Array(await c.req.arrayBuffer());
      const { split, label } = c.req.valid('query');
      const entries = await readArchive(body, archiveLimits);
      const incoming = entries.map((e): IncomingFile => ({ split, label, ...e }));
      return c.json(await ingestFiles(deps, dataset, incoming), 200);
    })
    .openapi(gpuRoutes.registerFolder, async (c) => {
      const dataset = await getDataset(deps.db, c.req.valid('param').id);
      const files = await folderFiles(deps.env.importRoot, c.req.valid('json'), limits.maxArchiveEntries);
      return c.json(await ingestFiles(deps, dataset, files), 200);
    })
    .openapi(gpuRoutes.startExtraction, async (c) =>
      c.json(await startExtraction(deps, c.req.valid('param').id, c.req.valid('json')), 202),
    )
    .openapi(gpuRoutes.getExtraction, async (c) =>
      c.json(await extractionFor(deps, c.req.valid('param').id, c.req.valid('query')), 200),
    )
    .openapi(gpuRoutes.cancelExtractions, async (c) =>
      c.json(await cancelExtractionsFor(deps, c.req.valid('param').id, c.req.valid('json')), 200),
    );
}
