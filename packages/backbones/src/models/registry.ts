import {
  issuesToDetails,
  type Pooling,
  type Preprocessing,
  pooling,
  preprocessing,
  sha256Hex,
} from '@edgehead/contracts';
import { z } from 'zod';
import { BackboneError } from '../errors.ts';
import { efficientnetB0Spec } from './efficientnet_b0.ts';
import { inceptionV3Spec } from './inception_v3.ts';
import { mobilenetV1Spec, mobilenetV2Spec } from './mobilenet.ts';
import { resnet50Spec } from './resnet50.ts';
import type { BackboneSpec } from './spec.ts';
import { vgg16Spec } from './vgg16.ts';

/** The built-in backbones by name. */
export const BUILTIN_BACKBONES = {
  vgg16: vgg16Spec,
  'mobilenet_v1_0.75': mobilenetV1Spec,
  'mobilenet_v2_0.35': mobilenetV2Spec,
  resnet50: resnet50Spec,
  inception_v3: inceptionV3Spec,
  efficientnet_b0: efficientnetB0Spec,
} as const satisfies Record<string, BackboneSpec>;
/** Name of a built-in backbone. */
export type BuiltinBackboneName = keyof typeof BUILTIN_BACKBONES;
/** The recipe's backbone. */
export const DEFAULT_BACKBONE: BuiltinBackboneName = 'vgg16';

/** True when `name` is a built-in backbone. */
export function isBuiltinBackbone(name: string): name is BuiltinBackboneName {
  return Object.hasOwn(BUILTIN_BACKBONES, name);
}

/** The spec of a built-in backbone, or a BackboneError `unknown_backbone` naming the choices. */
export function getBackboneSpec(name: string): BackboneSpec {
  if (!isBuiltinBackbone(name)) {
    throw new BackboneError(
      'unknown_backbone',
      `backbone ${JSON.stringify(name)} is not built in; expected one of ${Object.keys(BUILTIN_BACKBONES).join(', ')} ` +
        '(or a user backbone with weights)',
    );
  }
  return BUILTIN_BACKBONES[name];
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** A backbone name: lowercase letters, digits, `_ . -`; also valid inside feature-set keys. */
export const backboneName = z
  .string()
  .regex(NAME, 'expected 1-64 of a-z 0-9 _ . - starting with a letter or digit');

/**
 * A backbone name as the suffix of an environment variable (`EDGEHEAD_WEIGHTS_<KEY>`, the accuracy report's
 * `ACCURACY_WEIGHTS_<KEY>`): upper case, every other character `_`.
 * @example backboneEnvKey('mobilenet_v1_0.75') // 'MOBILENET_V1_0_75'
 */
export function backboneEnvKey(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** How a user backbone's TF.js model is stored: a layers model or a graph model (SavedModel / TF Hub conversions). */
export const backboneFormat = z.enum(['layers', 'graph']);
/** [height, width] of the images a user model with an open input size is fed. */
export const backboneInputSize = z.tuple([
  z.number().int().min(1).max(4096),
  z.number().int().min(1).max(4096),
]);

/**
 * What to load, as plain JSON (it crosses worker threads and is stored on runs).
 * Built-ins: `{ backbone: 'vgg16', weights: <folder|.h5|URL|'random'> }`. User backbones: any other
 * name with `weights` (a TF.js layers folder or URL), `preprocessing` and optionally `featureLayer`;
 * TF.js graph models (the converter's output for SavedModels and TF Hub modules) with `format: 'graph'`
 * and optionally `featureNode`.
 */
export const backboneConfig = z.object({
  backbone: backboneName.default(DEFAULT_BACKBONE),
  /**
   * A TF.js folder or model.json, a Keras .h5 / .weights.h5 file (built-ins whose topology is in code),
   * an https URL of either, or `random` (seeded random weights of a topology in code).
   */
  weights: z.string().min(1),
  /** Checksum of the downloaded file for URL weights. */
  sha256: sha256Hex.optional(),
  md5: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  /** Where URL downloads are cached. */
  cacheDir: z.string().min(1).optional(),
  pooling: pooling.default('none'),
  preprocessing: preprocessing.optional(),
  /** User backbones: layer whose output is the feature (default: the model's output). */
  featureLayer: z.string().min(1).optional(),
  /** User backbones: `layers` (a TF.js layers model, the default) or `graph` (a TF.js graph model). */
  format: backboneFormat.default('layers'),
  /** Graph models: the node whose output is the feature, e.g. `StatefulPartitionedCall:0` (default: the model output). */
  featureNode: z.string().min(1).optional(),
  /** User backbones whose model leaves the image size open ([null, null, null, 3]): the [height, width] to feed. */
  inputSize: backboneInputSize.optional(),
  /** Images per forward pass. */
  batchSize: z.number().int().min(1).max(512).default(8),
  /** Seed of `random` weights. */
  seed: z.number().int().default(1),
  /** Run one forward pass at load so the first real batch is not slow. */
  warmup: z.boolean().default(true),
});
/** Parsed backbone config. */
export type BackboneConfig = z.infer<typeof backboneConfig>;
/** Backbone config as callers write it (defaults optional). */
export type BackboneConfigInput = z.input<typeof backboneConfig>;

/** Parses a config, turning zod issues into a BackboneError `invalid_config` naming the fields. */
export function parseBackboneConfig(input: unknown): BackboneConfig {
  const r = backboneConfig.safeParse(input);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new BackboneError('invalid_config', `invalid backbone config: ${what}`, {
      cause: r.error,
      details: issuesToDetails(r.error.issues),
    });
  }
  return r.data;
}

/** What a backbone shorthand names; parts it leaves out are undefined (the caller's defaults apply). */
export interface BackboneShorthand {
  backbone: string;
  pooling: Pooling | undefined;
  preprocessing: Preprocessing | undefined;
}

/**
 * Parses the shorthand requests and the CLI use for a backbone with options: `<backbone>[+avg][@<preprocessing>]`,
 * e.g. `vgg16`, `mobilenet_v1_0.75+avg`, `vgg16@caffe`. It names what to compute, not a feature set (that is
 * the record with its weights, see `featureSetKey` in contracts).
 */
export function parseBackboneShorthand(text: string): BackboneShorthand {
  const m = /^([a-z0-9][a-z0-9_.-]{0,63})(\+avg)?(?:@([a-z]+))?$/.exec(text);
  const pre = m?.[3] === undefined ? undefined : preprocessing.safeParse(m[3]);
  if (m === null || m[1] === undefined || (pre !== undefined && !pre.success)) {
    throw new BackboneError(
      'invalid_config',
      `backbone ${JSON.stringify(text)} is not <backbone>[+avg][@rescale|caffe|tf]`,
    );
  }
  return {
    backbone: m[1],
    pooling: m[2] === undefined ? undefined : 'avg',
    preprocessing: pre?.success ? pre.data : undefined,
  };
}
