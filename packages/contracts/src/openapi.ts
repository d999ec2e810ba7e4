import { z } from 'zod';
import { CLASSIFY_LIMITS, classifyJsonRequest, classifyQuery, classifyResponse } from './classify.ts';
import { compareQuery, runsQuery } from './dashboard.ts';
import {
  createDatasetRequest,
  datasetDetail,
  datasetSummary,
  registerFolderRequest,
  uploadResponse,
} from './datasets.ts';
import { errorBody } from './errors.ts';
import {
  cancelExtractionRequest,
  cancelExtractionResponse,
  extractionList,
  extractionProgress,
  extractProgressQuery,
  extractRequest,
  extractResponse,
  listExtractionsQuery,
} from './extraction.ts';
import { featuresJsonResponse, featuresQuery } from './features.ts';
import {
  activateRequest,
  activeResponse,
  createKeyRequest,
  createKeyResponse,
  modelList,
  publishQuery,
  publishResponse,
  versionList,
} from './models.ts';
import { sessionResponse, signInLinkResponse, signInRequest } from './session.ts';
import {
  activateDeploymentRequest,
  createRunRequest,
  listModelsQuery,
  listRunsQuery,
  publishModelRequest,
  publishModelResponse,
  registeredModel,
  runDetailResponse,
  runList,
} from './training-api.ts';

/** Which deployment serves a route. */
export type OpenApiService = 'gpu' | 'edge';

type Auth = 'none' | 'gpuToken' | 'adminToken' | 'apiKey' | 'dashboardSession';

/** One HTTP route as the OpenAPI document describes it. */
export interface RouteDoc {
  service: OpenApiService;
  method: 'get' | 'post' | 'put' | 'delete';
  /** Hono-style path (`/v1/datasets/:id`); written as `{id}` in the document. */
  path: string;
  summary: string;
  tag: string;
  /** The credential the route needs; a list when any one of several will do. */
  auth: Auth | readonly Auth[];
  query?: z.ZodType;
  /** JSON body, or a media type with a description for non-JSON bodies. */
  body?: z.ZodType | { mediaTypes: string[]; description: string };
  /** Status of the success answer (default 200). */
  status?: number;
  /** JSON answer, or a media type with a description. */
  response?: z.ZodType | { mediaType: string; description: string };
}

const anyJson = z.record(z.string(), z.unknown());
const imageTypes = ['image/jpeg', 'image/png', 'image/webp'];

