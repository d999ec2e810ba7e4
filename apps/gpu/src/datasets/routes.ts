import {
  cancelExtractionRequest,
  createDatasetRequest,
  extractProgressQuery,
  extractRequest,
  registerFolderRequest,
  type UploadResponse,
} from '@edgehead/contracts';
import { getDataset } from '@edgehead/db';
import { Hono } from 'hono';
import type { AppDeps } from '../deps.ts';
import { cancelExtractionsFor, extractionFor, startExtraction } from '../extraction/service.ts';
import { limitBody } from '../http/limits.ts';
import { validate } from '../http/validate.ts';
import { archiveFormat, readArchive } from '../uploads/archive.ts';
import { folderFiles } from '../uploads/folder.ts';
import { type IncomingFile, ingestFiles } from '../uploads/ingest.ts';
import { readMultipart } from '../uploads/multipart.ts';
import { createDatasetFor, datasetDetail, deleteDatasetFor, listDatasetsFor } from './service.ts';

/** `/v1/datasets`: CRUD, uploads (multipart, archive, server folder) and feature extraction. */
export function datasetRoutes(deps: AppDeps): Hono {
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
  return new Hono()
    .post('/', validate('json', createDatasetRequest), async (c) =>
      c.json(await createDatasetFor(deps, c.req.valid('json')), 201),
    )
    .get('/', async (c) => c.json({ datasets: await listDatasetsFor(deps) }))
    .get('/:id', async (c) => c.json(await datasetDetail(deps, c.req.param('id'))))
    .delete('/:id', async (c) => c.json(await deleteDatasetFor(deps, c.req.param('id'))))
    .post('/:id/images', limitBody(limits.maxBodyBytes), async (c) => {
      const dataset = await getDataset(deps.db, c.req.param('id'));
      const { fields, files } = await readMultipart(c, limits.maxFiles);
      const incoming: IncomingFile[] = [];
      for (const f of files) {
        // An archive part is expanded in place, its member paths naming split and label.
        if (archiveFormat(f.data) !== undefined) incoming.push(...(await expand(f.name, f.data, fields)));
        else incoming.push({ ...fields, name: f.name, data: f.data });
      }
      return c.json((await ingestFiles(deps, dataset, incoming)) satisfies UploadResponse);
    })
    .post('/:id/archive', limitBody(limits.maxBodyBytes), async (c) => {
      const dataset = await getDataset(deps.db, c.req.param('id'));
      const body = new Uint8Array(await c.req.arrayBuffer());
      const split = c.req.query('split');
      const label = c.req.query('label');
      const entries = await readArchive(body, archiveLimits);
      const incoming = entries.map((e): IncomingFile => ({ split, label, ...e }));
      return c.json((await ingestFiles(deps, dataset, incoming)) satisfies UploadResponse);
    })
    .post('/:id/folder', validate('json', registerFolderRequest), async (c) => {
      const dataset = await getDataset(deps.db, c.req.param('id'));
      const files = await folderFiles(deps.env.importRoot, c.req.valid('json'), limits.maxArchiveEntries);
      return c.json((await ingestFiles(deps, dataset, files)) satisfies UploadResponse);
    })
    .post('/:id/extract', validate('json', extractRequest), async (c) =>
      c.json(await startExtraction(deps, c.req.param('id'), c.req.valid('json')), 202),
    )
    .get('/:id/extract', validate('query', extractProgressQuery), async (c) =>
      c.json(await extractionFor(deps, c.req.param('id'), c.req.valid('query'))),
    )
    .post('/:id/extract/cancel', validate('json', cancelExtractionRequest), async (c) =>
      c.json(await cancelExtractionsFor(deps, c.req.param('id'), c.req.valid('json'))),
    );
}
