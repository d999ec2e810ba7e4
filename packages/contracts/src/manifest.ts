import { z } from 'zod';

/** How pixels are scaled before the backbone (Keras names). */
export const preprocessing = z.enum([
  'rescale', // x / 255, the recipe's ImageDataGenerator(rescale=1/255)
  'caffe', // keras vgg16.preprocess_input: RGB->BGR, minus ImageNet channel means
  'tf', // x / 127.5 - 1 (MobileNet)
  'raw', // the 0-255 values as floats: the model scales inside (Keras EfficientNet)
]);
export type Preprocessing = z.infer<typeof preprocessing>;

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');

/** One file of a head artifact with its checksum. */
export const artifactFile = z.object({
  path: z.enum(['model.json', 'weights.bin']),
  sha256: sha256Hex,
  bytes: z.number().int().nonnegative(),
});
export type ArtifactFile = z.infer<typeof artifactFile>;

/**
 * The head artifact manifest: the contract between the gpu service (which writes it)
 * and the edge (which verifies and runs it). Stored beside TF.js layers `model.json` + `weights.bin`.
 */
export const headManifest = z.object({
  format: z.literal('edgehead-head/1'),
  backbone: z.string().min(1),
  preprocessing,
  /** Shape of one feature vector as the backbone emits it, e.g. [4, 4, 512]. */
  featureShape: z.array(z.number().int().positive()).min(1),
  task: z.enum(['binary', 'multiclass']),
  /** Class names in output order; for binary heads the sigmoid is P(classes[1]). */
  classes: z.array(z.string().min(1)).min(2),
  /** Decision threshold on P(classes[1]) for binary heads (chosen on validation data); null for multiclass. */
  threshold: z.number().min(0).max(1).nullable(),
  metrics: z.record(z.string(), z.number()).default({}),
  files: z.array(artifactFile).length(2),
  runId: z.string().optional(),
  createdAt: z.string(),
});
export type HeadManifest = z.infer<typeof headManifest>;