/** Every route of both services. A route added to an app should be added here too. */
export const ROUTES: readonly RouteDoc[] = [
  // gpu service
  {
    service: 'gpu',
    method: 'get',
    path: '/health',
    summary: 'Backend, database and queue health',
    tag: 'health',
    auth: 'none',
    response: anyJson,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/datasets',
    summary: 'Create a dataset',
    tag: 'datasets',
    auth: 'gpuToken',
    body: createDatasetRequest,
    status: 201,
    response: datasetSummary,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/datasets',
    summary: 'List datasets',
    tag: 'datasets',
    auth: 'gpuToken',
    response: z.object({ datasets: z.array(datasetSummary) }),
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/datasets/:id',
    summary: 'A dataset with counts and feature sets',
    tag: 'datasets',
    auth: 'gpuToken',
    response: datasetDetail,
  },
  {
    service: 'gpu',
    method: 'delete',
    path: '/v1/datasets/:id',
    summary: 'Delete a dataset',
    tag: 'datasets',
    auth: 'gpuToken',
    response: anyJson,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/datasets/:id/images',
    summary: 'Upload images (multipart; file names split/label/file, or split and label fields)',
    tag: 'datasets',
    auth: 'gpuToken',
    body: {
      mediaTypes: ['multipart/form-data'],
      description: 'file parts, optional `split` and `label` fields',
    },
    response: uploadResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/datasets/:id/archive',
    summary: 'Upload a zip or tar(.gz) laid out split/label/file',
    tag: 'datasets',
    auth: 'gpuToken',
    body: {
      mediaTypes: ['application/zip', 'application/x-tar', 'application/gzip'],
      description: 'the archive bytes',
    },
    response: uploadResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/datasets/:id/folder',
    summary: 'Register a server folder under EDGEHEAD_IMPORT_ROOT',
    tag: 'datasets',
    auth: 'gpuToken',
    body: registerFolderRequest,
    response: uploadResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/datasets/:id/extract',
    summary:
      'Start (or join) the extraction of a feature set: weights are loaded first, one extraction per dataset x feature set',
    tag: 'features',
    auth: 'gpuToken',
    body: extractRequest,
    status: 202,
    response: extractResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/datasets/:id/extract/cancel',
    summary: 'Cancel running extractions of the dataset (queued batches dropped, stored vectors kept)',
    tag: 'features',
    auth: 'gpuToken',
    body: cancelExtractionRequest,
    response: cancelExtractionResponse,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/extractions',
    summary: 'Every extraction with its progress, newest first',
    tag: 'features',
    auth: 'none',
    query: listExtractionsQuery,
    response: extractionList,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/datasets/:id/extract',
    summary: 'Extraction progress',
    tag: 'features',
    auth: 'gpuToken',
    query: extractProgressQuery,
    response: extractionProgress,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/features',
    summary: 'Features of one image (the edge image path calls it)',
    tag: 'features',
    auth: 'gpuToken',
    query: featuresQuery,
    body: { mediaTypes: imageTypes, description: 'the image bytes' },
    response: featuresJsonResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/runs',
    summary: 'Start a training run (preset + overrides)',
    tag: 'runs',
    auth: 'gpuToken',
    body: createRunRequest,
    status: 202,
    response: anyJson,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/runs',
    summary: 'List runs',
    tag: 'runs',
    auth: 'gpuToken',
    query: listRunsQuery,
    response: runList,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/runs/:id',
    summary: 'A run with its epochs, evaluations and model',
    tag: 'runs',
    auth: 'gpuToken',
    response: runDetailResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/runs/:id/cancel',
    summary: 'Cancel a run',
    tag: 'runs',
    auth: 'gpuToken',
    response: anyJson,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/models',
    summary: 'Registered models',
    tag: 'models',
    auth: 'gpuToken',
    query: listModelsQuery,
    response: anyJson,
  },
  {
    service: 'gpu',
    method: 'get',
    path: '/v1/models/:id',
    summary: 'One registered model',
    tag: 'models',
    auth: 'gpuToken',
    response: registeredModel,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/models/:id/publish',
    summary: 'Publish a model to the edge under an alias',
    tag: 'models',
    auth: 'gpuToken',
    body: publishModelRequest,
    response: publishModelResponse,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/models/aliases/:alias/activate',
    summary: 'Activate a version at the edge',
    tag: 'models',
    auth: 'gpuToken',
    body: activateDeploymentRequest,
    response: anyJson,
  },
  {
    service: 'gpu',
    method: 'post',
    path: '/v1/models/aliases/:alias/rollback',
    summary: 'Roll back an alias at the edge',
    tag: 'models',
    auth: 'gpuToken',
    response: anyJson,
  },
  // edge
  {
    service: 'edge',
    method: 'get',
    path: '/health',
    summary: 'Liveness',
    tag: 'health',
    auth: 'none',
    response: z.object({ status: z.literal('ok') }),
  },
  {
    service: 'edge',
    method: 'post',
    path: '/v1/models/:alias/classify',
    summary: 'Classify precomputed features (JSON, or binary float32/float16 with ?dtype)',
    tag: 'classify',
    auth: 'apiKey',
    query: classifyQuery,
    body: classifyJsonRequest,
    response: classifyResponse,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/v1/models/:alias/classify-image',
    summary:
      'Classify an image, or a multipart batch of images (features from the edge cache or the gpu service)',
    tag: 'classify',
    auth: 'apiKey',
    body: {
      mediaTypes: [...imageTypes, 'multipart/form-data'],
      description: `the image bytes, or up to ${CLASSIFY_LIMITS.maxImages} image file parts`,
    },
    response: classifyResponse,
  },
  {
    service: 'edge',
    method: 'put',
    path: '/admin/models/:alias/versions/:version',
    summary: 'Publish a head artifact (multipart: manifest.json, model.json, weights.bin)',
    tag: 'registry',
    auth: 'adminToken',
    query: publishQuery,
    body: {
      mediaTypes: ['multipart/form-data'],
      description: 'parts manifest.json, model.json, weights.bin',
    },
    status: 201,
    response: publishResponse,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/admin/models',
    summary: 'Published aliases',
    tag: 'registry',
    auth: ['adminToken', 'dashboardSession'],
    response: modelList,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/admin/models/:alias/versions',
    summary: 'Versions and activation history of an alias',
    tag: 'registry',
    auth: ['adminToken', 'dashboardSession'],
    response: versionList,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/admin/models/:alias/activate',
    summary: 'Activate a version',
    tag: 'registry',
    auth: ['adminToken', 'dashboardSession'],
    body: activateRequest,
    response: activeResponse,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/admin/models/:alias/rollback',
    summary: 'Re-activate the previous version',
    tag: 'registry',
    auth: ['adminToken', 'dashboardSession'],
    response: activeResponse,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/admin/keys',
    summary: 'Create an API key (shown once)',
    tag: 'keys',
    auth: 'adminToken',
    body: createKeyRequest,
    status: 201,
    response: createKeyResponse,
  },
  {
    service: 'edge',
    method: 'delete',
    path: '/admin/keys/:id',
    summary: 'Delete an API key',
    tag: 'keys',
    auth: 'adminToken',
    response: anyJson,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/api/runs',
    summary: 'Dashboard: runs',
    tag: 'dashboard',
    auth: ['dashboardSession', 'adminToken'],
    query: runsQuery,
    response: anyJson,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/api/runs/:id',
    summary: 'Dashboard: one run',
    tag: 'dashboard',
    auth: ['dashboardSession', 'adminToken'],
    response: anyJson,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/api/compare',
    summary: 'Dashboard: compare runs',
    tag: 'dashboard',
    auth: ['dashboardSession', 'adminToken'],
    query: compareQuery,
    response: anyJson,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/api/extractions',
    summary: 'Dashboard: every extraction with its progress',
    tag: 'dashboard',
    auth: ['dashboardSession', 'adminToken'],
    response: extractionList,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/admin/sign-in-links',
    summary: 'A one-time dashboard sign-in URL (valid 10 minutes)',
    tag: 'dashboard',
    auth: 'adminToken',
    status: 201,
    response: signInLinkResponse,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/auth/login',
    summary: 'Sign in to the dashboard with the admin token (sets the session cookie)',
    tag: 'dashboard',
    auth: 'none',
    body: signInRequest,
    response: sessionResponse,
  },
  {
    service: 'edge',
    method: 'get',
    path: '/auth/link',
    summary: 'Spend a one-time sign-in link (?token=): sets the session cookie, opens the dashboard',
    tag: 'dashboard',
    auth: 'none',
    response: { mediaType: 'text/html', description: 'a page that opens the dashboard' },
  },
  {
    service: 'edge',
    method: 'get',
    path: '/auth/session',
    summary: 'The signed-in user, how, until when, and the CSRF token for changes',
    tag: 'dashboard',
    auth: 'dashboardSession',
    response: sessionResponse,
  },
  {
    service: 'edge',
    method: 'post',
    path: '/auth/logout',
    summary: 'Sign out (clears the session cookie; needs x-csrf-token)',
    tag: 'dashboard',
    auth: 'dashboardSession',
    response: anyJson,
  },
];

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  // `unrepresentable: 'any'` keeps transforms and refinements as their input/output shape.
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as JsonSchema;
  return rest;
}

