import { z } from 'zod';
import { headManifest } from './manifest.ts';

/** A model alias (the stable name clients call): lowercase, digits, `-`, `_`. */
export const modelAlias = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected 1-63 of [a-z0-9_-], starting with a letter or digit');

/** A version name: letters, digits, `.`, `_`, `-` (e.g. `v3`, `2025-01-02.1`, a run id). */
export const modelVersionName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'expected 1-64 of [A-Za-z0-9._-], starting with a letter or digit',
  );

/** Path params of the registry routes. */
export const aliasParams = z.object({ alias: modelAlias });
export const versionParams = z.object({ alias: modelAlias, version: modelVersionName });

/**
 * Publish: `PUT /admin/models/:alias/versions/:version` as `multipart/form-data` with three file parts named
 * after the artifact files: `manifest.json`, `model.json`, `weights.bin`. Query `?activate=true` activates it
 * (the first version of an alias is always activated).
 */
export const PUBLISH_PARTS = ['manifest.json', 'model.json', 'weights.bin'] as const;
export const publishQuery = z.object({
  activate: z.enum(['true', 'false']).optional(),
});

/** A published version as the registry lists it. */
export const modelVersion = z.object({
  alias: z.string(),
  version: z.string(),
  publishedAt: z.string(),
  manifest: headManifest,
});
export type ModelVersion = z.infer<typeof modelVersion>;

/** Answer of publish. */
export const publishResponse = z.object({
  alias: z.string(),
  version: z.string(),
  active: z.boolean(),
  manifest: headManifest,
});
export type PublishResponse = z.infer<typeof publishResponse>;

/** One entry of the activation history (newest last). */
export const activation = z.object({
  version: z.string(),
  at: z.string(),
  reason: z.enum(['publish', 'activate', 'rollback']),
});
export type Activation = z.infer<typeof activation>;

/** `GET /admin/models/:alias/versions`. */
export const versionList = z.object({
  alias: z.string(),
  active: z.string().nullable(),
  versions: z.array(modelVersion),
  history: z.array(activation),
});
export type VersionList = z.infer<typeof versionList>;

/** `GET /admin/models`. */
export const modelList = z.object({
  models: z.array(z.object({ alias: z.string(), active: z.string().nullable(), versions: z.number().int() })),
});
export type ModelList = z.infer<typeof modelList>;

/** `POST /admin/models/:alias/activate`. */
export const activateRequest = z.object({ version: modelVersionName });
export type ActivateRequest = z.infer<typeof activateRequest>;

/** Answer of activate and rollback. */
export const activeResponse = z.object({
  alias: z.string(),
  active: z.string(),
  previous: z.string().nullable(),
});
export type ActiveResponse = z.infer<typeof activeResponse>;

/** `POST /admin/keys`. */
export const createKeyRequest = z.object({ name: z.string().min(1).max(100).optional() });
export type CreateKeyRequest = z.infer<typeof createKeyRequest>;

/** The created key: `key` is shown once and stored only as its sha256. */
export const createKeyResponse = z.object({
  id: z.string(),
  key: z.string(),
  name: z.string().nullable(),
  createdAt: z.string(),
});
export type CreateKeyResponse = z.infer<typeof createKeyResponse>;

/** `DELETE /admin/keys/:id` params. */
export const keyParams = z.object({
  id: z.string().regex(/^[a-f0-9]{16}$/, 'expected 16 lowercase hex characters'),
});

/** Answer of `DELETE /admin/keys/:id`. */
export const deletedKeyResponse = z.object({ id: z.string(), deleted: z.literal(true) });
