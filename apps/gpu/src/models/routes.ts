import { ApiError } from '@edgehead/contracts';
import { apiApp, gpuRoutes } from '@edgehead/contracts/api';
import { type Db, getModel, getModelFiles, listDeployments, listModels } from '@edgehead/db';
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
  return apiApp()
    .openapi(gpuRoutes.listModels, async (c) => {
      const { name, limit } = c.req.valid('query');
      return c.json({ items: await listModels(deps.db, { ...(name ? { name } : {}), limit }) }, 200);
    })
    .openapi(gpuRoutes.listDeployments, async (c) =>
      c.json({ items: await listDeployments(deps.db, c.req.valid('query').alias) }, 200),
    )
    .openapi(gpuRoutes.activateAlias, async (c) =>
      c.json(
        await activateAtEdge(deps.db, edge(), c.req.valid('param').alias, c.req.valid('json').version),
        200,
      ),
    )
    .openapi(gpuRoutes.rollbackAlias, async (c) =>
      c.json(await rollbackAtEdge(deps.db, edge(), c.req.valid('param').alias), 200),
    )
    .openapi(gpuRoutes.getModel, async (c) => c.json(await getModel(deps.db, c.req.valid('param').id), 200))
    .openapi(gpuRoutes.getArtifact, async (c) => {
      const { file } = c.req.valid('query');
      const model = await getModel(deps.db, c.req.valid('param').id);
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
      return c.json(
        {
          modelId: model.id,
          name: model.name,
          version: model.version,
          artifactSha256: model.artifactSha256,
          files: {
            'model.json': b64('model.json'),
            'weights.bin': b64('weights.bin'),
            'manifest.json': b64('manifest.json'),
          },
        },
        200,
      );
    })
    .openapi(gpuRoutes.publishModel, async (c) => {
      const modelId = c.req.valid('param').id;
      const input = c.req.valid('json');
      const { edge: published, deployment } = await publishModel(deps.db, edge(), { modelId, ...input });
      return c.json(
        {
          modelId,
          alias: published.alias,
          version: published.version,
          active: published.active,
          deployment,
        },
        201,
      );
    });
}
