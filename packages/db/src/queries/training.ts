import type { Split } from '@edgehead/contracts';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { features, images } from '../schema/index.ts';

/**
 * How many images of each split of a dataset have a stored vector of one feature set (0 for a split without
 * any; an augmented feature set's k copies of an image count once).
 */
export async function featureSplitCounts(
  db: Db,
  datasetId: string,
  featureSetId: string,
): Promise<Record<Split, number>> {
  const rows = await db
    .select({ split: images.split, n: sql<number>`count(distinct ${features.imageId})`.mapWith(Number) })
    .from(features)
    .innerJoin(images, eq(images.id, features.imageId))
    .where(and(eq(images.datasetId, datasetId), eq(features.featureSetId, featureSetId)))
    .groupBy(images.split);
  const counts: Record<Split, number> = { train: 0, validation: 0, test: 0 };
  for (const row of rows) counts[row.split] = row.n;
  return counts;
}
