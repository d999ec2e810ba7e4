import { z } from 'zod';
import { task } from './datasets.ts';
import { featureSetLabel, featureSetRecord, preprocessing, sha256Hex } from './feature-sets.ts';

/** One file of a head artifact with its checksum. */
export const artifactFile = z.object({
  path: z.enum(['model.json', 'weights.bin']),
  sha256: sha256Hex,
  bytes: z.number().int().nonnegative(),
});
export type ArtifactFile = z.infer<typeof artifactFile>;

const headFields = {
  /** Shape of one feature vector the head takes, e.g. [4, 4, 512]. */
  featureShape: z.array(z.number().int().positive()).min(1),
  task,
  /** Class names in output order; for binary heads the sigmoid is P(classes[1]). */
  classes: z.array(z.string().min(1)).min(2),
  /** Decision threshold on P(classes[1]) for binary heads (chosen on validation data); null for multiclass. */
  threshold: z.number().min(0).max(1).nullable(),
  metrics: z.record(z.string(), z.number()).default({}),
  files: z.array(artifactFile).length(2),
  runId: z.string().optional(),
  createdAt: z.string(),
};

/**
 * Manifests written before feature sets were records: `backbone` holds the feature-set shorthand
 * (`mobilenet_v1_0.75+avg`), which the edge sends as `/v1/features?backbone=`. Still read, never written.
 */
export const headManifestV1 = z.object({
  format: z.literal('edgehead-head/1'),
  backbone: z.string().min(1),
  preprocessing,
  ...headFields,
});
export type HeadManifestV1 = z.infer<typeof headManifestV1>;

/** The current manifest: the feature-set record the head was trained on (the edge asks for its vectors by id). */
export const headManifestV2 = z
  .object({
    format: z.literal('edgehead-head/2'),
    featureSet: featureSetRecord,
    ...headFields,
  })
  .refine((m) => m.featureShape.join(',') === m.featureSet.featureShape.join(','), {
    message: 'featureShape must equal featureSet.featureShape',
    path: ['featureShape'],
  });
export type HeadManifestV2 = z.infer<typeof headManifestV2>;

/**
 * The head artifact manifest: the contract between the gpu service (which writes `edgehead-head/2`) and the
 * edge (which verifies and runs both versions). Stored beside TF.js layers `model.json` + `weights.bin`.
 */
export const headManifest = z.discriminatedUnion('format', [headManifestV1, headManifestV2]);
export type HeadManifest = z.infer<typeof headManifest>;

/** The feature set of a head for people: the shorthand of a v1 manifest, `featureSetLabel` of a v2 one. */
export function headFeatureSetLabel(manifest: HeadManifest): string {
  return manifest.format === 'edgehead-head/1' ? manifest.backbone : featureSetLabel(manifest.featureSet);
}