const SECURITY: Record<Exclude<Auth, 'none'>, JsonSchema> = {
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
};

/** The credentials a route accepts (none for an open route). */
const authsOf = (route: RouteDoc): Exclude<Auth, 'none'>[] =>
  (typeof route.auth === 'string' ? [route.auth] : route.auth).filter(
    (a): a is Exclude<Auth, 'none'> => a !== 'none',
  );

function parameters(route: RouteDoc): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const m of route.path.matchAll(/:([A-Za-z_]+)/g)) {
    out.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
  }
  if (route.query) {
    const q = schemaOf(route.query, 'input') as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      out.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
    }
  }
  return out;
}

function operation(route: RouteDoc): JsonSchema {
  const error = {
    description: 'error',
    content: { 'application/json': { schema: schemaOf(errorBody, 'output') } },
  };
  const ok =
    route.response === undefined
      ? { description: 'ok' }
      : route.response instanceof z.ZodType
        ? {
            description: 'ok',
            content: { 'application/json': { schema: schemaOf(route.response, 'output') } },
          }
        : { description: route.response.description, content: { [route.response.mediaType]: {} } };
  const op: JsonSchema = {
    operationId: `${route.method}${route.path.replace(/[:/{}-]+(\w)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.tag],
    parameters: parameters(route),
    responses: { [String(route.status ?? 200)]: ok, '4XX': error, '5XX': error },
  };
  const auths = authsOf(route);
  if (auths.length > 0) op.security = auths.map((a) => ({ [a]: [] }));
  if (route.body instanceof z.ZodType) {
    op.requestBody = {
      required: true,
      content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
    };
  } else if (route.body) {
    const { description, mediaTypes } = route.body;
    op.requestBody = {
      required: true,
      description,
      content: Object.fromEntries(mediaTypes.map((t) => [t, {}])),
    };
  }
  return op;
}

/**
 * The OpenAPI 3.1 document of one service, generated from the zod contracts.
 * @example app.get('/openapi.json', (c) => c.json(openApiDocument('edge')));
 */
export function openApiDocument(
  service: OpenApiService,
  options: { serverUrl?: string; version?: string } = {},
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of ROUTES.filter((r) => r.service === service)) {
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] ??= {};
    (paths[path] as Record<string, JsonSchema>)[route.method] = operation(route);
  }
  const used = new Set(ROUTES.filter((r) => r.service === service).flatMap(authsOf));
  const schemes = Object.entries(SECURITY).filter(([name]) => used.has(name as Exclude<Auth, 'none'>));
  return {
    openapi: '3.1.0',
    info: {
      title: service === 'gpu' ? 'edgehead gpu service' : 'edgehead edge',
      version: options.version ?? '0.1.0',
      description:
        service === 'gpu'
          ? 'Datasets, uploads, feature extraction, training runs and models; publishes heads to the edge.'
          : 'Classifies features or images with published heads; model registry, API keys, dashboard API.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: Object.fromEntries(schemes),
    },
  };
}
