import { type BackboneErrorCode, isBackboneError } from '@edgehead/backbones';
import {
  ApiError,
  type CancelExtractionRequest,
  type CancelExtractionResponse,
  type ExtractionProgress,
  type ExtractProgressQuery,
  type ExtractRequest,
  type ExtractResponse,
  type ListExtractionsQuery,
} from '@edgehead/contracts';
import {
  cancelExtractions,
  type Dataset,
  datasetFeatureSets,
  ensureFeatureSet,
  finishIfCovered,
  getDataset,
  imagesToQueue,
  inTransaction,
  listExtractions,
  openExtraction,
  recordQueued,
} from '@edgehead/db';
import type { AppDeps } from '../deps.ts';
import type { ResolvedExtractor } from '../extractors/registry.ts';
import { retryOnConnectionLoss } from '../queue/connection.ts';
import { ensureExtractQueue, queueBatches } from './queue.ts';

/** Backbone errors at load time that mean the weights (or the model they carry) are unusable. */
const WEIGHTS_CODES: ReadonlySet<BackboneErrorCode> = new Set([
  'invalid_config',
  'weights_not_found',
  'weights_corrupt',
  'weights_truncated',
  'weights_missing_layer',
  'weights_shape_mismatch',
  'download_failed',
  'checksum_mismatch',
  'insecure_url',
]);

/** A load failure as the client's 400 naming `weights` and the variable to set; other errors unchanged. */
function weightsRefused(err: unknown, resolved: ResolvedExtractor): unknown {
  if (!isBackboneError(err) || !WEIGHTS_CODES.has(err.code)) return err;
  return new ApiError(
    400,
    'bad_request',
    `weights of ${resolved.backbone} cannot be loaded from ${resolved.config.weights}: ${err.message}. ` +
      `Set ${resolved.weightsVariable} (a TF.js folder, a Keras .h5 file or an https URL) or pass weights`,
    {
      field: 'weights',
      variable: resolved.weightsVariable,
      reason: err.code,
      source: resolved.config.weights,
    },
    { cause: err },
  );
}

async function progressOf(deps: AppDeps, id: string): Promise<ExtractionProgress> {
  const [progress] = await listExtractions(deps.db, { ids: [id] });
  if (!progress) throw new ApiError(404, 'not_found', `extraction ${id} not found`);
  return progress;
}

/**
 * Starts the extraction of a dataset for a feature set, or joins the one that exists. The weights are loaded
 * first (a bad backbone or unreadable weights answer 400 with nothing queued), which also gives the feature
 * set's identity; then, in one transaction holding the extraction's row lock, the images that have no vector
 * and are in no outstanding batch are queued. So a repeated request, from any client or replica, answers the
 * same extraction and queues nothing unless images were added since (then only those). With `augment`, the
 * plain feature set's extraction is started (or joined) too, and an augmented feature set (provenance
 * 'augmented': the plain set as base, the resolved config with its seed as params) is extracted over the
 * training images.
 */
export function startExtraction(
  deps: AppDeps,
  idOrName: string,
  request: ExtractRequest,
): Promise<ExtractResponse> {
  // a repeat joins the same extraction, so a connection lost on the way (such as a pooled connection to a
  // database that restarted) is retried on a fresh one instead of answering 503; if only the reply to the
  // commit was lost, the retry answers the same extraction with queuedImages 0 (the work is queued)
  return retryOnConnectionLoss(() => startOrJoin(deps, idOrName, request), { windowMs: 10_000 });
}

async function startOrJoin(
  deps: AppDeps,
  idOrName: string,
  request: ExtractRequest,
): Promise<ExtractResponse> {
  const dataset = await getDataset(deps.db, idOrName);
  const resolved = deps.extractors.resolve(request);
  const extractor = await deps.extractors.load(resolved.config).catch((err: unknown) => {
    throw weightsRefused(err, resolved);
  });
  const featureSet = await ensureFeatureSet(deps.db, extractor.info.featureSet);
  await ensureExtractQueue(deps);
  const plain = await queueExtraction(deps, dataset.id, featureSet.id);
  if (request.augment === undefined) {
    return {
      queuedImages: plain.images,
      queuedJobs: plain.batches,
      progress: await progressOf(deps, plain.id),
    };
  }
  const augmented = await ensureFeatureSet(deps.db, {
    ...extractor.info.featureSet,
    provenance: { kind: 'augmented', baseFeatureSetId: featureSet.id, params: request.augment },
  });
  const copies = await queueExtraction(deps, dataset.id, augmented.id, request.augment.copies);
  return {
    queuedImages: plain.images + copies.images,
    queuedJobs: plain.batches + copies.batches,
    progress: await progressOf(deps, copies.id),
    base: await progressOf(deps, plain.id),
  };
}

