import { z } from 'zod';

/** How pixels are scaled before the backbone (Keras names). */
export const preprocessing = z.enum([
  'rescale', // x / 255, the recipe's ImageDataGenerator(rescale=1/255)
  'caffe', // keras vgg16.preprocess_input: RGB->BGR, minus ImageNet channel means
  'tf', // x / 127.5 - 1 (MobileNet)
  'raw', // the 0-255 values as floats: the model scales inside (Keras EfficientNet)
]);
export type Preprocessing = z.infer<typeof preprocessing>;

/** Global pooling of the feature map: `none` keeps HxWxC, `avg` averages it to [C]. */
export const pooling = z.enum(['none', 'avg']);
export type Pooling = z.infer<typeof pooling>;

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');

const dimension = z.number().int().positive();

/**
 * Where a feature set's vectors come from when they are not a plain forward pass of pretrained weights:
 * augmented inputs or fine-tuned weights of a base feature set. The slot exists so that those features
 * (not built yet) add feature sets without a new record; `params` is theirs to define.
 */
export const featureSetProvenance = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('augmented'),
    baseFeatureSetId: z.uuid(),
    params: z.record(z.string(), z.unknown()),
  }),
  z.object({
    kind: z.literal('finetuned'),
    baseFeatureSetId: z.uuid(),
    params: z.record(z.string(), z.unknown()),
  }),
]);
export type FeatureSetProvenance = z.infer<typeof featureSetProvenance>;

/**
 * The weights of a feature set. `sha256` is over the weight tensors the feature layer depends on (float32
 * little-endian, with their shapes, in the model's weight order), so the same weights hash the same whether
 * they came as a Keras .h5, a TF.js folder or a URL. `source` is where they were first loaded from, and where
 * `/v1/features?featureSet=` loads them again. `sha256` is null only for feature sets carried over from
 * before weights were recorded (`legacy`).
 */
export const featureSetWeights = z.object({
  sha256: sha256Hex.nullable(),
  source: z.string().min(1),
});
export type FeatureSetWeights = z.infer<typeof featureSetWeights>;

/**
 * Everything that decides a feature set's vectors. `inputSize` and `featureLayer` are null only on legacy
 * feature sets of user backbones (what they were was never recorded).
 */
export const featureSetIdentity = z.object({
  backbone: z.string().min(1).max(64),
  weights: featureSetWeights,
  pooling,
  preprocessing,
  /** [height, width] the images are resized to. */
  inputSize: z.tuple([dimension, dimension]).nullable(),
  /** The layer whose output is the feature map. */
  featureLayer: z.string().min(1).nullable(),
  /** Shape of one stored vector (after pooling), e.g. [4, 4, 512] or [768]. */
  featureShape: z.array(dimension).min(1),
  provenance: featureSetProvenance.nullable(),
});
export type FeatureSetIdentity = z.infer<typeof featureSetIdentity>;

/** A feature set as stored (`feature_sets`) and as manifests, runs and extractions carry it. */
export const featureSetRecord = featureSetIdentity.extend({
  id: z.uuid(),
  /** `featureSetKey` of the identity: unique, so replicas that compute the same set converge on one row. */
  key: z.string().min(1),
  createdAt: z.string(),
});
export type FeatureSetRecord = z.infer<typeof featureSetRecord>;

/** JSON with object keys sorted, so equal values give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The one key of a feature set: every identity field but the weights' source (the same tensors from another
 * path are the same feature set), e.g.
 * `mobilenet_v1_0.75+avg@tf/224x224/conv_pw_13_relu/768/<weights sha256>`.
 * @example featureSetKey(record) === record.key
 */
export function featureSetKey(identity: FeatureSetIdentity): string {
  const parts = [
    `${identity.backbone}${identity.pooling === 'avg' ? '+avg' : ''}@${identity.preprocessing}`,
    identity.inputSize?.join('x') ?? '?',
    identity.featureLayer ?? '?',
    identity.featureShape.join('x'),
    identity.weights.sha256 ?? 'legacy',
  ];
  if (identity.provenance !== null) parts.push(canonicalJson(identity.provenance));
  return parts.join('/');
}

/**
 * A short human name of a feature set for tables and logs: backbone, pooling, preprocessing and the first
 * 8 hex digits of the weights, e.g. `mobilenet_v1_0.75+avg@tf#3f2a9c1b` (`#legacy` for carried-over sets).
 */
export function featureSetLabel(
  fs: Pick<FeatureSetIdentity, 'backbone' | 'pooling' | 'preprocessing' | 'weights' | 'provenance'>,
): string {
  const weights = fs.weights.sha256 === null ? 'legacy' : fs.weights.sha256.slice(0, 8);
  const base = `${fs.backbone}${fs.pooling === 'avg' ? '+avg' : ''}@${fs.preprocessing}#${weights}`;
  return fs.provenance === null ? base : `${base} (${fs.provenance.kind})`;
}
