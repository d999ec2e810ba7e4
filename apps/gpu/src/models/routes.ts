import {
  activateDeploymentRequest,
  artifactQuery,
  listModelsQuery,
  type ModelArtifactResponse,
  modelAlias,
  type PublishModelResponse,
  publishModelRequest,
} from '@edgehead/contracts';
import { type Db, getModel, getModelFiles, listDeployments, listModels } from '@edgehead/db';
import { Hono } from 'hono';
import { ApiError } from '../http/errors.ts';
import { jsonBody, parseInput } from '../runs/input.ts';
import { idOf } from '../runs/routes.ts';
import { activateAtEdge, type EdgeAdmin, publishModel, rollbackAtEdge } from './publish.ts';

/** What the model routes need. */
export interface ModelDeps {
  db: Db;
  /** `env.edge`: the edge's admin API (EDGEHEAD_EDGE_URL + EDGEHEAD_EDGE_ADMIN_TOKEN); null turns publishing off (503). */
  env?: { edge?: EdgeAdmin | null };
}

const CONTENT_TYPES: Record<string, string> = {
  'model.json': 'application/json',
  'manifest.json': 'application/json',
  'weights.bin': 'application/octet-stream',
};

/**
 * `/v1/models`: the registry of trained heads (list, one, artifact), publishing to the edge, and
 * activate/rollback pass-throughs at `/v1/models/aliases/:alias/...`. The app's bearer-token middleware
 * guards the POST routes.
 */
export function modelRoutes(deps: ModelDeps) {
  const edge = () => deps.env?.edge ?? null;
  return new Hono()
    .get('/', async (c) => {
      const q = parseInput(listModelsQuery, c.req.query(), 'query');
      return c.json({
        items: await listModels(deps.db, { ...(q.name ? { name: q.name } : {}), limit: q.limit }),
      });
    })
    .get('/deployments', async (c) => {
      const alias = c.req.query('alias');
      return c.json({
        items: await listDeployments(
          deps.db,
          alias === undefined ? undefined : parseInput(modelAlias, alias, 'alias'),
        ),
      });
    })
    .post('/aliases/:alias/activate', async (c) => {
      const alias = parseInput(modelAlias, c.req.param('alias'), 'alias');
      const { version } = parseInput(activateDeploymentRequest, await jsonBody(c), 'activate request');
      return c.json(await activateAtEdge(deps.db, edge(), alias, version));
    })
    .post('/aliases/:alias/rollback', async (c) => {
      const alias = parseInput(modelAlias, c.req.param('alias'), 'alias');
      return c.json(await rollbackAtEdge(deps.db, edge(), alias));
    })
    .get('/:id', async (c) => c.json(await getModel(deps.db, idOf(c))))
    .get('/:id/artifact', async (c) => {
      const { file } = parseInput(artifactQuery, c.req.query(), 'query');
      const model = await getModel(deps.db, idOf(c));
      const files = await getModelFiles(deps.db, model.id);
      const byName = (name: string) => {
        const f = files.find((x) => x.path === name);
        if (!f) throw new ApiError(500, 'internal', `model ${model.id} has no stored ${name}`);
        return f;
      };
      if (file !== undefined) {
        const f = byName(file);
        return c.body(new Uint8Array(f.data), 200, {
          'content-type': CONTENT_TYPES[file] ?? 'application/octet-stream',
          'x-sha256': f.sha256,
          etag: `"${f.sha256}"`,
          'content-disposition': `attachment; filename="${file}"`,
        });
      }
      const b64 = (name: string) => Buffer.from(byName(name).data).toString('base64');
      const body: ModelArtifactResponse = {
        modelId: model.id,
        name: model.name,
        version: model.version,
        artifactSha256: model.artifactSha256,
        files: {
          'model.json': b64('model.json'),
          'weights.bin': b64('weights.bin'),
          'manifest.json': b64('manifest.json'),
        },
      };
      return c.json(body);
    })
    .post('/:id/publish', async (c) => {
      const modelId = idOf(c);
      const input = parseInput(publishModelRequest, await jsonBody(c), 'publish request');
      const { edge: published, deployment } = await publishModel(deps.db, edge(), { modelId, ...input });
      const body: PublishModelResponse = {
        modelId,
        alias: published.alias,
        version: published.version,
        active: published.active,
        deployment: { ...deployment, createdAt: deployment.createdAt.toISOString() },
      };
      return c.json(body, 201);
    });
}
