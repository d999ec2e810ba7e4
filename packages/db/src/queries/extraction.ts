import type { ExtractionProgress, ExtractionState } from '@edgehead/contracts';
import { and, count, desc, eq, inArray, notExists, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { datasets, extractions, featureSets, features, images } from '../schema/index.ts';
import { toFeatureSetRecord } from './feature-sets.ts';
import type { Image } from './images.ts';

/** The pg-boss queue of extraction batches (the gpu service creates it; these queries read its jobs). */
export const EXTRACTION_QUEUE = 'extract-features';

/** Payload of one extraction batch job. */
export interface ExtractionBatch {
  extractionId: string;
  datasetId: string;
  featureSetId: string;
  imageIds: string[];
}

export type Extraction = typeof extractions.$inferSelect;

/** Where pg-boss keeps its jobs: its schema (default `pgboss`) and the queue (default `EXTRACTION_QUEUE`). */
export interface JobTable {
  schema?: string;
  queue?: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** The job table of pg-boss 10 (`<schema>.job`), or null while pg-boss is not installed. */
async function jobTable(db: Db, table: JobTable): Promise<{ job: SQL; queue: string } | null> {
  const schema = table.schema ?? 'pgboss';
  if (!IDENT.test(schema)) throw new InvalidInputError('schema', `'${schema}' is not a plain identifier`);
  const [installed] = await db.execute<{ ok: boolean }>(
    sql`select to_regclass(${`${schema}.job`}) is not null as ok`,
  );
  if (!installed?.ok) return null;
  return { job: sql`${sql.identifier(schema)}.job`, queue: table.queue ?? EXTRACTION_QUEUE };
}

/**
 * True for an image (alias `i`) that the feature set (an id expression) has vectors for: every image, but
 * only training images for an augmented feature set (validation and test are never augmented).
 */
export function inFeatureSetScope(featureSetId: SQL | string): SQL {
  return sql`(i.split = 'train' or not exists (
    select 1 from ${featureSets} s where s.id = ${featureSetId} and s.provenance->>'kind' = 'augmented'))`;
}

const idList = (ids: readonly string[]) =>
  sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );

/**
 * Of the given image ids, the ready ones that still have no vector of the feature set: what a batch must
 * compute now (a retried or duplicated batch finds less, or nothing, left to do).
 */
export async function imagesStillMissing(
  db: Db,
  featureSetId: string,
  imageIds: readonly string[],
): Promise<Pick<Image, 'id' | 'sha256' | 'storageKey'>[]> {
  if (imageIds.length === 0) return [];
  return db
    .select({ id: images.id, sha256: images.sha256, storageKey: images.storageKey })
    .from(images)
    .where(
      and(
        inArray(images.id, [...imageIds]),
        eq(images.status, 'ready'),
        sql`(${images.split} = 'train' or not exists (
          select 1 from ${featureSets} s where s.id = ${featureSetId} and s.provenance->>'kind' = 'augmented'))`,
        notExists(
          db
            .select({ one: sql`1` })
            .from(features)
            .where(and(eq(features.imageId, images.id), eq(features.featureSetId, featureSetId))),
        ),
      ),
    )
    .orderBy(images.id);
}

/** Number of a dataset's images marked failed (bytes that no longer decode). */
export async function countFailedImages(db: Db, datasetId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(images)
    .where(and(eq(images.datasetId, datasetId), eq(images.status, 'failed')));
  return row?.n ?? 0;
}

/**
 * The extraction of (dataset, feature set), created on first use, and locked until the caller's transaction
 * ends: call it inside `inTransaction`, so concurrent requests (any replica) queue batches one after another.
 */
export async function openExtraction(tx: Db, datasetId: string, featureSetId: string): Promise<Extraction> {
  const [row] = await tx
    .insert(extractions)
    .values({ datasetId, featureSetId })
    // a no-op update: it takes the row lock that a plain `do nothing` would not
    .onConflictDoUpdate({
      target: [extractions.datasetId, extractions.featureSetId],
      set: { updatedAt: sql`${sql.identifier('extractions')}.${sql.identifier('updated_at')}` },
    })
    .returning();
  return row as Extraction;
}

/**
 * Ready images of the extraction's dataset (training images only for an augmented feature set) that have no
 * vector and are in none of its outstanding batches
 * (created, retry or active jobs): exactly what a new request must queue.
 */
export async function imagesToQueue(db: Db, extraction: Extraction, table: JobTable = {}): Promise<string[]> {
  const boss = await jobTable(db, table);
  const queued = boss
    ? sql`and i.id::text not in (
        select jsonb_array_elements_text(j.data->'imageIds') from ${boss.job} j
        where j.name = ${boss.queue} and j.data->>'extractionId' = ${extraction.id}
          and j.state in ('created', 'retry', 'active'))`
    : sql``;
  const rows = await db.execute<{ id: string }>(sql`
    select i.id from ${images} i
    where i.dataset_id = ${extraction.datasetId} and i.status = 'ready'
      and ${inFeatureSetScope(extraction.featureSetId)}
      and not exists (
        select 1 from ${features} f where f.image_id = i.id and f.feature_set_id = ${extraction.featureSetId})
      ${queued}
    order by i.id`);
  return rows.map((r) => r.id);
}

/**
 * Records that a request queued `images` more images in `batches` more batches. New work, or a request for a
 * failed or cancelled extraction, makes it running again (error cleared); a repeated request changes nothing.
 */
export async function recordQueued(
  db: Db,
  id: string,
  added: { images: number; batches: number },
): Promise<void> {
  const reopen = sql`(${added.images} > 0 or ${extractions.status} in ('failed', 'cancelled'))`;
  await db
    .update(extractions)
    .set({
      images: sql`${extractions.images} + ${added.images}`,
      batches: sql`${extractions.batches} + ${added.batches}`,
      status: sql`case when ${reopen} then 'running'::extraction_status else ${extractions.status} end`,
      error: sql`case when ${reopen} then null else ${extractions.error} end`,
      finishedAt: sql`case when ${reopen} then null else ${extractions.finishedAt} end`,
      updatedAt: sql`now()`,
    })
    .where(eq(extractions.id, id));
}

/**
 * Marks a running extraction done when every ready image of its dataset (training images for an augmented
 * feature set) has a vector (all copies of an image are stored in one statement, so one is all). Each batch calls it
 * after storing its vectors, so whichever batch commits the last vector sees full coverage. Returns whether it
 * changed the row.
 */
export async function finishIfCovered(db: Db, id: string): Promise<boolean> {
  const rows = await db.execute<{ id: string }>(sql`
    update ${extractions} e set status = 'done', finished_at = now(), updated_at = now()
    where e.id = ${id} and e.status = 'running'
      and not exists (
        select 1 from ${images} i
        where i.dataset_id = e.dataset_id and i.status = 'ready'
          and ${inFeatureSetScope(sql`e.feature_set_id`)}
          and not exists (select 1 from ${features} f where f.image_id = i.id and f.feature_set_id = e.feature_set_id))
    returning e.id`);
  return rows.length > 0;
}

/**
 * Deletes the batches of `ids` that no worker holds yet (created or retry) inside the caller's transaction;
 * returns how many. Stored vectors stay.
 */
async function dropWaitingBatches(tx: Db, ids: readonly string[], table: JobTable): Promise<number> {
  const boss = await jobTable(tx, table);
  if (!boss || ids.length === 0) return 0;
  const rows = await tx.execute<{ id: string }>(sql`
    delete from ${boss.job} j
    where j.name = ${boss.queue} and j.data->>'extractionId' in (${idList(ids)}) and j.state in ('created', 'retry')
    returning j.id`);
  return rows.length;
}

/**
 * Stops the running extractions among `ids` and deletes their waiting batches in one transaction. The stop
 * holds the rows' locks until its batches are gone, so a concurrent extract request (`openExtraction`) waits
 * and then queues what is missing, instead of counting batches about to vanish as queued and reopening the
 * extraction over nothing.
 */
async function stopExtractions(
  db: Db,
  ids: readonly string[],
  stop: { status: 'cancelled' } | { status: 'failed'; error: string },
  table: JobTable,
): Promise<{ stopped: string[]; droppedJobs: number }> {
  if (ids.length === 0) return { stopped: [], droppedJobs: 0 };
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(extractions)
      .set({ ...stop, finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(inArray(extractions.id, [...ids]), eq(extractions.status, 'running')))
      .returning({ id: extractions.id });
    const stopped = rows.map((r) => r.id);
    return { stopped, droppedJobs: await dropWaitingBatches(tx, stopped, table) };
  });
}

