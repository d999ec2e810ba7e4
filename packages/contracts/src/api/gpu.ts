// The gpu service's routes: what each takes and answers. The app implements exactly these
// (`app.openapi(gpuRoutes.x, handler)`), its OpenAPI document and the clients' types come from them.
import {
  createDatasetRequest,
  datasetDetail,
  datasetList,
  datasetParams,
  datasetSummary,
  registerFolderRequest,
  uploadFields,
  uploadResponse,
} from '../datasets.ts';
import {
  augmentationSamplesQuery,
  cancelExtractionRequest,
  cancelExtractionResponse,
  extractionList,
  extractionProgress,
  extractProgressQuery,
  extractRequest,
  extractResponse,
  listExtractionsQuery,
} from '../extraction.ts';
import { featuresJsonResponse, featuresQuery } from '../features.ts';
import { gpuHealth } from '../health.ts';
import { activateRequest, activeResponse, aliasParams } from '../models.ts';
import {
  artifactQuery,
  createRunRequest,
  deploymentList,
  idParams,
  listDeploymentsQuery,
  listModelsQuery,
  modelArtifactResponse,
  publishModelRequest,
  publishModelResponse,
  registeredModel,
  registeredModelList,
  runDetailResponse,
  runList,
  runRecord,
  runsQuery,
} from '../training-api.ts';
import {
  AUTH,
  bytes,
  IMAGE_TYPES,
  jsonBody,
  jsonResponse,
  multipartBody,
  namedRoutes,
  openApiRoute,
  rawBody,
  route,
} from './content.ts';

const upload = jsonResponse(
  'one entry per file: accepted, duplicate or rejected with its reason',
  uploadResponse,
);
const imageParts = {
  files: { type: 'string', format: 'binary', description: 'image (or zip/tar archive) parts, any part name' },
  split: { type: 'string', description: 'train, validation or test, for every file of the request' },
  label: { type: 'string', description: 'the class of every file of the request' },
} as const;
const gpu = AUTH.gpuToken;

