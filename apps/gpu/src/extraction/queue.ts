import { EXTRACTION_QUEUE, type Extraction, type ExtractionBatch, type Transaction } from '@edgehead/db';
import type PgBoss from 'pg-boss';
import type { AppDeps } from '../deps.ts';
import { pgBossDb } from '../queue/index.ts';

/** Creates the batch queue (`EXTRACTION_QUEUE`; any replica that registers the worker pulls from it) with the service's expiry and retry policy (idempotent). */
export function ensureExtractQueue(deps: AppDeps): Promise<void> {
  const { expireSeconds, retryLimit, retryDelay } = deps.env.extraction;
  return deps.queue.ensureQueue(EXTRACTION_QUEUE, {
    expireInSeconds: expireSeconds,
    retryLimit,
    retryDelay,
    retryBackoff: retryDelay > 0,
  });
}

const INSERT_CHUNK = 500;

/**
 * Queues `imageIds` as batches of `batchSize` (default `EDGEHEAD_EXTRACT_BATCH`) images inside the caller's transaction (pg-boss's
 * `{ db }` option), so the batches exist exactly when the extraction row that counts them does. Batch `n` of an
 * extraction (numbered over its life) gets pg-boss priority `-n`: workers take every extraction's first
 * batches before anyone's later ones, so extractions interleave instead of queueing behind each other.
 * Returns how many batches it queued.
 */
export async function queueBatches(
  deps: AppDeps,
  tx: Transaction,
  extraction: Extraction,
  imageIds: readonly string[],
  batchSize: number = deps.env.extraction.batchSize,
): Promise<number> {
  const jobs: PgBoss.JobInsert<ExtractionBatch>[] = [];
  for (let i = 0; i < imageIds.length; i += batchSize) {
    jobs.push({
      name: EXTRACTION_QUEUE,
      priority: -(extraction.batches + jobs.length),
      data: {
        extractionId: extraction.id,
        datasetId: extraction.datasetId,
        featureSetId: extraction.featureSetId,
        imageIds: imageIds.slice(i, i + batchSize),
      },
    });
  }
  // a statement that fails inside a transaction cannot be retried on it: no connection-loss retry window
  const db = pgBossDb(tx.sql, { retryWindowMs: 0 });
  for (let i = 0; i < jobs.length; i += INSERT_CHUNK) {
    await deps.queue.boss.insert(jobs.slice(i, i + INSERT_CHUNK), { db });
  }
  return jobs.length;
}
