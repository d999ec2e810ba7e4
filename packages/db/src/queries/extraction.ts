import { and, count, eq, gte, inArray, notExists, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { InvalidInputError } from '../errors.ts';
import { features, images } from '../schema/index.ts';
import type { Image } from './images.ts';

/**
 * Of the given image ids, the ready ones that still have no vector for `featureSet`: what a feature job
 * must compute now (a retried or duplicated job finds less, or nothing, left to do).
 */
export async function imagesStillMissing(
  db: Db,
  featureSet: string,
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
        notExists(
          db
            .select({ one: sql`1` })
            .from(features)
            .where(and(eq(features.imageId, images.id), eq(features.featureSet, featureSet))),
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

/** Vectors of a dataset x feature set stored in the last `windowSeconds`, with the first and last time. */
export async function recentFeatureRate(
  db: Db,
  datasetId: string,
  featureSet: string,
  windowSeconds: number,
): Promise<{ n: number; first: Date | null; last: Date | null }> {
  const since = sql`now() - make_interval(secs => ${windowSeconds})`;
  const [row] = await db
    .select({
      n: count(),
      first: sql<string | null>`min(${features.createdAt})`,
      last: sql<string | null>`max(${features.createdAt})`,
    })
    .from(features)
    .innerJoin(images, eq(images.id, features.imageId))
    .where(
      and(
        eq(images.datasetId, datasetId),
        eq(features.featureSet, featureSet),
        gte(features.createdAt, since),
      ),
    );
  const date = (v: string | Date | null | undefined) => (v == null ? null : new Date(v));
  return { n: row?.n ?? 0, first: date(row?.first), last: date(row?.last) };
}

/** pg-boss job counts by state for the jobs whose `data` matches `datasetId` and `featureSet`. */
export interface JobCounts {
  queued: number;
  active: number;
  failed: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Counts feature jobs of one dataset x feature set in pg-boss's job table (`<schema>.job`, pg-boss 10),
 * by state: queued (created, retry), active, failed. Zero everywhere while pg-boss is not installed.
 */
export async function featureJobCounts(
  db: Db,
  input: { schema?: string; queue: string; datasetId: string; featureSet: string },
): Promise<JobCounts> {
  const schema = input.schema ?? 'pgboss';
  if (!IDENT.test(schema)) throw new InvalidInputError('schema', `'${schema}' is not a plain identifier`);
  const [installed] = await db.execute<{ ok: boolean }>(
    sql`select to_regclass(${`${schema}.job`}) is not null as ok`,
  );
  if (!installed?.ok) return { queued: 0, active: 0, failed: 0 };
  const rows = await db.execute<{ state: string; n: number }>(sql`
    select state::text as state, count(*)::int as n from ${sql.identifier(schema)}.job
    where name = ${input.queue} and data->>'datasetId' = ${input.datasetId}
      and data->>'featureSet' = ${input.featureSet} and state in ('created', 'retry', 'active', 'failed')
    group by state`);
  const counts: JobCounts = { queued: 0, active: 0, failed: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    if (r.state === 'active') counts.active += n;
    else if (r.state === 'failed') counts.failed += n;
    else counts.queued += n;
  }
  return counts;
}
