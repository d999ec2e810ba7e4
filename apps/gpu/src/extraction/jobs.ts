import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { decodeImage, isBackboneError } from '@edgehead/backbones';
import type { ExtractionProgress, ExtractRequest, ExtractResponse } from '@edgehead/contracts';
import {
  countFailedImages,
  featureJobCounts,
  featureProgress,
  getDataset,
  getImageBlob,
  imagesMissingFeatures,
  imagesStillMissing,
  markImageFailed,
  NotFoundError,
  recentFeatureRate,
  saveFeatures,
} from '@edgehead/db';
import type PgBoss from 'pg-boss';
import type { AppDeps } from '../deps.ts';
import type { ExtractorRequest } from '../extractors/registry.ts';

/** The pg-boss queue feature jobs travel on; any replica that registers the worker pulls from it. */
export const EXTRACT_QUEUE = 'extract-features';

/** Payload of one feature job: a batch of images of one dataset and the extractor to run. */
export interface ExtractJobData {
  datasetId: string;
  featureSet: string;
  /** Fully resolved (weights included), so every replica computes the same feature set. */
  extractor: Required<Pick<ExtractorRequest, 'backbone' | 'pooling' | 'preprocessing' | 'weights'>>;
  imageIds: string[];
}

const RATE_WINDOW_SECONDS = 60;

/** Done/total, failures, queue state, rate and ETA of one dataset x feature set. */
export async function extractionProgress(
  deps: AppDeps,
  datasetId: string,
  featureSet: string,
): Promise<ExtractionProgress> {
  const [{ total, done }, failed, jobs, rate] = await Promise.all([
    featureProgress(deps.db, datasetId, featureSet),
    countFailedImages(deps.db, datasetId),
    featureJobCounts(deps.db, { queue: EXTRACT_QUEUE, datasetId, featureSet }),
    recentFeatureRate(deps.db, datasetId, featureSet, RATE_WINDOW_SECONDS),
  ]);
  let imagesPerSecond: number | null = null;
  if (rate.n > 0 && rate.first !== null && rate.last !== null) {
    const span = (rate.last.getTime() - rate.first.getTime()) / 1000;
    imagesPerSecond = rate.n / Math.max(span, 1);
  }
  const left = Math.max(total - done, 0);
  const state =
    jobs.active > 0 ? 'running' : jobs.queued > 0 ? 'queued' : total > 0 && left === 0 ? 'done' : 'idle';
  const etaSeconds = left === 0 ? 0 : imagesPerSecond ? left / imagesPerSecond : null;
  return { datasetId, featureSet, state, total, done, failed, jobs, imagesPerSecond, etaSeconds };
}

/** Progress for a request naming the feature set by its parts (backbone, pooling, preprocessing). */
export async function progressFor(
  deps: AppDeps,
  idOrName: string,
  request: ExtractorRequest,
): Promise<ExtractionProgress> {
  const dataset = await getDataset(deps.db, idOrName);
  return extractionProgress(deps, dataset.id, deps.extractors.featureSetOf(request));
}

/** Creates the feature queue with the service's expiry and retry policy (idempotent). */
export function ensureExtractQueue(deps: AppDeps): Promise<void> {
  const { expireSeconds, retryLimit, retryDelay } = deps.env.extraction;
  return deps.queue.ensureQueue(EXTRACT_QUEUE, {
    expireInSeconds: expireSeconds,
    retryLimit,
    retryDelay,
    retryBackoff: retryDelay > 0,
  });
}

/**
 * Queues jobs of `batchSize` images for every ready image of the dataset that has no vector for the
 * feature set yet. Images already done are skipped; queuing twice only adds jobs that find nothing left.
 */
