// The edge worker's routes: what each takes and answers. The worker implements exactly these
// (`app.openapi(edgeRoutes.x, handler)`), its OpenAPI document and the clients' types come from them.
import { CLASSIFY_LIMITS, classifyJsonRequest, classifyQuery, classifyResponse } from '../classify.ts';
import { compareQuery, comparison, modelOverview, runFacets } from '../dashboard.ts';
import { datasetList } from '../datasets.ts';
import { augmentationSamplesQuery, extractionList } from '../extraction.ts';
import { edgeHealth } from '../health.ts';
import {
  activateRequest,
  activeResponse,
  aliasParams,
  createKeyRequest,
  createKeyResponse,
  deletedKeyResponse,
  keyParams,
  modelList,
  PUBLISH_PARTS,
  publishQuery,
  publishResponse,
  versionList,
  versionParams,
} from '../models.ts';
import {
  sessionResponse,
  signInLinkResponse,
  signInLinkToken,
  signInRequest,
  signOutResponse,
} from '../session.ts';
import { idParams, runDetailResponse, runList, runsQuery } from '../training-api.ts';
import {
  AUTH,
  bytes,
  decodedJson,
  IMAGE_TYPES,
  jsonBody,
  jsonResponse,
  multipartBody,
  namedRoutes,
  openApiRoute,
  rawBody,
  route,
} from './content.ts';

const classified = jsonResponse('one prediction per vector, in order', classifyResponse);
const active = jsonResponse('the active version and the one before', activeResponse);
const dashboard = AUTH.sessionOrAdmin;

