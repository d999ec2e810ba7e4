import {
  type ActiveResponse,
  activeResponse,
  type ErrorBody,
  errorBody,
  type VersionList,
  versionList,
} from '@edgehead/contracts';
// type-only: the page never bundles server code, but a route change in the edge breaks this build
import type { DashboardApi } from '@edgehead/edge/dashboard-api';
import { hc, type InferResponseType } from 'hono/client';

/** The typed client of the edge's `/api` routes. */
export const api = hc<DashboardApi>(new URL('/api', location.origin).toString());

export type RunsPage = InferResponseType<typeof api.runs.$get, 200>;
export type RunRow = RunsPage['items'][number];
export type RunDetail = InferResponseType<(typeof api.runs)[':id']['$get'], 200>;
export type Facets = InferResponseType<typeof api.facets.$get, 200>;
export type Comparison = InferResponseType<typeof api.compare.$get, 200>;
export type ModelOverview = InferResponseType<typeof api.models.$get, 200>;
export type Extractions = InferResponseType<typeof api.extractions.$get, 200>;

/** A failed API call: the HTTP status and the contract's error body (code, message, details). */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

async function toError(res: Response): Promise<ApiCallError> {
  const text = await res.text();
  let body: ErrorBody | null = null;
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    body = parsed.success ? parsed.data : null;
  } catch {
    body = null;
  }
  if (body) return new ApiCallError(res.status, body.error.code, body.error.message, body.error.details);
  return new ApiCallError(
    res.status,
    'http_error',
    `HTTP ${res.status} from ${new URL(res.url || location.href).pathname}: ${text.slice(0, 200) || res.statusText}`,
  );
}

/** Awaits an `hc` call and returns its JSON, throwing ApiCallError on a non-2xx answer. */
export async function ok<T>(
  call: Promise<{ ok: boolean; status: number; json(): Promise<T> } & Response>,
): Promise<T> {
  let res: Awaited<typeof call>;
  try {
    res = await call;
  } catch (cause) {
    throw new ApiCallError(
      0,
      'network',
      `the edge did not answer (${(cause as Error).message}); is \`wrangler dev\` running?`,
    );
  }
  if (!res.ok) throw await toError(res);
  return res.json();
}

const TOKEN_KEY = 'edgehead.adminToken';

/** The admin token of this tab (sessionStorage only: closing the tab forgets it). */
export const adminToken = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

async function admin<T>(path: string, init: RequestInit, parse: (v: unknown) => T): Promise<T> {
  const token = adminToken.get();
  if (!token) throw new ApiCallError(401, 'unauthorized', 'enter the admin token first');
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (cause) {
    throw new ApiCallError(0, 'network', `the edge did not answer (${(cause as Error).message})`);
  }
  if (!res.ok) throw await toError(res);
  return parse(await res.json());
}

/** The edge's registry of an alias (KV: the version that really serves), through the admin routes. */
export function edgeVersions(alias: string): Promise<VersionList> {
  return admin(`/admin/models/${encodeURIComponent(alias)}/versions`, {}, (v) => versionList.parse(v));
}

/** Activates a version at the edge. */
export function activate(alias: string, version: string): Promise<ActiveResponse> {
  return admin(
    `/admin/models/${encodeURIComponent(alias)}/activate`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version }) },
    (v) => activeResponse.parse(v),
  );
}

/** Rolls an alias back to the version active before the current one. */
export function rollback(alias: string): Promise<ActiveResponse> {
  return admin(`/admin/models/${encodeURIComponent(alias)}/rollback`, { method: 'POST' }, (v) =>
    activeResponse.parse(v),
  );
}
