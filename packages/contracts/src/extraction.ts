import { z } from 'zod';
import { augmentationRequest } from './augmentation.ts';
import { featureSetRecord, pooling, preprocessing } from './feature-sets.ts';

/**
 * Where an extraction stands: `queued` (batches waiting), `running` (a batch is being computed), `done`
 * (every ready image has a vector), `idle` (nothing queued but images lack vectors: images added since, or
 * batches that gave up after their retries; extracting again queues them), `failed` (an error no retry can
 * fix stopped it; `error` says which), `cancelled`.
 */
export const extractionState = z.enum(['queued', 'running', 'done', 'idle', 'failed', 'cancelled']);
export type ExtractionState = z.infer<typeof extractionState>;

/** One extraction (a dataset x a feature set; there is at most one per pair) and its progress. */
export const extractionProgress = z.object({
  id: z.uuid(),
  datasetId: z.uuid(),
  datasetName: z.string(),
  featureSet: featureSetRecord,
  state: extractionState,
  /** Ready images of the dataset (failed ones excluded). */
  total: z.number().int(),
  /** Of those, the ones with a vector of this feature set. */
  done: z.number().int(),
  /** Images that could not be featurized (their bytes no longer decode); see the dataset's image list. */
  failed: z.number().int(),
  /** Batches (pg-boss jobs) waiting, running, and given up on after their retries. */
  jobs: z.object({ queued: z.number().int(), active: z.number().int(), failed: z.number().int() }),
  /** Vectors stored per second over the last minute; null when none were stored in it. */
  imagesPerSecond: z.number().nullable(),
  /** Seconds left at that rate; 0 when every image has its vector, null when unknown or stopped. */
  etaSeconds: z.number().nullable(),
  /** Why it failed (state `failed`, or `idle` after batches gave up), else null. */
  error: z.string().nullable(),
  createdAt: z.string(),
  /** When it last reached done, failed or cancelled; null while it runs. */
  finishedAt: z.string().nullable(),
});
export type ExtractionProgress = z.infer<typeof extractionProgress>;

/** `POST /v1/datasets/:id/extract`: which feature set to compute (service defaults for what is left out). */
export const extractRequest = z.strictObject({
  /** A backbone name or shorthand (`mobilenet_v1_0.75+avg`, `vgg16@caffe`). */
  backbone: z.string().min(1).max(64).optional(),
  pooling: pooling.optional(),
  preprocessing: preprocessing.optional(),
  /** Weights source (folder, .h5, https URL) overriding the service's configuration for this backbone. */
  weights: z.string().min(1).max(4096).optional(),
  /**
   * Also extract an augmented feature set: `copies` seeded augmented copies of every training image (never
   * validation or test) through the same frozen base, e.g. `{ copies: 5, seed: 1 }` (the preset
   * `keras-vgg16-augmentation` fills in the rest). The plain feature set is extracted too (if missing).
   */
  augment: augmentationRequest.optional(),
});
export type ExtractRequest = z.infer<typeof extractRequest>;

/**
 * Answer of `POST /v1/datasets/:id/extract`: the extraction (the same id for every request of the same
 * dataset and feature set), what this request added to the queue (with `augment`: to both extractions), and
 * the progress right after.
 */
export const extractResponse = z.object({
  queuedImages: z.number().int(),
  queuedJobs: z.number().int(),
  progress: extractionProgress,
  /** With `augment`: the plain feature set's extraction, started alongside (`progress` is the augmented one). */
  base: extractionProgress.optional(),
});
export type ExtractResponse = z.infer<typeof extractResponse>;

/**
 * Query of `GET /v1/datasets/:id/extract`: an extraction id, a feature-set id, or the backbone parts (the
 * dataset's most recent extraction of a feature set with that backbone, pooling and preprocessing).
 */
export const extractProgressQuery = z.object({
  extraction: z.uuid().optional(),
  featureSet: z.uuid().optional(),
  backbone: z.string().min(1).max(64).optional(),
  pooling: pooling.optional(),
  preprocessing: preprocessing.optional(),
});
export type ExtractProgressQuery = z.infer<typeof extractProgressQuery>;

/**
 * `POST /v1/datasets/:id/extract/cancel`: which of the dataset's running extractions to stop, by id,
 * feature-set id or backbone parts; an empty body stops every running one.
 */
export const cancelExtractionRequest = extractProgressQuery.strict();
export type CancelExtractionRequest = z.infer<typeof cancelExtractionRequest>;

/** Answer of cancel: the extractions it stopped and how many queued batches it dropped (vectors stay). */
export const cancelExtractionResponse = z.object({
  cancelled: z.array(extractionProgress),
  droppedJobs: z.number().int(),
});
export type CancelExtractionResponse = z.infer<typeof cancelExtractionResponse>;

/** Query of `GET /v1/extractions`: the newest 500 extractions, optionally of one dataset or in one state. */
export const listExtractionsQuery = z.object({
  dataset: z.string().min(1).max(200).optional(),
  state: extractionState.optional(),
});
export type ListExtractionsQuery = z.infer<typeof listExtractionsQuery>;

/**
 * Query of `GET /v1/extractions/:id/samples` (and the dashboard's `/api/extractions/:id/samples`): a picture
 * of an augmented extraction's copies, one row per training image (the first `images` by id), the original
 * then `copies` augmented copies, each at the feature set's input size times `scale`.
 */
export const augmentationSamplesQuery = z.object({
  images: z.coerce.number().int().min(1).max(8).default(4),
  copies: z.coerce.number().int().min(1).max(12).default(5),
  scale: z.coerce.number().int().min(1).max(8).default(1),
  format: z.enum(['png', 'jpeg']).default('png'),
});
export type AugmentationSamplesQuery = z.infer<typeof augmentationSamplesQuery>;

/** Answer of `GET /v1/extractions` (and the dashboard's `/api/extractions`). */
export const extractionList = z.object({ extractions: z.array(extractionProgress) });
export type ExtractionList = z.infer<typeof extractionList>;
