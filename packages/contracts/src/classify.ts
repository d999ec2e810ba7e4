import { z } from 'zod';
import { featureDtype } from './features.ts';

/** Limits of the classify routes (the edge enforces them and answers 413/400 naming them). */
export const CLASSIFY_LIMITS = {
  /** Most vectors in one request. */
  maxBatch: 256,
  /** Largest accepted request body (features or image), bytes. */
  maxBodyBytes: 16 * 1024 * 1024,
  /** Most images in one multipart classify-image request. */
  maxImages: 64,
} as const;

/** Header that selects float16 binary features (same as `?dtype=float16`). */
export const FEATURE_DTYPE_HEADER = 'x-feature-dtype';

const finite = z.number().refine(Number.isFinite, 'expected a finite number');

/**
 * JSON body of `POST /v1/models/:alias/classify`: one vector `number[]` or a batch `number[][]`
 * (elements are checked one by one so that an error names `features.<i>` or `features.<i>.<j>`;
 * mixing numbers and arrays is refused by the edge).
 */
export const classifyJsonRequest = z.object({
  features: z.array(z.union([finite, z.array(finite).min(1)])).min(1),
});
export type ClassifyJsonRequest = z.infer<typeof classifyJsonRequest>;

/** Query of the classify route: `dtype` applies to `application/octet-stream` bodies. */
export const classifyQuery = z.object({
  dtype: featureDtype.optional(),
});
export type ClassifyQuery = z.infer<typeof classifyQuery>;

/** Where classify-image got its features. */
export const featureSource = z.enum(['cache', 'gpu']);
export type FeatureSource = z.infer<typeof featureSource>;

/** One classified vector: the decided label and the probability of every class by name. */
export const prediction = z.object({
  label: z.string(),
  probabilities: z.record(z.string(), z.number()),
});
export type Prediction = z.infer<typeof prediction>;

/** classify-image: one classified image, where its features came from and its content hash (the cache key). */
export const classifiedImage = z.object({
  /** The part's file name in a multipart batch. */
  name: z.string().optional(),
  imageSha256: z.string(),
  source: featureSource,
});
export type ClassifiedImage = z.infer<typeof classifiedImage>;

/** Answer of the classify routes; `predictions` has one entry per input vector or image, in order. */
export const classifyResponse = z.object({
  alias: z.string(),
  version: z.string(),
  predictions: z.array(prediction),
  /** classify-image only: one entry per image, in order. */
  images: z.array(classifiedImage).optional(),
  /** classify-image with one image as the body: whether its features came from the edge cache or the gpu service. */
  source: featureSource.optional(),
  /** classify-image with one image as the body: sha256 of the image bytes (the cache key). */
  imageSha256: z.string().optional(),
});
export type ClassifyResponse = z.infer<typeof classifyResponse>;
