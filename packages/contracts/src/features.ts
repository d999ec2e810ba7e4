import { z } from 'zod';

/**
 * Wire format of the gpu service's `POST /v1/features` (the edge's image path calls it).
 *
 * Request: the raw image bytes as the body (`content-type: image/jpeg|image/png|image/webp`),
 * `?backbone=<name>` (default: the service's default backbone). `accept` picks the answer:
 * - `application/octet-stream` (preferred by the edge): the body is `shape.reduce(*)` little-endian float32
 *   values (row-major, the backbone's output order); headers carry the rest (`FEATURE_HEADERS`).
 * - `application/json`: a `featuresJsonResponse`.
 */
export const FEATURE_HEADERS = {
  /** Comma-separated shape of the returned tensor including the batch, e.g. `1,4,4,512`. */
  shape: 'x-feature-shape',
  /** `float32` (default) or `float16`. */
  dtype: 'x-feature-dtype',
  /** The backbone that produced the vectors, e.g. `vgg16`. */
  backbone: 'x-feature-backbone',
  /** Identifies backbone + input size + preprocessing; cache keys use it (`featureSetKey`). */
  featureSet: 'x-feature-set',
} as const;

/** Element types a feature vector may travel as. */
export const featureDtype = z.enum(['float32', 'float16']);
export type FeatureDtype = z.infer<typeof featureDtype>;

/** Bytes per value of each feature dtype. */
export const BYTES_PER_VALUE: Record<FeatureDtype, number> = { float32: 4, float16: 2 };

/** Query of `POST /v1/features`. */
export const featuresQuery = z.object({
  backbone: z.string().min(1).max(64).optional(),
});
export type FeaturesQuery = z.infer<typeof featuresQuery>;

/** JSON answer of `POST /v1/features`: one row per image, each `shape.slice(1)` flattened row-major. */
export const featuresJsonResponse = z.object({
  backbone: z.string().min(1),
  featureSet: z.string().min(1),
  /** Full shape including the batch dimension, e.g. [1, 4, 4, 512]. */
  shape: z.array(z.number().int().positive()).min(2),
  dtype: z.literal('float32'),
  features: z.array(z.array(z.number())),
});
export type FeaturesJsonResponse = z.infer<typeof featuresJsonResponse>;

/** Parses an `x-feature-shape` header value (`1,4,4,512`); returns null when malformed. */
export function parseShapeHeader(value: string | null | undefined): number[] | null {
  if (!value) return null;
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length < 1 || parts.some((n) => !Number.isInteger(n) || n <= 0)) return null;
  return parts;
}

/**
 * The key of a cached feature vector: image content hash + feature set (backbone, input size,
 * preprocessing). The edge stores cached vectors in R2 under `features/<featureSet>/<sha256>.f32`.
 */
export function featureCacheKey(featureSet: string, imageSha256: string): string {
  return `features/${encodeURIComponent(featureSet)}/${imageSha256}.f32`;
}

/**
 * The feature-set key of a head: backbone, preprocessing and feature shape, e.g. `vgg16:rescale:4x4x512`.
 * The gpu service answers `x-feature-set` with the same key for the vectors it computes.
 */
export function featureSetOf(head: {
  backbone: string;
  preprocessing: string;
  featureShape: readonly number[];
}): string {
  return `${head.backbone}:${head.preprocessing}:${head.featureShape.join('x')}`;
}