/**
 * Marks a running extraction failed with the reason and deletes its waiting batches; false when it had
 * already stopped (failed or cancelled).
 */
export async function failExtraction(
  db: Db,
  id: string,
  reason: string,
  table: JobTable = {},
): Promise<boolean> {
  const { stopped } = await stopExtractions(
    db,
    [id],
    { status: 'failed', error: reason.slice(0, 4000) },
    table,
  );
  return stopped.length > 0;
}

/** Cancels the running extractions among `ids` and deletes their waiting batches; the ids it stopped. */
export function cancelExtractions(
  db: Db,
  ids: readonly string[],
  table: JobTable = {},
): Promise<{ stopped: string[]; droppedJobs: number }> {
  return stopExtractions(db, ids, { status: 'cancelled' }, table);
}

/** An extraction with its dataset's name and its feature set; throws NotFoundError. */
export async function getExtraction(db: Db, id: string) {
  const [row] = await db
    .select({ extraction: extractions, featureSet: featureSets })
    .from(extractions)
    .innerJoin(featureSets, eq(featureSets.id, extractions.featureSetId))
    .where(eq(extractions.id, id));
  if (!row) throw new NotFoundError('extraction', id);
  return { extraction: row.extraction, featureSet: toFeatureSetRecord(row.featureSet) };
}