/** Every route of the edge worker, by name (the dashboard's static assets aside). */
export const edgeRoutes = namedRoutes({
  health: route({
    method: 'get',
    path: '/health',
    summary: 'Liveness',
    tags: ['health'],
    responses: { 200: jsonResponse('the worker runs', edgeHealth) },
  }),
  openApi: openApiRoute,
  classify: route({
    method: 'post',
    path: '/v1/models/{alias}/classify',
    summary: 'Classify precomputed features (JSON, or binary float32/float16 with ?dtype or x-feature-dtype)',
    tags: ['classify'],
    security: AUTH.apiKey,
    request: {
      params: aliasParams,
      query: classifyQuery,
      body: {
        required: false,
        content: {
          'application/json': decodedJson(classifyJsonRequest),
          'application/octet-stream': bytes('little-endian float32 (or float16) vectors back to back'),
        },
      },
    },
    responses: { 200: classified },
  }),
  classifyImage: route({
    method: 'post',
    path: '/v1/models/{alias}/classify-image',
    summary:
      'Classify an image, or a multipart batch of images (features from the edge cache or the gpu service)',
    tags: ['classify'],
    security: AUTH.apiKey,
    request: {
      params: aliasParams,
      body: {
        required: true,
        content: {
          ...rawBody(IMAGE_TYPES, 'the image bytes').content,
          ...multipartBody(`up to ${CLASSIFY_LIMITS.maxImages} image file parts`, {
            files: { type: 'string', format: 'binary', description: 'image parts, any part name' },
          }).content,
        },
      },
    },
    responses: { 200: classified },
  }),
  publishVersion: route({
    method: 'put',
    path: '/admin/models/{alias}/versions/{version}',
    summary: 'Publish a head artifact (multipart: manifest.json, model.json, weights.bin)',
    tags: ['registry'],
    security: AUTH.adminToken,
    request: {
      params: versionParams,
      query: publishQuery,
      body: multipartBody(
        'the artifact files as parts named after them',
        Object.fromEntries(
          PUBLISH_PARTS.map(
            (name) => [name, { type: 'string', format: 'binary', description: name }] as const,
          ),
        ),
      ),
    },
    responses: { 201: jsonResponse('the stored version', publishResponse) },
  }),
  listModels: route({
    method: 'get',
    path: '/admin/models',
    summary: 'Published aliases',
    tags: ['registry'],
    security: AUTH.adminOrSession,
    responses: { 200: jsonResponse('every alias', modelList) },
  }),
  listVersions: route({
    method: 'get',
    path: '/admin/models/{alias}/versions',
    summary: 'Versions and activation history of an alias',
    tags: ['registry'],
    security: AUTH.adminOrSession,
    request: { params: aliasParams },
    responses: { 200: jsonResponse('the versions', versionList) },
  }),
  activate: route({
    method: 'post',
    path: '/admin/models/{alias}/activate',
    summary: 'Activate a version',
    tags: ['registry'],
    security: AUTH.adminOrSession,
    request: { params: aliasParams, body: jsonBody(activateRequest) },
    responses: { 200: active },
  }),
  rollback: route({
    method: 'post',
    path: '/admin/models/{alias}/rollback',
    summary: 'Re-activate the previous version',
    tags: ['registry'],
    security: AUTH.adminOrSession,
    request: { params: aliasParams },
    responses: { 200: active },
  }),
  createKey: route({
    method: 'post',
    path: '/admin/keys',
    summary: 'Create an API key (shown once)',
    tags: ['keys'],
    security: AUTH.adminToken,
    request: { body: jsonBody(createKeyRequest) },
    responses: { 201: jsonResponse('the key', createKeyResponse) },
  }),
  deleteKey: route({
    method: 'delete',
    path: '/admin/keys/{id}',
    summary: 'Delete an API key',
    tags: ['keys'],
    security: AUTH.adminToken,
    request: { params: keyParams },
    responses: { 200: jsonResponse('the key is gone', deletedKeyResponse) },
  }),
  createSignInLink: route({
    method: 'post',
    path: '/admin/sign-in-links',
    summary: 'A one-time dashboard sign-in URL (valid 10 minutes)',
    tags: ['dashboard'],
    security: AUTH.adminToken,
    responses: { 201: jsonResponse('the link', signInLinkResponse) },
  }),
  signIn: route({
    method: 'post',
    path: '/auth/login',
    summary: 'Sign in to the dashboard with the admin token (sets the session cookie)',
    tags: ['dashboard'],
    request: { body: jsonBody(signInRequest) },
    responses: { 200: jsonResponse('the session', sessionResponse) },
  }),
  signInLinkPage: route({
    method: 'get',
    path: '/auth/link',
    summary: 'A one-time sign-in link (?token=): a page whose button spends it (a link preview does not)',
    tags: ['dashboard'],
    request: { query: signInLinkToken },
    responses: {
      200: { description: 'the sign-in page of the link', content: { 'text/html': bytes('the page') } },
    },
  }),
  signInLink: route({
    method: 'post',
    path: '/auth/link',
    summary:
      "Spend a one-time sign-in link (the link page's form): sets the session cookie, opens the dashboard",
    tags: ['dashboard'],
    request: {
      body: {
        required: true,
        content: { 'application/x-www-form-urlencoded': { schema: signInLinkToken } },
      },
    },
    responses: {
      200: {
        description: 'signed in: a page that opens the dashboard',
        content: { 'text/html': bytes('the page') },
      },
      303: { description: 'to /signin?error=link: the link is spent, expired or unknown' },
    },
  }),
  session: route({
    method: 'get',
    path: '/auth/session',
    summary: 'The signed-in user, how, until when, and the CSRF token for changes',
    tags: ['dashboard'],
    security: AUTH.session,
    responses: { 200: jsonResponse('the session', sessionResponse) },
  }),
  signOut: route({
    method: 'post',
    path: '/auth/logout',
    summary: 'Sign out (clears the session cookie; needs x-csrf-token)',
    tags: ['dashboard'],
    security: AUTH.session,
    responses: { 200: jsonResponse('signed out', signOutResponse) },
  }),
  runs: route({
    method: 'get',
    path: '/api/runs',
    summary: 'Dashboard: runs (filters, sort and pages)',
    tags: ['dashboard'],
    security: dashboard,
    request: { query: runsQuery },
    responses: { 200: jsonResponse('one page of runs', runList) },
  }),
  run: route({
    method: 'get',
    path: '/api/runs/{id}',
    summary: 'Dashboard: one run with its epochs, evaluations and model',
    tags: ['dashboard'],
    security: dashboard,
    request: { params: idParams },
    responses: { 200: jsonResponse('the run', runDetailResponse) },
  }),
  compare: route({
    method: 'get',
    path: '/api/compare',
    summary: 'Dashboard: compare runs',
    tags: ['dashboard'],
    security: dashboard,
    request: { query: compareQuery },
    responses: { 200: jsonResponse('the runs in the order asked', comparison) },
  }),
  facets: route({
    method: 'get',
    path: '/api/facets',
    summary: 'Dashboard: what the runs table filters by, with run counts',
    tags: ['dashboard'],
    security: dashboard,
    responses: { 200: jsonResponse('the filter choices', runFacets) },
  }),
  datasets: route({
    method: 'get',
    path: '/api/datasets',
    summary: 'Dashboard: every dataset with its image counts',
    tags: ['dashboard'],
    security: dashboard,
    responses: { 200: jsonResponse('the datasets', datasetList) },
  }),
  models: route({
    method: 'get',
    path: '/api/models',
    summary: 'Dashboard: versions per alias and every registered model',
    tags: ['dashboard'],
    security: dashboard,
    responses: { 200: jsonResponse('aliases and models', modelOverview) },
  }),
  extractions: route({
    method: 'get',
    path: '/api/extractions',
    summary: 'Dashboard: every extraction with its progress',
    tags: ['dashboard'],
    security: dashboard,
    responses: { 200: jsonResponse('the extractions', extractionList) },
  }),
  augmentationSamples: route({
    method: 'get',
    path: '/api/extractions/{id}/samples',
    summary:
      "Dashboard: an augmented extraction's copies of a few training images, as a picture (from the gpu service)",
    tags: ['dashboard'],
    security: dashboard,
    request: { params: idParams, query: augmentationSamplesQuery },
    responses: {
      200: {
        description: 'the grid as an image: each row a training image, its original then its copies',
        content: { 'image/png': bytes('PNG (format=png)'), 'image/jpeg': bytes('JPEG (format=jpeg)') },
      },
    },
  }),
});

/** The edge route definitions' type. */
export type EdgeRoutes = typeof edgeRoutes;
