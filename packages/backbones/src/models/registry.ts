import { type Pooling, type Preprocessing, pooling, preprocessing, sha256Hex } from '@edgehead/contracts';
import { z } from 'zod';
import { BackboneError } from '../errors.ts';
import { mobilenetV1Spec, mobilenetV2Spec } from './mobilenet.ts';
import type { BackboneSpec } from './spec.ts';
import { vgg16Spec } from './vgg16.ts';

/** The built-in backbones by name. */
export const BUILTIN_BACKBONES = {
  vgg16: vgg16Spec,
  'mobilenet_v1_0.75': mobilenetV1Spec,
  'mobilenet_v2_0.35': mobilenetV2Spec,
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
 * What to load, as plain JSON (it crosses worker threads and is stored on runs).
 * Built-ins: `{ backbone: 'vgg16', weights: <folder|.h5|URL|'random'> }`. User backbones: any other
 * name with `weights` (a TF.js layers folder or URL), `preprocessing` and optionally `featureLayer`.
 */
export const backboneConfig = z.object({
  backbone: backboneName.default(DEFAULT_BACKBONE),
  /** A TF.js layers folder or model.json, a Keras .h5 file, an https URL of either, or `random` (vgg16 only). */
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
      details: { issues: r.error.issues },
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
