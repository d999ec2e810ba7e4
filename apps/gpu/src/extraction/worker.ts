import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type BackboneErrorCode, decodeImage, isBackboneError } from '@edgehead/backbones';
import { augmentationConfig, featureSetLabel } from '@edgehead/contracts';
import {
  type Db,
  EXTRACTION_QUEUE,
  type ExtractionBatch,
  failExtraction,
  finishIfCovered,
  getExtraction,
  getImageBlob,
  imagesStillMissing,
  markImageFailed,
  NotFoundError,
  saveFeatures,
} from '@edgehead/db';
import type { AppDeps } from '../deps.ts';
import { ensureExtractQueue } from './queue.ts';

/**
 * Failures no retry can fix: the recorded weights are unreadable, other bytes, or no model. They fail the
 * whole extraction once. Everything else (a crashed worker thread, a failed download, the database) is
 * thrown, and pg-boss retries the batch.
 */
const FATAL: ReadonlySet<BackboneErrorCode> = new Set([
  'invalid_config',
  'unknown_backbone',
  'weights_not_found',
  'weights_corrupt',
  'weights_truncated',
  'weights_missing_layer',
  'weights_shape_mismatch',
  'checksum_mismatch',
  'insecure_url',
]);

/** The original bytes of a stored image (in the database, or the registered `file:` path, checked). */
export async function imageBytes(db: Db, image: { sha256: string; storageKey: string }): Promise<Uint8Array> {
  if (image.storageKey.startsWith('file:')) {
    const bytes = new Uint8Array(await readFile(image.storageKey.slice(5)));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== image.sha256) throw new Error(`${image.storageKey} changed since it was registered`);
    return bytes;
  }
  return getImageBlob(db, image.sha256);
}

/** What one batch did; `stopped` says why it computed nothing (its extraction is no longer running). */
export interface JobOutcome {
  /** `featureSetLabel` of the batch's feature set ('' when its extraction is gone). */
  featureSet: string;
  computed: number;
  stored: number;
  failed: number;
  skipped: number;
  stopped?: 'gone' | 'failed' | 'cancelled' | 'done';
  /** Set when this batch failed its extraction. */
  error?: string;
}

/**
 * Runs one batch: nothing when its extraction stopped meanwhile (failed, cancelled, the dataset deleted);
 * else computes only the images that still lack a vector (a retry after a crash, or a duplicate, redoes
 * nothing) with exactly the feature set's recorded weights, marks undecodable images failed with the reason,
 * stores vectors insert-or-keep, and marks the extraction done when the last vector is in. A fatal error fails
 * the extraction with its reason and drops its waiting batches; other errors are thrown for pg-boss to retry.
 */
export async function runExtractJob(deps: AppDeps, batch: ExtractionBatch): Promise<JobOutcome> {
  const found = await getExtraction(deps.db, batch.extractionId).catch((err: unknown) => {
    if (err instanceof NotFoundError) return null;
    throw err;
  });
  const outcome: JobOutcome = {
    featureSet: found ? featureSetLabel(found.featureSet) : '',
    computed: 0,
    stored: 0,
    failed: 0,
    skipped: batch.imageIds.length,
  };
  if (found === null) return { ...outcome, stopped: 'gone' };
  const { extraction, featureSet } = found;
  if (extraction.status !== 'running') return { ...outcome, stopped: extraction.status };
  const todo = await imagesStillMissing(deps.db, featureSet.id, batch.imageIds);
  outcome.skipped = batch.imageIds.length - todo.length;
  if (todo.length > 0) {
    try {
      await computeBatch(deps, featureSet, todo, outcome);
    } catch (err) {
      if (!isBackboneError(err) || !FATAL.has(err.code)) throw err;
      const reason = `${err.code}: ${err.message}`;
      await failExtraction(deps.db, extraction.id, reason);
      return { ...outcome, error: reason };
    }
  }
  await finishIfCovered(deps.db, extraction.id);
  return outcome;
}

async function computeBatch(
  deps: AppDeps,
  featureSet: Awaited<ReturnType<typeof getExtraction>>['featureSet'],
  todo: Awaited<ReturnType<typeof imagesStillMissing>>,
  outcome: JobOutcome,
): Promise<void> {
  const extractor = await deps.extractors.forFeatureSet(featureSet);
  const augment =
    featureSet.provenance?.kind === 'augmented'
      ? augmentationConfig.parse(featureSet.provenance.params)
      : null;
  const copies = augment?.copies ?? 1;
  const ids: string[] = [];
  const keys: string[] = [];
  const pixels: Uint8Array[] = [];
  for (const image of todo) {
    try {
      const bytes = await imageBytes(deps.db, image);
      pixels.push((await decodeImage(bytes, extractor.info.inputSize)).pixels);
      ids.push(image.id);
      keys.push(image.sha256);
    } catch (err) {
      const permanent =
        isBackboneError(err) ||
        err instanceof NotFoundError ||
        (err as NodeJS.ErrnoException).code === 'ENOENT' ||
        /changed since/.test((err as Error).message);
      if (!permanent) throw err;
      await markImageFailed(deps.db, image.id, (err as Error).message.slice(0, 2000));
      outcome.failed++;
    }
  }
  if (pixels.length === 0) return;
  // copy i of an image is seeded by (seed, content hash, i): every replica computes the same copies; they
  // are made where the forward pass runs (a pool's worker threads), not on this thread
  const vectors = await extractor.extract(pixels, augment ? { augment: { config: augment, keys } } : {});
  outcome.computed = vectors.length;
  const shape = extractor.info.featureShape;
  // one statement: an image's copies are stored together or not at all
  outcome.stored = await saveFeatures(
    deps.db,
    vectors.map((values, i) => ({
      imageId: ids[Math.floor(i / copies)] as string,
      featureSetId: featureSet.id,
      copy: i % copies,
      shape,
      values,
    })),
  );
}

/** Options of `registerExtractionWorker`. */
export interface ExtractionWorkerOptions {
  /** Batches worked on at once by this process (default EDGEHEAD_EXTRACT_CONCURRENCY). */
  concurrency?: number;
  /** Called after each batch (logging, tests). */
  onJob?: (batch: ExtractionBatch, outcome: JobOutcome) => void;
}

/**
 * Makes this process pull extraction batches, highest priority first (every extraction's first batches
 * before anyone's later ones); returns the pg-boss worker ids (for `boss.offWork`).
 */
export async function registerExtractionWorker(
  deps: AppDeps,
  options: ExtractionWorkerOptions = {},
): Promise<string[]> {
  await ensureExtractQueue(deps);
  const n = options.concurrency ?? deps.env.extraction.concurrency;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await deps.queue.boss.work<ExtractionBatch>(
        EXTRACTION_QUEUE,
        { batchSize: 1, pollingIntervalSeconds: deps.env.extraction.pollSeconds },
        async (jobs) => {
          for (const job of jobs) {
            const outcome = await runExtractJob(deps, job.data);
            options.onJob?.(job.data, outcome);
          }
        },
      ),
    );
  }
  return ids;
}