/** Every route of the gpu service, by name. */
export const gpuRoutes = namedRoutes({
  health: route({
    method: 'get',
    path: '/health',
    summary: 'Backend, database and queue health',
    tags: ['health'],
    responses: {
      200: jsonResponse('every dependency answers', gpuHealth),
      503: jsonResponse('the database, the queue or the backend is down', gpuHealth),
    },
  }),
  openApi: openApiRoute,
  createDataset: route({
    method: 'post',
    path: '/v1/datasets',
    summary: 'Create a dataset',
    tags: ['datasets'],
    security: gpu,
    request: { body: jsonBody(createDatasetRequest) },
    responses: { 201: jsonResponse('the dataset', datasetSummary) },
  }),
  listDatasets: route({
    method: 'get',
    path: '/v1/datasets',
    summary: 'List datasets',
    tags: ['datasets'],
    security: gpu,
    responses: { 200: jsonResponse('every dataset, newest first', datasetList) },
  }),
  getDataset: route({
    method: 'get',
    path: '/v1/datasets/{id}',
    summary: 'A dataset (by id or name) with counts per split and label and its extractions',
    tags: ['datasets'],
    security: gpu,
    request: { params: datasetParams },
    responses: { 200: jsonResponse('the dataset', datasetDetail) },
  }),
  deleteDataset: route({
    method: 'delete',
    path: '/v1/datasets/{id}',
    summary: 'Delete a dataset with its images, features, runs and models',
    tags: ['datasets'],
    security: gpu,
    request: { params: datasetParams },
    responses: { 200: jsonResponse('the deleted dataset', datasetSummary) },
  }),
  uploadImages: route({
    method: 'post',
    path: '/v1/datasets/{id}/images',
    summary: 'Upload images (multipart; file names split/label/file, or split and label fields)',
    tags: ['datasets'],
    security: gpu,
    request: {
      params: datasetParams,
      body: multipartBody(
        'file parts (archives are expanded), optional `split` and `label` fields',
        imageParts,
      ),
    },
    responses: { 200: upload },
  }),
  uploadArchive: route({
    method: 'post',
    path: '/v1/datasets/{id}/archive',
    summary: 'Upload a zip or tar(.gz) laid out split/label/file',
    tags: ['datasets'],
    security: gpu,
    request: {
      params: datasetParams,
      query: uploadFields,
      body: rawBody(['application/zip', 'application/x-tar', 'application/gzip'], 'the archive bytes'),
    },
    responses: { 200: upload },
  }),
  registerFolder: route({
    method: 'post',
    path: '/v1/datasets/{id}/folder',
    summary: 'Register a server folder under EDGEHEAD_IMPORT_ROOT',
    tags: ['datasets'],
    security: gpu,
    request: { params: datasetParams, body: jsonBody(registerFolderRequest) },
    responses: { 200: upload },
  }),
  startExtraction: route({
    method: 'post',
    path: '/v1/datasets/{id}/extract',
    summary:
      'Start (or join) the extraction of a feature set: weights are loaded first, one extraction per dataset x feature set',
    tags: ['features'],
    security: gpu,
    request: { params: datasetParams, body: jsonBody(extractRequest) },
    responses: {
      202: jsonResponse('the extraction and what was queued', extractResponse),
    },
  }),
  getExtraction: route({
    method: 'get',
    path: '/v1/datasets/{id}/extract',
    summary: 'Extraction progress',
    tags: ['features'],
    security: gpu,
    request: { params: datasetParams, query: extractProgressQuery },
    responses: { 200: jsonResponse('the extraction', extractionProgress) },
  }),
  cancelExtractions: route({
    method: 'post',
    path: '/v1/datasets/{id}/extract/cancel',
    summary: 'Cancel running extractions of the dataset (queued batches dropped, stored vectors kept)',
    tags: ['features'],
    security: gpu,
    request: { params: datasetParams, body: jsonBody(cancelExtractionRequest) },
    responses: { 200: jsonResponse('what was cancelled', cancelExtractionResponse) },
  }),
  listExtractions: route({
    method: 'get',
    path: '/v1/extractions',
    summary: 'Every extraction with its progress, newest first',
    tags: ['features'],
    security: gpu,
    request: { query: listExtractionsQuery },
    responses: { 200: jsonResponse('the extractions', extractionList) },
  }),
  augmentationSamples: route({
    method: 'get',
    path: '/v1/extractions/{id}/samples',
    summary:
      "Augmented samples of an augmented extraction: a grid of a few training images, each original then its copies made with the feature set's params",
    tags: ['features'],
    security: gpu,
    request: { params: idParams, query: augmentationSamplesQuery },
    responses: {
      200: {
        description: 'the grid as an image (x-edgehead-images: the image ids of its rows)',
        content: {
          'image/png': bytes('PNG (format=png)'),
          'image/jpeg': bytes('JPEG (format=jpeg)'),
        },
      },
    },
  }),
  features: route({
    method: 'post',
    path: '/v1/features',
    summary: 'Features of images (the edge image path calls it): one image as the body, or a multipart batch',
    tags: ['features'],
    security: gpu,
    request: {
      query: featuresQuery,
      body: {
        required: true,
        content: {
          ...Object.fromEntries(IMAGE_TYPES.map((type) => [type, bytes('the image bytes')])),
          ...multipartBody('one file part per image', { files: imageParts.files }).content,
        },
      },
    },
    responses: {
      200: {
        description:
          'accept application/octet-stream: little-endian float32 values with x-feature-shape, x-feature-dtype, ' +
          'x-feature-backbone and x-feature-set headers; accept application/json: the vectors as JSON',
        content: {
          'application/json': { schema: featuresJsonResponse },
          'application/octet-stream': bytes('row-major float32 vectors, one per image'),
        },
      },
    },
  }),
  createRun: route({
    method: 'post',
    path: '/v1/runs',
    summary:
      "Start a training run: a head (preset + overrides), or with kind 'finetune' the backbone's top with a finished run's head",
    tags: ['runs'],
    security: gpu,
    request: { body: jsonBody(createRunRequest) },
    responses: { 202: jsonResponse('the queued run', runRecord) },
  }),
  listRuns: route({
    method: 'get',
    path: '/v1/runs',
    summary: 'List runs: filters, sort and pages',
    tags: ['runs'],
    security: gpu,
    request: { query: runsQuery },
    responses: { 200: jsonResponse('one page of runs', runList) },
  }),
  getRun: route({
    method: 'get',
    path: '/v1/runs/{id}',
    summary: 'A run with its epochs, evaluations and model',
    tags: ['runs'],
    security: gpu,
    request: { params: idParams },
    responses: { 200: jsonResponse('the run', runDetailResponse) },
  }),
  cancelRun: route({
    method: 'post',
    path: '/v1/runs/{id}/cancel',
    summary: 'Cancel a queued or running run',
    tags: ['runs'],
    security: gpu,
    request: { params: idParams },
    responses: { 200: jsonResponse('the run as it now is', runRecord) },
  }),
  listModels: route({
    method: 'get',
    path: '/v1/models',
    summary: 'Registered models, newest first',
    tags: ['models'],
    security: gpu,
    request: { query: listModelsQuery },
    responses: { 200: jsonResponse('the models', registeredModelList) },
  }),
  listDeployments: route({
    method: 'get',
    path: '/v1/models/deployments',
    summary: 'Deployments to the edge, as recorded here',
    tags: ['models'],
    security: gpu,
    request: { query: listDeploymentsQuery },
    responses: { 200: jsonResponse('the deployments', deploymentList) },
  }),
  activateAlias: route({
    method: 'post',
    path: '/v1/models/aliases/{alias}/activate',
    summary: 'Activate a version at the edge',
    tags: ['models'],
    security: gpu,
    request: { params: aliasParams, body: jsonBody(activateRequest) },
    responses: { 200: jsonResponse('the active version', activeResponse) },
  }),
  rollbackAlias: route({
    method: 'post',
    path: '/v1/models/aliases/{alias}/rollback',
    summary: 'Roll back an alias at the edge',
    tags: ['models'],
    security: gpu,
    request: { params: aliasParams },
    responses: { 200: jsonResponse('the active version', activeResponse) },
  }),
  getModel: route({
    method: 'get',
    path: '/v1/models/{id}',
    summary: 'One registered model',
    tags: ['models'],
    security: gpu,
    request: { params: idParams },
    responses: { 200: jsonResponse('the model', registeredModel) },
  }),
  getArtifact: route({
    method: 'get',
    path: '/v1/models/{id}/artifact',
    summary: 'The head artifact: every file base64 in JSON, or one file raw with ?file=',
    tags: ['models'],
    security: gpu,
    request: { params: idParams, query: artifactQuery },
    responses: {
      200: {
        description: 'the three files in JSON; with ?file= that file (x-sha256 and etag carry its sha256)',
        content: {
          'application/json': { schema: modelArtifactResponse },
          'application/octet-stream': bytes('weights.bin (model.json and manifest.json as application/json)'),
        },
      },
    },
  }),
  publishModel: route({
    method: 'post',
    path: '/v1/models/{id}/publish',
    summary: 'Publish a model to the edge under an alias',
    tags: ['models'],
    security: gpu,
    request: { params: idParams, body: jsonBody(publishModelRequest) },
    responses: { 201: jsonResponse('the version at the edge', publishModelResponse) },
  }),
});

/** The gpu route definitions' type. */
export type GpuRoutes = typeof gpuRoutes;
