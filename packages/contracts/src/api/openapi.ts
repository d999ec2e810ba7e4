import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from 'hono';
import type { SecuritySchemeName } from './content.ts';
import { edgeRoutes } from './edge.ts';
import { gpuRoutes } from './gpu.ts';
import { apiApp } from './http.ts';

/** Which deployment a document describes. */
export type OpenApiService = 'gpu' | 'edge';

/** The credentials the routes name in `security` (see `AUTH`). */
export const SECURITY_SCHEMES = {
  gpuToken: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <EDGEHEAD_GPU_TOKEN>' },
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'Authorization: Bearer <ADMIN_TOKEN> of the edge',
  },
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'Authorization: Bearer <API key> (or x-api-key), from POST /admin/keys',
  },
  dashboardSession: {
    type: 'apiKey',
    in: 'cookie',
    name: '__Host-edgehead_session',
    description:
      'dashboard session: the cookie of POST /auth/login or a sign-in link, or a Cloudflare Access JWT in Cf-Access-Jwt-Assertion; changes also need x-csrf-token',
  },
} as const satisfies Record<SecuritySchemeName, object>;

const SERVICES = {
  gpu: {
    routes: gpuRoutes,
    title: 'edgehead gpu service',
    description:
      'Datasets, uploads, feature extraction, training runs and models; publishes heads to the edge. ' +
      'Reads (GET) need the token only when the service runs with EDGEHEAD_GPU_PROTECT_READS.',
    schemes: ['gpuToken'],
  },
  edge: {
    routes: edgeRoutes,
    title: 'edgehead edge',
    description:
      'Classifies features or images with published heads; model registry, API keys, dashboard sign-in and API.',
    schemes: ['adminToken', 'apiKey', 'dashboardSession'],
  },
} as const;

/** Options of the generated document. */
export interface OpenApiOptions {
  serverUrl?: string;
  version?: string;
}

/**
 * Adds the security schemes of `service` to an app's registry and returns how its OpenAPI 3.1 document is
 * generated from the routes the app registered: `app.getOpenAPI31Document(describeService(app, 'gpu'))`.
 */
export function describeService<E extends Env>(
  app: OpenAPIHono<E>,
  service: OpenApiService,
  options: OpenApiOptions = {},
) {
  const { title, description, schemes } = SERVICES[service];
  for (const name of schemes)
    app.openAPIRegistry.registerComponent('securitySchemes', name, SECURITY_SCHEMES[name]);
  return {
    openapi: '3.1.0',
    info: { title, description, version: options.version ?? '0.1.0' },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
  };
}

/**
 * The OpenAPI 3.1 document of one service, generated from its route definitions (what the running service
 * serves at `/openapi.json`).
 * @example process.stdout.write(JSON.stringify(openApiDocument('edge')));
 */
export function openApiDocument(service: OpenApiService, options: OpenApiOptions = {}) {
  const registry = apiApp();
  for (const route of Object.values(SERVICES[service].routes)) registry.openAPIRegistry.registerPath(route);
  return registry.getOpenAPI31Document(describeService(registry, service, options));
}

/**
 * `METHOD /path/{param}` of every route an app registered (Hono's `app.routes`), middleware (`ALL`) and
 * wildcard routes (the dashboard's static assets) left out: what its OpenAPI document must list.
 */
export function registeredOperations(routes: readonly { method: string; path: string }[]): string[] {
  const operations = routes
    .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
    .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
  return [...new Set(operations)].sort();
}

/** `METHOD /path/{param}` of every operation of an OpenAPI document. */
export function documentedOperations(doc: { paths?: Record<string, object> }): string[] {
  return Object.entries(doc.paths ?? {})
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

type Json = Record<string, unknown>;
type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: Json }> }>;
  security?: unknown[];
};

/** Every operation of a document with its method and path. */
function operationsOf(doc: { paths?: Record<string, object> }) {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ method, path, op })),
  );
}

/**
 * What a document leaves out of its operations, one line each (empty when complete): a parameter for every
 * `{param}` of the path, a schema for every request media type, a success answer, and the error answers
 * with the contract's error body.
 */
function missingFromOperations(doc: { paths?: Record<string, object> }): string[] {
  return operationsOf(doc).flatMap(({ method, path, op }) => {
    const at = `${method.toUpperCase()} ${path}`;
    const problems: string[] = [];
    const declared = new Set((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name));
    for (const [, name] of path.matchAll(/\{([^}]+)\}/g))
      if (!declared.has(name as string)) problems.push(`${at}: path parameter ${name}`);
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {}))
      if (!media.schema) problems.push(`${at}: schema of the ${type} body`);
    const responses = Object.entries(op.responses ?? {});
    if (!responses.some(([status]) => /^2/.test(status))) problems.push(`${at}: a success answer`);
    for (const [status, response] of responses)
      for (const [type, media] of Object.entries(response.content ?? {}))
        if (!media.schema) problems.push(`${at}: schema of the ${status} ${type} answer`);
    for (const status of ['4XX', '5XX']) {
      const schema = op.responses?.[status]?.content?.['application/json']?.schema as
        | { properties?: { error?: unknown } }
        | undefined;
      if (!schema?.properties?.error) problems.push(`${at}: the ${status} error body`);
    }
    return problems;
  });
}

/**
 * One request per operation of a document, path parameters filled with `sample` values, and whether the
 * document says it needs a credential: what a test sends without one to hold the document to the service.
 */
export function operationRequests(
  doc: { paths?: Record<string, object> },
  sample: (param: string) => string,
): { method: string; path: string; secured: boolean }[] {
  return operationsOf(doc).map(({ method, path, op }) => ({
    method: method.toUpperCase(),
    path: path.replace(/\{([^}]+)\}/g, (_, name: string) => sample(name)),
    secured: (op.security ?? []).length > 0,
  }));
}

/**
 * What the document an app serves gets wrong about it, one line each (empty when right): a route the app
 * registers (`app.routes`) that the document leaves out, an operation the document lists that the app does
 * not register, and any operation without its parameters, body schemas, success and error answers.
 * @example expect(documentProblems(await (await app.request('/openapi.json')).json(), app.routes)).toEqual([])
 */
export function documentProblems(
  doc: { paths?: Record<string, object> },
  routes: readonly { method: string; path: string }[],
): string[] {
  const documented = new Set(documentedOperations(doc));
  const registered = new Set(registeredOperations(routes));
  return [
    ...[...registered].filter((op) => !documented.has(op)).map((op) => `${op}: registered, not documented`),
    ...[...documented].filter((op) => !registered.has(op)).map((op) => `${op}: documented, not registered`),
    ...missingFromOperations(doc),
  ];
}
