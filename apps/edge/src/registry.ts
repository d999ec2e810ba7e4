import type { Activation, HeadManifest, ModelList, ModelVersion, VersionList } from '@edgehead/contracts';
import {
  HEAD_ARTIFACT_FILES,
  type HeadArtifactFiles,
  HeadError,
  type VerifiedHead,
  verifyHeadArtifact,
} from '@edgehead/head';
import { ApiError } from './errors.ts';

/**
 * The model registry over R2 + KV:
 * - R2 `models/<alias>/<version>/{model.json,weights.bin,manifest.json}`: immutable artifacts.
 * - KV `registry:<alias>`: `{ versions, history }`, written only after every R2 object is stored, so a
 *   version is visible only when complete.
 * - KV `active:<alias>`: the active version name, one small read per request, one write to switch.
 */
export interface RegistryDeps {
  kv: KVNamespace;
  bucket: R2Bucket;
}

interface RegistryRecord {
  versions: ModelVersion[];
  history: Activation[];
}

const registryKey = (alias: string) => `registry:${alias}`;
const activeKey = (alias: string) => `active:${alias}`;
/** R2 key of one artifact file. */
export const artifactKey = (alias: string, version: string, file: string) =>
  `models/${alias}/${version}/${file}`;

// the active pointer is cached per isolate for a moment: the hot path then costs no KV read per request
const ACTIVE_CACHE_MS = 1_000;
const activeCache = new Map<string, { version: string | null; until: number }>();

async function readRegistry(kv: KVNamespace, alias: string): Promise<RegistryRecord | null> {
  return kv.get<RegistryRecord>(registryKey(alias), 'json');
}

async function setActive(
  deps: RegistryDeps,
  alias: string,
  record: RegistryRecord,
  version: string,
  reason: Activation['reason'],
) {
  record.history.push({ version, at: new Date().toISOString(), reason });
  await deps.kv.put(registryKey(alias), JSON.stringify(record));
  await deps.kv.put(activeKey(alias), version);
  activeCache.set(alias, { version, until: Date.now() + ACTIVE_CACHE_MS });
}

/** The active version of an alias; 404 for an unknown alias, 409 when none is active. */
export async function resolveActive(deps: RegistryDeps, alias: string): Promise<string> {
  const hit = activeCache.get(alias);
  let version = hit && hit.until > Date.now() ? hit.version : undefined;
  if (version === undefined) {
    version = await deps.kv.get(activeKey(alias));
    activeCache.set(alias, { version, until: Date.now() + ACTIVE_CACHE_MS });
  }
  if (version) return version;
  if (!(await readRegistry(deps.kv, alias)))
    throw new ApiError(404, 'not_found', `unknown model alias ${JSON.stringify(alias)}`, { alias });
  throw new ApiError(409, 'conflict', `model alias ${JSON.stringify(alias)} has no active version`, {
    alias,
  });
}

/** Input of `publishVersion`: the three files as uploaded. */
export interface PublishInput {
  alias: string;
  version: string;
  files: HeadArtifactFiles;
  activate: boolean;
}

/** Verifies and stores a version; activates it when asked or when it is the alias's first. */
export async function publishVersion(
  deps: RegistryDeps,
  input: PublishInput,
): Promise<{ manifest: HeadManifest; active: boolean }> {
  const { alias, version, files } = input;
  let verified: VerifiedHead;
  try {
    verified = await verifyHeadArtifact(files);
  } catch (err) {
    if (!(err instanceof HeadError)) throw err;
    throw new ApiError(
      400,
      'validation_failed',
      `artifact refused: ${err.message}`,
      { code: err.code, ...err.details },
      { cause: err },
    );
  }
  const { manifest } = verified;
  const record = (await readRegistry(deps.kv, alias)) ?? { versions: [], history: [] };
  if (record.versions.some((v) => v.version === version)) {
    throw new ApiError(
      409,
      'conflict',
      `model ${alias} version ${version} already exists; versions are immutable`,
      { alias, version },
    );
  }
  for (const name of HEAD_ARTIFACT_FILES) {
    await deps.bucket.put(artifactKey(alias, version, name), files[name], {
      sha256: name === 'manifest.json' ? undefined : manifest.files.find((f) => f.path === name)?.sha256,
    });
  }
  record.versions.push({ alias, version, publishedAt: new Date().toISOString(), manifest });
  const activate = input.activate || record.history.length === 0;
  if (activate) await setActive(deps, alias, record, version, 'publish');
  else await deps.kv.put(registryKey(alias), JSON.stringify(record));
  return { manifest, active: activate };
}

async function requireRegistry(kv: KVNamespace, alias: string): Promise<RegistryRecord> {
  const record = await readRegistry(kv, alias);
  if (!record)
    throw new ApiError(404, 'not_found', `unknown model alias ${JSON.stringify(alias)}`, { alias });
  return record;
}

/** Makes `version` the active one. */
export async function activateVersion(deps: RegistryDeps, alias: string, version: string) {
  const record = await requireRegistry(deps.kv, alias);
  if (!record.versions.some((v) => v.version === version)) {
    throw new ApiError(404, 'not_found', `model ${alias} has no version ${JSON.stringify(version)}`, {
      alias,
      version,
      available: record.versions.map((v) => v.version),
    });
  }
  const previous = await deps.kv.get(activeKey(alias));
  await setActive(deps, alias, record, version, 'activate');
  return { alias, active: version, previous };
}

/** Re-activates the version that was active before the current one (by the KV history). */
export async function rollback(deps: RegistryDeps, alias: string) {
  const record = await requireRegistry(deps.kv, alias);
  const current = await deps.kv.get(activeKey(alias));
  // walk back past entries of the current version; a rollback is itself a history entry
  const earlier = [...record.history].reverse().find((h) => h.version !== current);
  if (!current || !earlier) {
    throw new ApiError(409, 'conflict', `model ${alias} has no earlier active version to roll back to`, {
      alias,
      active: current,
    });
  }
  await setActive(deps, alias, record, earlier.version, 'rollback');
  return { alias, active: earlier.version, previous: current };
}

/** The versions of an alias with the active one and the activation history. */
export async function listVersions(deps: RegistryDeps, alias: string): Promise<VersionList> {
  const record = await requireRegistry(deps.kv, alias);
  return {
    alias,
    active: await deps.kv.get(activeKey(alias)),
    versions: record.versions,
    history: record.history,
  };
}

/** Every alias with its active version and version count. */
export async function listModels(deps: RegistryDeps): Promise<ModelList> {
  const models: ModelList['models'] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.kv.list({ prefix: 'registry:', cursor });
    for (const key of page.keys) {
      const alias = key.name.slice('registry:'.length);
      const record = await readRegistry(deps.kv, alias);
      models.push({
        alias,
        active: await deps.kv.get(activeKey(alias)),
        versions: record?.versions.length ?? 0,
      });
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return { models };
}
