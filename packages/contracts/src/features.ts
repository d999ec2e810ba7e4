import { z } from 'zod';
import type { HeadManifest } from './manifest.ts';

/**
 * Wire format of the gpu service's `POST /v1/features` (the edge's image path calls it).
 *
 * Request: the raw image bytes as the body (`content-type: image/jpeg|image/png|image/webp`), and either
 * `?featureSet=<id>` (exactly the recorded weights, pooling and preprocessing; what `edgehead-head/2` heads
 * ask for) or `?backbone=<name or shorthand>` (the service's configured weights; `edgehead-head/1` heads).
 * `accept` picks the answer:
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
  /** The id of the feature set the vectors belong to. */
  featureSet: 'x-feature-set',
  /** How many of the vectors were stored ones (images already extracted), not computed by this request. */
  stored: 'x-feature-stored',
} as const;

/** Element types a feature vector may travel as. */
export const featureDtype = z.enum(['float32', 'float16']);
export type FeatureDtype = z.infer<typeof featureDtype>;

/** Bytes per value of each feature dtype. */
export const BYTES_PER_VALUE: Record<FeatureDtype, number> = { float32: 4, float16: 2 };

/** Query of `POST /v1/features`: a feature-set id, or a backbone (name or shorthand such as `vgg16+avg`). */
export const featuresQuery = z
  .object({
    backbone: z.string().min(1).max(64).optional(),
    featureSet: z.uuid().optional(),
  })
  .refine((q) => q.backbone === undefined || q.featureSet === undefined, {
    message: 'pass featureSet or backbone, not both',
    path: ['featureSet'],
  });
export type FeaturesQuery = z.infer<typeof featuresQuery>;

/** JSON answer of `POST /v1/features`: one row per image, each `shape.slice(1)` flattened row-major. */
export const featuresJsonResponse = z.object({
  backbone: z.string().min(1),
  /** The feature-set id. */
  featureSet: z.string().min(1),
  /** Full shape including the batch dimension, e.g. [1, 4, 4, 512]. */
  shape: z.array(z.number().int().positive()).min(2),
  dtype: z.literal('float32'),
  features: z.array(z.array(z.number())),
  /** How many of the vectors were stored ones (`FEATURE_HEADERS.stored`). */
  stored: z.number().int().nonnegative(),
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
 * Where the edge caches the feature vector of an image for a head, in R2:
 * `features/<feature-set id>/<image sha256>.f32` for `edgehead-head/2` heads. Heads of manifest
 * `edgehead-head/1` keep the namespace they were cached under, `<shorthand>:<preprocessing>:<shape>`
 * (e.g. `vgg16:rescale:4x4x512`), so their cached vectors stay valid.
 */
export function featureCacheKey(manifest: HeadManifest, imageSha256: string): string {
  const namespace =
    manifest.format === 'edgehead-head/2'
      ? manifest.featureSet.id
      : `${manifest.backbone}:${manifest.preprocessing}:${manifest.featureShape.join('x')}`;
  return `features/${encodeURIComponent(namespace)}/${imageSha256}.f32`;
}
