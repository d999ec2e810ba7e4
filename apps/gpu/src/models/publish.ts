import {
  type ActiveResponse,
  ApiError,
  activeResponse,
  errorBody,
  PUBLISH_PARTS,
  type PublishResponse,
  publishResponse,
} from '@edgehead/contracts';
import type { EdgeApi } from '@edgehead/contracts/api';
import {
  activateDeployment,
  type Db,
  type Deployment,
  getModel,
  getModelFiles,
  type Model,
  recordDeployment,
} from '@edgehead/db';
import { hc } from 'hono/client';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

/** Where the edge's admin API is and how to authenticate to it. */
export interface EdgeAdmin {
  /** Base URL of the edge worker, e.g. `https://edgehead.example.workers.dev`. */
  url: string;
  /** The edge's ADMIN_TOKEN. */
  token: string;
  fetch?: typeof fetch;
}

/** Input of `publishModel`. */
export interface PublishInput {
  modelId: string;
  alias: string;
  /** Version name at the edge; default `v<model version>`. */
  version?: string;
  activate: boolean;
}

/** What a publish did. */
export interface PublishResult {
  model: Model;
  edge: PublishResponse;
  deployment: Deployment;
}

/**
 * The typed client of the edge's admin API (503 when publishing is not configured) and how its answers are
 * read: the 2xx answer to a call, checked against `schema`. The edge's refusals of the request itself (a
 * conflict, a bad artifact) pass on with their status; its auth or server failures, and an edge that cannot
 * be reached, are this service's configuration problem (502/503).
 */
function edgeClient(edge: EdgeAdmin | null | undefined) {
  if (!edge) {
    throw new ApiError(
      503,
      'unavailable',
      'publishing is off: set EDGEHEAD_EDGE_URL and EDGEHEAD_EDGE_ADMIN_TOKEN',
    );
  }
  const { admin } = hc<EdgeApi>(edge.url, {
    headers: { authorization: `Bearer ${edge.token}` },
    ...(edge.fetch ? { fetch: edge.fetch } : {}),
  });
  const send = async <T extends z.ZodType>(
    call: Promise<{ ok: boolean; status: number; url: string; text(): Promise<string> }>,
    schema: T,
  ): Promise<z.output<T>> => {
    let res: Awaited<typeof call>;
    try {
      res = await call;
    } catch (cause) {
      throw new ApiError(
        503,
        'unavailable',
        `edge admin API at ${new URL(edge.url).origin} unreachable: ${(cause as Error).message}`,
        undefined,
        { cause },
      );
    }
    const what = `edge ${new URL(res.url).pathname}`;
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok) {
      const parsed = schema.safeParse(json);
      if (parsed.success) return parsed.data;
      throw new ApiError(
        502,
        'unavailable',
        `${what} answered an unexpected body: ${parsed.error.issues[0]?.message}`,
      );
    }
    const err = errorBody.safeParse(json);
    const message = err.success ? err.data.error.message : text.slice(0, 200);
    const status = (
      res.status === 401 || res.status === 403 || res.status >= 500 ? 502 : res.status
    ) as ContentfulStatusCode;
    throw new ApiError(
      status,
      err.success && status < 500 ? err.data.error.code : 'unavailable',
      `${what} answered ${res.status}: ${message}`,
      { edgeStatus: res.status, edgeError: err.success ? err.data.error : undefined },
    );
  };
  return { admin, send };
}

/**
 * Publishes a registered model to the edge (`PUT /admin/models/:alias/versions/:version`, multipart with
 * the three artifact files) and records the deployment in Postgres.
 * @example await publishModel(db, edge, { modelId, alias: 'cats-vs-dogs', activate: true });
 */
export async function publishModel(
  db: Db,
  edge: EdgeAdmin | null | undefined,
  input: PublishInput,
): Promise<PublishResult> {
  const { admin, send } = edgeClient(edge);
  const model = await getModel(db, input.modelId);
  const files = await getModelFiles(db, model.id);
  const form = new FormData();
  for (const name of PUBLISH_PARTS) {
    const file = files.find((f) => f.path === name);
    if (!file) throw new ApiError(500, 'internal', `model ${model.id} has no stored ${name}`);
    form.append(
      name,
      new Blob([new Uint8Array(file.data)], {
        type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      }),
      name,
    );
  }
  const version = input.version ?? `v${model.version}`;
  const published = await send(
    admin.models[':alias'].versions[':version'].$put(
      { param: { alias: input.alias, version }, query: input.activate ? { activate: 'true' } : {} },
      { init: { body: form } },
    ),
    publishResponse,
  );
  const deployment = await recordDeployment(db, {
    modelId: model.id,
    alias: published.alias,
    edgeVersion: published.version,
    active: published.active,
    activatedBy: 'publish',
  });
  return { model, edge: published, deployment };
}

/** Activates `version` of `alias` at the edge and mirrors it in Postgres. */
export async function activateAtEdge(
  db: Db,
  edge: EdgeAdmin | null | undefined,
  alias: string,
  version: string,
): Promise<ActiveResponse> {
  const { admin, send } = edgeClient(edge);
  const call = admin.models[':alias'].activate.$post({ param: { alias }, json: { version } });
  return mirrorActive(db, await send(call, activeResponse), 'activate');
}

/** Rolls `alias` back at the edge to the previously active version and mirrors it in Postgres. */
export async function rollbackAtEdge(
  db: Db,
  edge: EdgeAdmin | null | undefined,
  alias: string,
): Promise<ActiveResponse> {
  const { admin, send } = edgeClient(edge);
  const call = admin.models[':alias'].rollback.$post({ param: { alias } });
  return mirrorActive(db, await send(call, activeResponse), 'rollback');
}

/** Records the edge's switch in Postgres and hands it back. */
async function mirrorActive(db: Db, res: ActiveResponse, by: string): Promise<ActiveResponse> {
  try {
    await activateDeployment(db, res.alias, res.active, by);
  } catch {
    // a version published by another tool has no deployment row here; the edge stays the source of truth
  }
  return res;
}
