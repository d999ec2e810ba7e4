import { CSRF_HEADER, type ErrorBody, errorBody } from '@edgehead/contracts';
// type-only: the page bundles no route definitions, but a route change in the contract breaks this build
import type { EdgeApi, SuccessBody } from '@edgehead/contracts/api';
import { hc, type InferResponseType } from 'hono/client';

/** The typed client of the edge, the page's own origin. */
const edge = hc<EdgeApi>(location.origin);

/** The edge's `/api` routes (the dashboard's data). */
export const api = edge.api;

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
 * The JSON of a client call's 2xx answer, typed by its route, or an ApiCallError for any other answer or
 * none; a 401 (no session, or it expired) also sends the browser to the sign-in page.
 * @example const runs = await ok(api.runs.$get({ query }));
 */
export async function ok<R extends Response>(sent: Promise<R>): Promise<SuccessBody<R>> {
  let res: R;
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
  return (await res.json()) as SuccessBody<R>;
}

type Session = SuccessBody<Awaited<ReturnType<typeof edge.auth.session.$get>>>;
let session: Promise<Session> | undefined;

/** Who is signed in and the session's CSRF token (`GET /auth/session`, read once per page load). */
export function currentSession(): Promise<Session> {
  session ??= ok(edge.auth.session.$get());
  session.catch(() => {
    session = undefined;
  });
  return session;
}

/** The headers of a change through the session (its same-origin cookie, or Access): the CSRF token. */
async function csrf(): Promise<{ headers: Record<string, string> }> {
  return { headers: { [CSRF_HEADER]: (await currentSession()).csrfToken } };
}

/** Signs out: clears the session cookie, or leaves Cloudflare Access, then shows the sign-in page. */
export async function signOut(): Promise<void> {
  const { via } = await currentSession();
  if (via === 'access') {
    location.assign('/cdn-cgi/access/logout');
    return;
  }
  await ok(edge.auth.logout.$post(undefined, await csrf()));
  location.assign('/signin');
}

const models = edge.admin.models[':alias'];

/** The edge's registry of an alias (KV: the version that really serves), through the admin routes. */
export function edgeVersions(alias: string) {
  return ok(models.versions.$get({ param: { alias } }));
}

/** Activates a version at the edge. */
export async function activate(alias: string, version: string) {
  return ok(models.activate.$post({ param: { alias }, json: { version } }, await csrf()));
}

/** Rolls an alias back to the version active before the current one. */
export async function rollback(alias: string) {
  return ok(models.rollback.$post({ param: { alias } }, await csrf()));
}
