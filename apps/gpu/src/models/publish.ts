import {
  type ActiveResponse,
  activeResponse,
  errorBody,
  PUBLISH_PARTS,
  type PublishResponse,
  publishResponse,
} from '@edgehead/contracts';
import {
  activateDeployment,
  type Db,
  type Deployment,
  getModel,
  getModelFiles,
  type Model,
  recordDeployment,
} from '@edgehead/db';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { ApiError } from '../http/errors.ts';

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

function requireEdge(edge: EdgeAdmin | null | undefined): EdgeAdmin {
  if (!edge) {
    throw new ApiError(
      503,
      'unavailable',
      'publishing is off: set EDGEHEAD_EDGE_URL and EDGEHEAD_EDGE_ADMIN_TOKEN',
    );
  }
  return edge;
}

async function callEdge<T extends z.ZodType>(
  edge: EdgeAdmin,
  path: string,
  init: RequestInit,
  schema: T,
): Promise<z.output<T>> {
  const url = new URL(path, edge.url.endsWith('/') ? edge.url : `${edge.url}/`);
  let res: Response;
  try {
    res = await (edge.fetch ?? fetch)(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${edge.token}` },
    });
  } catch (cause) {
    throw new ApiError(
      503,
      'unavailable',
      `edge admin API at ${url.origin} unreachable: ${(cause as Error).message}`,
      undefined,
      { cause },
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = errorBody.safeParse(json);
    const message = err.success ? err.data.error.message : text.slice(0, 200);
    // the edge refused the request itself (conflict, bad artifact): pass its status on; its auth or
    // server failures are this service's configuration problem
    const status = (
      res.status === 401 || res.status === 403 || res.status >= 500 ? 502 : res.status
    ) as ContentfulStatusCode;
    throw new ApiError(
      status,
      err.success && status < 500 ? err.data.error.code : 'unavailable',
      `edge ${init.method ?? 'GET'} ${url.pathname} answered ${res.status}: ${message}`,
      { edgeStatus: res.status, edgeError: err.success ? err.data.error : undefined },
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(
      502,
      'unavailable',
      `edge ${url.pathname} answered an unexpected body: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
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
  const admin = requireEdge(edge);
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
  const query = input.activate ? '?activate=true' : '';
  const published = await callEdge(
    admin,
    `admin/models/${encodeURIComponent(input.alias)}/versions/${encodeURIComponent(version)}${query}`,
    { method: 'PUT', body: form },
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
  const res = await callEdge(
    requireEdge(edge),
    `admin/models/${encodeURIComponent(alias)}/activate`,
    { method: 'POST', body: JSON.stringify({ version }), headers: { 'content-type': 'application/json' } },
    activeResponse,
  );
  await mirrorActive(db, res, 'activate');
  return res;
}

/** Rolls `alias` back at the edge to the previously active version and mirrors it in Postgres. */
export async function rollbackAtEdge(
  db: Db,
  edge: EdgeAdmin | null | undefined,
  alias: string,
): Promise<ActiveResponse> {
  const res = await callEdge(
    requireEdge(edge),
    `admin/models/${encodeURIComponent(alias)}/rollback`,
    { method: 'POST' },
    activeResponse,
  );
  await mirrorActive(db, res, 'rollback');
  return res;
}

async function mirrorActive(db: Db, res: ActiveResponse, by: string): Promise<void> {
  try {
    await activateDeployment(db, res.alias, res.active, by);
  } catch {
    // a version published by another tool has no deployment row here; the edge stays the source of truth
  }
}