/** Batch counts of one extraction by state: waiting (created, retry), active, failed after their retries. */
export interface JobCounts {
  queued: number;
  active: number;
  failed: number;
}

/** Counts and the latest failure message of the batches of each extraction. */
async function batchStats(
  db: Db,
  ids: readonly string[],
  table: JobTable,
): Promise<Map<string, JobCounts & { lastError: string | null }>> {
  const out = new Map<string, JobCounts & { lastError: string | null }>();
  for (const id of ids) out.set(id, { queued: 0, active: 0, failed: 0, lastError: null });
  const boss = await jobTable(db, table);
  if (!boss || ids.length === 0) return out;
  const [counts, errors] = await Promise.all([
    db.execute<{ id: string; state: string; n: number }>(sql`
      select j.data->>'extractionId' as id, j.state::text as state, count(*)::int as n from ${boss.job} j
      where j.name = ${boss.queue} and j.data->>'extractionId' in (${idList(ids)})
        and j.state in ('created', 'retry', 'active', 'failed')
      group by 1, 2`),
    db.execute<{ id: string; message: string | null }>(sql`
      select distinct on (j.data->>'extractionId') j.data->>'extractionId' as id,
        coalesce(j.output->>'message', j.output->'value'->>'message') as message
      from ${boss.job} j
      where j.name = ${boss.queue} and j.state = 'failed' and j.data->>'extractionId' in (${idList(ids)})
      order by j.data->>'extractionId', j.completed_on desc`),
  ]);
  for (const r of counts) {
    const s = out.get(r.id);
    if (!s) continue;
    const n = Number(r.n);
    if (r.state === 'active') s.active += n;
    else if (r.state === 'failed') s.failed += n;
    else s.queued += n;
  }
  for (const r of errors) {
    const s = out.get(r.id);
    if (s) s.lastError = r.message;
  }
  return out;
}

/** What `listExtractions` returns: every extraction, or those of a dataset, a feature set or the given ids. */
export interface ExtractionFilter extends JobTable {
  datasetId?: string;
  featureSetId?: string;
  ids?: readonly string[];
  limit?: number;
}

const RATE_WINDOW_SECONDS = 60;

/** The state a reader sees: stored failed/cancelled, else read off the queue and the vectors. */
export function extractionState(
  status: Extraction['status'],
  jobs: JobCounts,
  progress: { total: number; done: number },
): ExtractionState {
  if (status === 'failed' || status === 'cancelled') return status;
  if (jobs.active > 0) return 'running';
  if (jobs.queued > 0) return 'queued';
  return progress.done >= progress.total ? 'done' : 'idle';
}

/**
 * Extractions with their progress (newest first): done/total over the dataset's ready images, failed images,
 * batches by state, vectors per second over the last minute, ETA at that rate, the state and the error.
 * A fixed number of queries, however many extractions.
 */
