import {
  type ActiveResponse,
  activeResponse,
  CSRF_HEADER,
  type ErrorBody,
  errorBody,
  type SessionResponse,
  sessionResponse,
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

/** Sends the browser to the sign-in page, to come back here afterwards. */
export function toSignIn(): void {
  location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
}

/**
 * A fetch's JSON, parsed, or an ApiCallError for a non-2xx answer or no answer; a 401 (no session, or it
 * expired) also sends the browser to the sign-in page.
 */
async function answer<T>(sent: Promise<Response>, parse: (value: unknown) => T): Promise<T> {
  let res: Response;
  try {
    res = await sent;
  } catch (cause) {
    throw new ApiCallError(
      0,
      'network',
      `the edge did not answer (${(cause as Error).message}); is \`wrangler dev\` running?`,
    );
  }
  if (res.status === 401) toSignIn();
  if (!res.ok) throw await toError(res);
  return parse(await res.json());
}

/** Awaits an `hc` call and returns its JSON (see `answer`). */
export function ok<T>(call: Promise<{ json(): Promise<T> } & Response>): Promise<T> {
  return answer(call, (value) => value as T);
}

let session: Promise<SessionResponse> | undefined;

/** Who is signed in and the session's CSRF token (`GET /auth/session`, read once per page load). */
export function currentSession(): Promise<SessionResponse> {
  session ??= answer(fetch('/auth/session'), (v) => sessionResponse.parse(v));
  session.catch(() => {
    session = undefined;
  });
  return session;
}

/** A change through the session (its same-origin cookie, or Access): it carries the CSRF token. */
async function change<T>(path: string, init: RequestInit, parse: (value: unknown) => T): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set(CSRF_HEADER, (await currentSession()).csrfToken);
  return answer(fetch(path, { ...init, headers }), parse);
}

/** Signs out: clears the session cookie, or leaves Cloudflare Access, then shows the sign-in page. */
export async function signOut(): Promise<void> {
  const { via } = await currentSession();
  if (via === 'access') {
    location.assign('/cdn-cgi/access/logout');
    return;
  }
  await change('/auth/logout', { method: 'POST' }, (v) => v);
  location.assign('/signin');
}

/** The edge's registry of an alias (KV: the version that really serves), through the admin routes. */
export function edgeVersions(alias: string): Promise<VersionList> {
  return answer(fetch(`/admin/models/${encodeURIComponent(alias)}/versions`), (v) => versionList.parse(v));
}

/** Activates a version at the edge. */
export function activate(alias: string, version: string): Promise<ActiveResponse> {
  return change(
    `/admin/models/${encodeURIComponent(alias)}/activate`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version }) },
    (v) => activeResponse.parse(v),
  );
}

/** Rolls an alias back to the version active before the current one. */
export function rollback(alias: string): Promise<ActiveResponse> {
  return change(`/admin/models/${encodeURIComponent(alias)}/rollback`, { method: 'POST' }, (v) =>
    activeResponse.parse(v),
  );
}
