import {
  type FeatureSetIdentity,
  type FeatureSetRecord,
  featureSetKey,
  featureSetLabel,
  featureSetRecord,
  type Pooling,
  type Preprocessing,
} from '@edgehead/contracts';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import { extractions, featureSets } from '../schema/index.ts';

type FeatureSetRow = typeof featureSets.$inferSelect;

/** A `feature_sets` row as the contracts' record (checked, so a damaged row fails loudly here). */
export function toFeatureSetRecord(row: FeatureSetRow): FeatureSetRecord {
  return featureSetRecord.parse({
    id: row.id,
    key: row.key,
    backbone: row.backbone,
    weights: { sha256: row.weightsSha256, source: row.weightsSource },
    pooling: row.pooling,
    preprocessing: row.preprocessing,
    inputSize: row.inputSize,
    featureLayer: row.featureLayer,
    featureShape: row.featureShape,
    provenance: row.provenance ?? null,
    createdAt: row.createdAt.toISOString(),
  });
}

/** The columns `featureSetLabel` needs, for queries that show a feature set by name. */
export const featureSetLabelColumns = {
  backbone: featureSets.backbone,
  pooling: featureSets.pooling,
  preprocessing: featureSets.preprocessing,
  weightsSha256: featureSets.weightsSha256,
  provenance: featureSets.provenance,
};

/** `featureSetLabel` of a row selected with `featureSetLabelColumns`. */
export function labelOf(row: {
  backbone: string;
  pooling: string;
  preprocessing: string;
  weightsSha256: string | null;
  provenance: FeatureSetRow['provenance'];
}): string {
  return featureSetLabel({
    backbone: row.backbone,
    pooling: row.pooling as Pooling,
    preprocessing: row.preprocessing as Preprocessing,
    weights: { sha256: row.weightsSha256, source: '' },
    provenance: row.provenance ?? null,
  });
}

/**
 * The feature set of an identity, recorded on first sight: concurrent callers (requests, replicas) with the
 * same identity get the same row through the unique key. The first caller's weights source is the one kept.
 */
export async function ensureFeatureSet(db: Db, identity: FeatureSetIdentity): Promise<FeatureSetRecord> {
  const key = featureSetKey(identity);
  const [inserted] = await db
    .insert(featureSets)
    .values({
      key,
      backbone: identity.backbone,
      weightsSha256: identity.weights.sha256,
      weightsSource: identity.weights.source,
      pooling: identity.pooling,
      preprocessing: identity.preprocessing,
      inputSize: identity.inputSize,
      featureLayer: identity.featureLayer,
      featureShape: identity.featureShape,
      provenance: identity.provenance,
    })
    .onConflictDoNothing({ target: featureSets.key })
    .returning();
  if (inserted) return toFeatureSetRecord(inserted);
  const [existing] = await db.select().from(featureSets).where(eq(featureSets.key, key));
  if (!existing) throw new NotFoundError('feature set', key);
  return toFeatureSetRecord(existing);
}

/** One feature set by id; throws NotFoundError. */
export async function getFeatureSet(db: Db, id: string): Promise<FeatureSetRecord> {
  const [row] = await db.select().from(featureSets).where(eq(featureSets.id, id));
  if (!row) throw new NotFoundError('feature set', id);
  return toFeatureSetRecord(row);
}

/** What a request names of a feature set without its weights. */
export interface FeatureSetParts {
  backbone: string;
  pooling?: Pooling | undefined;
  preprocessing?: Preprocessing | undefined;
}

/**
 * The feature sets a dataset has extractions of that match `parts`, most recently extracted first. Augmented
 * feature sets are left out unless `options.augmented` (a shorthand names the plain one; an augmented set is
 * named by its id).
 */
export async function datasetFeatureSets(
  db: Db,
  datasetId: string,
  parts: FeatureSetParts,
  options: { augmented?: boolean } = {},
): Promise<FeatureSetRecord[]> {
  const rows = await db
    .select({ featureSet: featureSets })
    .from(extractions)
    .innerJoin(featureSets, eq(featureSets.id, extractions.featureSetId))
    .where(
      and(
        eq(extractions.datasetId, datasetId),
        eq(featureSets.backbone, parts.backbone),
        parts.pooling === undefined ? undefined : eq(featureSets.pooling, parts.pooling),
        parts.preprocessing === undefined ? undefined : eq(featureSets.preprocessing, parts.preprocessing),
        options.augmented ? undefined : sql`${featureSets.provenance}->>'kind' is distinct from 'augmented'`,
      ),
    )
    .orderBy(desc(extractions.updatedAt), desc(extractions.id));
  return rows.map((r) => toFeatureSetRecord(r.featureSet));
}
