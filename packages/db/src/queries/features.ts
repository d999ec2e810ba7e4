import type { Split } from '@edgehead/contracts';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { InvalidInputError } from '../errors.ts';
import { features, images } from '../schema/index.ts';

export interface FeatureVector {
  imageId: string;
  featureSetId: string;
  shape: number[];
  /** Augmented copy index; 0 (the default) for plain feature sets. */
  copy?: number;
  /** float32 values; stored little-endian. */
  values: Float32Array;
}

function toBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return out;
}

function fromBytes(bytes: Uint8Array, into: Float32Array, offset: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / 4;
  for (let i = 0; i < n; i++) into[offset + i] = view.getFloat32(i * 4, true);
}

/**
 * Stores feature vectors in one statement (so all copies of an image land together or not at all); a vector
 * already stored for (image, feature set, copy) is kept, so a re-run or two workers racing on the same image
 * never produce a second row. Returns how many rows were new.
 */
export async function saveFeatures(db: Db, vectors: FeatureVector[]): Promise<number> {
  if (vectors.length === 0) return 0;
  for (const v of vectors) {
    const size = v.shape.reduce((a, b) => a * b, 1);
    if (size !== v.values.length) {
      throw new InvalidInputError(
        'values',
        `shape [${v.shape}] needs ${size} values, got ${v.values.length}`,
      );
    }
    if (!v.values.every(Number.isFinite))
      throw new InvalidInputError('values', `image ${v.imageId}: not finite`);
  }
  const inserted = await db
    .insert(features)
    .values(
      vectors.map((v) => ({
        imageId: v.imageId,
        featureSetId: v.featureSetId,
        copy: v.copy ?? 0,
        dtype: 'float32' as const,
        shape: v.shape,
        vector: toBytes(v.values),
      })),
    )
    .onConflictDoNothing()
    .returning({ imageId: features.imageId });
  return inserted.length;
}

/** A split's features as one row-major matrix [n, d] with each row's label and image id. */
export interface FeatureMatrix {
  imageIds: string[];
  labels: string[];
  shape: number[];
  data: Float32Array;
}

/**
 * Loads every stored vector of a dataset's split for one feature set, in a stable order (image id); copy 0
 * only, so an augmented feature set gives its first copies (`loadAugmentedCopies` gives them all).
 */
export async function loadFeatureMatrix(
  db: Db,
  datasetId: string,
  featureSetId: string,
  split: Split,
): Promise<FeatureMatrix> {
  const rows = await db
    .select({
      imageId: features.imageId,
      label: images.label,
      shape: features.shape,
      vector: features.vector,
    })
    .from(features)
    .innerJoin(images, eq(images.id, features.imageId))
    .where(
      and(
        eq(images.datasetId, datasetId),
        eq(images.split, split),
        eq(features.featureSetId, featureSetId),
        eq(features.copy, 0),
      ),
    )
    .orderBy(asc(images.id));
  const shape = rows[0]?.shape ?? [];
  const d = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * d);
  rows.forEach((row, i) => {
    if (!row.vector || row.vector.byteLength !== d * 4) {
      throw new InvalidInputError(
        'features',
        `image ${row.imageId}: vector has ${row.vector?.byteLength ?? 0} bytes, expected ${d * 4}`,
      );
    }
    fromBytes(row.vector, data, i * d);
  });
  return { imageIds: rows.map((r) => r.imageId), labels: rows.map((r) => r.label), shape, data };
}

/**
 * The images of a dataset's split that have a vector of one feature set, with their labels, in
 * `loadFeatureMatrix`'s order, without the vectors.
 */
export async function featureImages(
  db: Db,
  datasetId: string,
  featureSetId: string,
  split: Split,
): Promise<{ imageIds: string[]; labels: string[] }> {
  const rows = await db
    .select({ imageId: features.imageId, label: images.label })
    .from(features)
    .innerJoin(images, eq(images.id, features.imageId))
    .where(
      and(eq(images.datasetId, datasetId), eq(images.split, split), eq(features.featureSetId, featureSetId)),
    )
    .orderBy(asc(images.id));
  return { imageIds: rows.map((r) => r.imageId), labels: rows.map((r) => r.label) };
}

/**
 * Stored vectors of a feature set by the content hash of their images, for the images of `sha256s` that any
 * dataset holds with a vector of that feature set (the same bytes and the same feature set give the same
 * vector, so a request for an image already extracted needs no forward pass).
 */
export async function storedFeaturesByContent(
  db: Db,
  featureSetId: string,
  sha256s: readonly string[],
): Promise<Map<string, Float32Array>> {
  const found = new Map<string, Float32Array>();
  if (sha256s.length === 0) return found;
  const rows = await db
    .selectDistinctOn([images.sha256], { sha256: images.sha256, vector: features.vector })
    .from(features)
    .innerJoin(images, eq(images.id, features.imageId))
    .where(
      and(
        eq(features.featureSetId, featureSetId),
        eq(features.copy, 0),
        eq(features.dtype, 'float32'),
        inArray(images.sha256, [...new Set(sha256s)]),
      ),
    )
    .orderBy(asc(images.sha256));
  for (const row of rows) {
    if (!row.vector) continue;
    const values = new Float32Array(row.vector.byteLength / 4);
    fromBytes(row.vector, values, 0);
    found.set(row.sha256, values);
  }
  return found;
}

/**
 * The `copies` augmented vectors of each of `imageIds` in an augmented feature set, as one row-major matrix
 * [imageIds.length * copies, d]: copy c of image i is row i * copies + c. Throws InvalidInputError naming the
 * first image whose copies are not all stored (or whose vectors are not `d` floats).
 */
export async function loadAugmentedCopies(
  db: Db,
  featureSetId: string,
  imageIds: readonly string[],
  copies: number,
  d: number,
): Promise<Float32Array> {
  const data = new Float32Array(imageIds.length * copies * d);
  const row = new Map(imageIds.map((id, i) => [id, i]));
  const seen = new Uint8Array(imageIds.length * copies);
  const CHUNK = 500;
  for (let start = 0; start < imageIds.length; start += CHUNK) {
    const chunk = imageIds.slice(start, start + CHUNK);
    const rows = await db
      .select({ imageId: features.imageId, copy: features.copy, vector: features.vector })
      .from(features)
      .where(and(eq(features.featureSetId, featureSetId), inArray(features.imageId, [...chunk])));
    for (const r of rows) {
      const i = row.get(r.imageId) as number;
      if (r.copy < 0 || r.copy >= copies) continue;
      if (!r.vector || r.vector.byteLength !== d * 4) {
        throw new InvalidInputError(
          'features',
          `image ${r.imageId} copy ${r.copy}: vector has ${r.vector?.byteLength ?? 0} bytes, expected ${d * 4}`,
        );
      }
      fromBytes(r.vector, data, (i * copies + r.copy) * d);
      seen[i * copies + r.copy] = 1;
    }
  }
  const gap = seen.indexOf(0);
  if (gap >= 0) {
    throw new InvalidInputError(
      'features',
      `image ${imageIds[Math.floor(gap / copies)]}: augmented copy ${gap % copies} of ${copies} is not stored`,
    );
  }
  return data;
}
