import { SPLITS, type Split } from '@edgehead/contracts';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { imageBlobs, images } from '../schema/index.ts';
import { getDataset } from './datasets.ts';

export type Image = typeof images.$inferSelect;

export interface NewImage {
  datasetId: string;
  split: string;
  label: string;
  sha256: string;
  originalName?: string | null;
  width: number;
  height: number;
  bytes: number;
  /** The original bytes, stored once per content hash; omit when `storageKey` points elsewhere (`file:`). */
  data?: Uint8Array;
  storageKey?: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Adds an image idempotently: the same content (sha256) in the same dataset is a no-op that returns the
 * stored row with `duplicate: true`, also when two writers race. Nothing is written when input is invalid.
 */
export async function addImage(db: Db, input: NewImage): Promise<{ image: Image; duplicate: boolean }> {
  const dataset = await getDataset(db, input.datasetId);
  if (!SPLITS.includes(input.split as Split)) {
    throw new InvalidInputError('split', `'${input.split}' is not one of ${SPLITS.join(', ')}`);
  }
  if (!dataset.classes.includes(input.label)) {
    throw new InvalidInputError(
      'label',
      `'${input.label}' is not one of the dataset's classes ${dataset.classes.join(', ')}`,
    );
  }
  if (!SHA256.test(input.sha256))
    throw new InvalidInputError('sha256', 'expected 64 lowercase hex characters');
  if (!input.data && !input.storageKey)
    throw new InvalidInputError('data', 'either data or storageKey is required');
  const storageKey = input.storageKey ?? `pg:${input.sha256}`;
  return db.transaction(async (tx) => {
    if (input.data) {
      await tx.insert(imageBlobs).values({ sha256: input.sha256, data: input.data }).onConflictDoNothing();
    }
    const [inserted] = await tx
      .insert(images)
      .values({
        datasetId: dataset.id,
        split: input.split as Split,
        label: input.label,
        sha256: input.sha256,
        originalName: input.originalName ?? null,
        width: input.width,
        height: input.height,
        bytes: input.bytes,
        storageKey,
      })
      .onConflictDoNothing({ target: [images.datasetId, images.sha256] })
      .returning();
    if (inserted) return { image: inserted, duplicate: false };
    const [existing] = await tx
      .select()
      .from(images)
      .where(and(eq(images.datasetId, dataset.id), eq(images.sha256, input.sha256)));
    return { image: existing as Image, duplicate: true };
  });
}

/** The stored bytes of a `pg:` image; throws NotFoundError. */
export async function getImageBlob(db: Db, sha256: string): Promise<Uint8Array> {
  const [row] = await db
    .select({ data: imageBlobs.data })
    .from(imageBlobs)
    .where(eq(imageBlobs.sha256, sha256));
  if (!row) throw new NotFoundError('image blob', sha256);
  return row.data;
}

/** Where the bytes of each image of `ids` are (content hash and storage key), by id. */
export async function imageLocations(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, Pick<Image, 'id' | 'sha256' | 'storageKey'>>> {
  const found = new Map<string, Pick<Image, 'id' | 'sha256' | 'storageKey'>>();
  for (let start = 0; start < ids.length; start += 1000) {
    const rows = await db
      .select({ id: images.id, sha256: images.sha256, storageKey: images.storageKey })
      .from(images)
      .where(inArray(images.id, ids.slice(start, start + 1000)));
    for (const row of rows) found.set(row.id, row);
  }
  return found;
}

/** Images of a dataset in a stable order, optionally of one split. */
export async function listImages(
  db: Db,
  datasetId: string,
  options: { split?: Split; limit?: number; offset?: number } = {},
): Promise<Image[]> {
  const where = options.split
    ? and(eq(images.datasetId, datasetId), eq(images.split, options.split))
    : eq(images.datasetId, datasetId);
  return db
    .select()
    .from(images)
    .where(where)
    .orderBy(asc(images.createdAt), asc(images.id))
    .limit(options.limit ?? 1000)
    .offset(options.offset ?? 0);
}

/** Image counts of a dataset by split and label. */
export async function countImages(
  db: Db,
  datasetId: string,
): Promise<{ split: Split; label: string; n: number }[]> {
  return db
    .select({ split: images.split, label: images.label, n: sql<number>`count(*)`.mapWith(Number) })
    .from(images)
    .where(eq(images.datasetId, datasetId))
    .groupBy(images.split, images.label)
    .orderBy(images.split, images.label);
}

/** Marks an image that cannot be featurized (e.g. its bytes no longer decode), keeping the reason. */
export async function markImageFailed(db: Db, id: string, error: string): Promise<void> {
  await db.update(images).set({ status: 'failed', error }).where(eq(images.id, id));
}