export async function listExtractions(db: Db, filter: ExtractionFilter = {}): Promise<ExtractionProgress[]> {
  if (filter.ids?.length === 0) return [];
  const rows = await db
    .select({ extraction: extractions, datasetName: datasets.name, featureSet: featureSets })
    .from(extractions)
    .innerJoin(datasets, eq(datasets.id, extractions.datasetId))
    .innerJoin(featureSets, eq(featureSets.id, extractions.featureSetId))
    .where(
      and(
        filter.datasetId === undefined ? undefined : eq(extractions.datasetId, filter.datasetId),
        filter.featureSetId === undefined ? undefined : eq(extractions.featureSetId, filter.featureSetId),
        filter.ids === undefined ? undefined : inArray(extractions.id, [...filter.ids]),
      ),
    )
    .orderBy(desc(extractions.createdAt), desc(extractions.id))
    .limit(filter.limit ?? 500);
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.extraction.id);
  const datasetIds = [...new Set(rows.map((r) => r.extraction.datasetId))];
  const [coverage, failedImages, rates, batches] = await Promise.all([
    db.execute<{ id: string; total: number; done: number }>(sql`
      select e.id, count(i.id)::int as total, count(f.image_id)::int as done
      from ${extractions} e
      join ${images} i on i.dataset_id = e.dataset_id and i.status = 'ready'
        and ${inFeatureSetScope(sql`e.feature_set_id`)}
      left join ${features} f on f.image_id = i.id and f.feature_set_id = e.feature_set_id and f.copy = 0
      where e.id in (${idList(ids)})
      group by e.id`),
    db.execute<{ dataset_id: string; n: number }>(sql`
      select dataset_id, count(*)::int as n from ${images}
      where status = 'failed' and dataset_id in (${idList(datasetIds)})
      group by dataset_id`),
    db.execute<{ id: string; n: number; first: string | Date | null; last: string | Date | null }>(sql`
      select e.id, count(*)::int as n, min(f.created_at) as first, max(f.created_at) as last
      from ${extractions} e
      join ${images} i on i.dataset_id = e.dataset_id
      join ${features} f on f.image_id = i.id and f.feature_set_id = e.feature_set_id and f.copy = 0
      where e.id in (${idList(ids)}) and f.created_at >= now() - make_interval(secs => ${RATE_WINDOW_SECONDS})
      group by e.id`),
    batchStats(db, ids, filter),
  ]);
  const coverageOf = new Map(coverage.map((r) => [r.id, { total: Number(r.total), done: Number(r.done) }]));
  const failedOf = new Map(failedImages.map((r) => [r.dataset_id, Number(r.n)]));
  const rateOf = new Map(
    rates.map((r) => {
      const span = r.first && r.last ? (new Date(r.last).getTime() - new Date(r.first).getTime()) / 1000 : 0;
      return [r.id, Number(r.n) / Math.max(span, 1)];
    }),
  );
  return rows.map(({ extraction: e, datasetName, featureSet }) => {
    const { total, done } = coverageOf.get(e.id) ?? { total: 0, done: 0 };
    const { lastError, ...jobs } = batchesOf(batches, e.id);
    const state = extractionState(e.status, jobs, { total, done });
    const imagesPerSecond = rateOf.get(e.id) ?? null;
    const left = Math.max(total - done, 0);
    const stopped = state === 'failed' || state === 'cancelled';
    const gaveUp =
      state === 'idle' && jobs.failed > 0
        ? `${jobs.failed} batch(es) gave up after their retries${lastError ? `: ${lastError}` : ''}`
        : null;
    return {
      id: e.id,
      datasetId: e.datasetId,
      datasetName,
      featureSet: toFeatureSetRecord(featureSet),
      state,
      total,
      done,
      failed: failedOf.get(e.datasetId) ?? 0,
      jobs,
      imagesPerSecond,
      etaSeconds: stopped ? null : left === 0 ? 0 : imagesPerSecond ? left / imagesPerSecond : null,
      error: e.error ?? gaveUp,
      createdAt: e.createdAt.toISOString(),
      finishedAt: e.finishedAt?.toISOString() ?? null,
    };
  });
}

function batchesOf(stats: Map<string, JobCounts & { lastError: string | null }>, id: string) {
  return stats.get(id) ?? { queued: 0, active: 0, failed: 0, lastError: null };
}