/**
 * In one transaction holding the extraction's row lock, queues the images of (dataset, feature set) that have
 * no vector and are in no outstanding batch (for an augmented feature set: training images only, in batches
 * of EDGEHEAD_EXTRACT_BATCH / copies images, so that a job's forward passes stay about the same).
 */
async function queueExtraction(
  deps: AppDeps,
  datasetId: string,
  featureSetId: string,
  copies = 1,
): Promise<{ id: string; images: number; batches: number }> {
  // a batch of an augmented set makes `copies` forward passes per image: about EDGEHEAD_EXTRACT_BATCH per job
  const batchSize = Math.max(1, Math.floor(deps.env.extraction.batchSize / copies));
  const done = await inTransaction(deps.sql, async (tx) => {
    const extraction = await openExtraction(tx.db, datasetId, featureSetId);
    const todo = await imagesToQueue(tx.db, extraction);
    const added = await queueBatches(deps, tx, extraction, todo, batchSize);
    await recordQueued(tx.db, extraction.id, { images: todo.length, batches: added });
    return { id: extraction.id, images: todo.length, batches: added };
  });
  // nothing left to compute (every image has its vector, or the dataset is empty): done now
  if (done.images === 0) await finishIfCovered(deps.db, done.id);
  return done;
}

/**
 * The dataset's extractions a query names: by id, by feature-set id, or by backbone parts (most recent first;
 * of plain feature sets only, unless `options.augmented`).
 */
async function matching(
  deps: AppDeps,
  dataset: Dataset,
  query: ExtractProgressQuery,
  options: { augmented?: boolean } = {},
): Promise<ExtractionProgress[]> {
  if (query.extraction !== undefined) {
    return (await listExtractions(deps.db, { ids: [query.extraction] })).filter(
      (e) => e.datasetId === dataset.id,
    );
  }
  if (query.featureSet !== undefined) {
    return listExtractions(deps.db, { datasetId: dataset.id, featureSetId: query.featureSet });
  }
  if (query.backbone === undefined && query.pooling === undefined && query.preprocessing === undefined) {
    return listExtractions(deps.db, { datasetId: dataset.id });
  }
  const sets = await datasetFeatureSets(deps.db, dataset.id, deps.extractors.parts(query), options);
  const all = await listExtractions(deps.db, { datasetId: dataset.id });
  return sets.flatMap((fs) => all.filter((e) => e.featureSet.id === fs.id));
}

/** `GET .../extract`: the extraction a query names (the most recent one matching backbone parts); 404 when none. */
export async function extractionFor(
  deps: AppDeps,
  idOrName: string,
  query: ExtractProgressQuery,
): Promise<ExtractionProgress> {
  const dataset = await getDataset(deps.db, idOrName);
  const [found] = await matching(deps, dataset, query);
  if (!found) {
    throw new ApiError(
      404,
      'not_found',
      `dataset '${dataset.name}' has no extraction matching ${JSON.stringify(query)}: POST /v1/datasets/${dataset.id}/extract first`,
      { field: query.extraction ? 'extraction' : query.featureSet ? 'featureSet' : 'backbone' },
    );
  }
  return found;
}

/**
 * Cancels the dataset's running extractions a body names (all of them for an empty body): marks them
 * cancelled and deletes their waiting batches; batches already running finish, and stored vectors stay.
 */
export async function cancelExtractionsFor(
  deps: AppDeps,
  idOrName: string,
  body: CancelExtractionRequest,
): Promise<CancelExtractionResponse> {
  const dataset = await getDataset(deps.db, idOrName);
  const { stopped, droppedJobs } = await cancelExtractions(
    deps.db,
    // by backbone: its augmented extractions stop too
    (await matching(deps, dataset, body, { augmented: true })).map((e) => e.id),
  );
  return { cancelled: await listExtractions(deps.db, { ids: stopped }), droppedJobs };
}

/** `GET /v1/extractions`: every extraction, newest first, optionally of one dataset or in one state. */
export async function listExtractionsFor(
  deps: AppDeps,
  query: ListExtractionsQuery,
): Promise<ExtractionProgress[]> {
  const datasetId = query.dataset === undefined ? undefined : (await getDataset(deps.db, query.dataset)).id;
  const all = await listExtractions(deps.db, datasetId === undefined ? {} : { datasetId });
  return query.state === undefined ? all : all.filter((e) => e.state === query.state);
}