export async function enqueueExtraction(
  deps: AppDeps,
  idOrName: string,
  request: ExtractRequest,
): Promise<ExtractResponse> {
  const dataset = await getDataset(deps.db, idOrName);
  const resolved = deps.extractors.resolve(request);
  await ensureExtractQueue(deps);
  const missing = await imagesMissingFeatures(deps.db, dataset.id, resolved.featureSet, 10_000_000);
  const { batchSize } = deps.env.extraction;
  const jobs: PgBoss.JobInsert<ExtractJobData>[] = [];
  for (let i = 0; i < missing.length; i += batchSize) {
    jobs.push({
      name: EXTRACT_QUEUE,
      data: {
        datasetId: dataset.id,
        featureSet: resolved.featureSet,
        extractor: {
          backbone: resolved.backbone,
          pooling: resolved.pooling,
          preprocessing: resolved.preprocessing,
          weights: String(resolved.config.weights),
        },
        imageIds: missing.slice(i, i + batchSize).map((m) => m.id),
      },
    });
  }
  for (let i = 0; i < jobs.length; i += 500) await deps.queue.boss.insert(jobs.slice(i, i + 500));
  return {
    queuedImages: missing.length,
    queuedJobs: jobs.length,
    progress: await extractionProgress(deps, dataset.id, resolved.featureSet),
  };
}

async function imageBytes(deps: AppDeps, image: { sha256: string; storageKey: string }): Promise<Uint8Array> {
  if (image.storageKey.startsWith('file:')) {
    const bytes = new Uint8Array(await readFile(image.storageKey.slice(5)));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== image.sha256) throw new Error(`${image.storageKey} changed since it was registered`);
    return bytes;
  }
  return getImageBlob(deps.db, image.sha256);
}

/** What one job run did. */
export interface JobOutcome {
  computed: number;
  stored: number;
  failed: number;
  skipped: number;
}

/**
 * Runs one feature job: computes only the images that still lack a vector (a retry after a crash, or a
 * duplicate job, redoes nothing), marks undecodable images failed with the reason, stores vectors
 * insert-or-keep. Extractor failures throw, so pg-boss retries the job.
 */
export async function runExtractJob(deps: AppDeps, data: ExtractJobData): Promise<JobOutcome> {
  const todo = await imagesStillMissing(deps.db, data.featureSet, data.imageIds);
  const outcome: JobOutcome = {
    computed: 0,
    stored: 0,
    failed: 0,
    skipped: data.imageIds.length - todo.length,
  };
  if (todo.length === 0) return outcome;
  const { extractor, resolved } = await deps.extractors.get(data.extractor);
  if (resolved.featureSet !== data.featureSet) {
    throw new Error(
      `job for feature set ${data.featureSet} resolves to ${resolved.featureSet} on this replica`,
    );
  }
  const ids: string[] = [];
  const pixels: Uint8Array[] = [];
  for (const image of todo) {
    try {
      const bytes = await imageBytes(deps, image);
      pixels.push((await decodeImage(bytes, extractor.info.inputSize)).pixels);
      ids.push(image.id);
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
  if (pixels.length === 0) return outcome;
  const vectors = await extractor.extract(pixels);
  outcome.computed = vectors.length;
  const shape = extractor.info.featureShape;
  outcome.stored = await saveFeatures(
    deps.db,
    vectors.map((values, i) => ({ imageId: ids[i] as string, featureSet: data.featureSet, shape, values })),
  );
  return outcome;
}

/** Options of `registerExtractionWorker`. */
export interface ExtractionWorkerOptions {
  /** Jobs worked on at once by this process (default EDGEHEAD_EXTRACT_CONCURRENCY). */
  concurrency?: number;
  /** Called after each job (logging, tests). */
  onJob?: (data: ExtractJobData, outcome: JobOutcome) => void;
}

/** Makes this process pull feature jobs; returns the pg-boss worker ids (for `boss.offWork`). */
export async function registerExtractionWorker(
  deps: AppDeps,
  options: ExtractionWorkerOptions = {},
): Promise<string[]> {
  await ensureExtractQueue(deps);
  const n = options.concurrency ?? deps.env.extraction.concurrency;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await deps.queue.boss.work<ExtractJobData>(
        EXTRACT_QUEUE,
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
