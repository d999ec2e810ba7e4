import {
  ApiError,
  errorCodeOf,
  type HeadManifest,
  type ModelList,
  type VersionList,
} from '@edgehead/contracts';
import {
  HEAD_ARTIFACT_FILES,
  type HeadArtifactFiles,
  HeadError,
  type VerifiedHead,
  verifyHeadArtifact,
} from '@edgehead/head';
import {
  activeKey,
  type RegistryRecord,
  type RegistryWriter,
  registryKey,
  type WriteOutcome,
} from './registry-writer.ts';

/**
 * The model registry over R2 + KV, written through one Durable Object per alias:
 * - R2 `models/<alias>/<version>/{model.json,weights.bin,manifest.json}`: immutable artifacts.
 * - KV `registry:<alias>`: `{ versions, history }`, written only after every R2 object is stored, so a
 *   version is visible only when complete.
 * - KV `active:<alias>`: the active version name, one small read per request, one write to switch.
 * - `RegistryWriter` (`registry-writer.ts`): the only writer of both keys, one alias at a time; reads never
 *   go through it.
 */
export interface RegistryDeps {
  kv: KVNamespace;
  bucket: R2Bucket;
  writers: DurableObjectNamespace<RegistryWriter>;
}

/** The registry of the worker's bindings. */
export const registryOf = (env: Env): RegistryDeps => ({
  kv: env.REGISTRY,
  bucket: env.ARTIFACTS,
  writers: env.REGISTRY_WRITER,
});

/** R2 key of one artifact file. */
export const artifactKey = (alias: string, version: string, file: string) =>
  `models/${alias}/${version}/${file}`;

// the active pointer is cached per isolate for a moment: the hot path then costs no KV read per request
const ACTIVE_CACHE_MS = 1_000;
const activeCache = new Map<string, { version: string | null; until: number }>();

async function readRegistry(kv: KVNamespace, alias: string): Promise<RegistryRecord | null> {
  return kv.get<RegistryRecord>(registryKey(alias), 'json');
}

const writerOf = (deps: RegistryDeps, alias: string) => deps.writers.getByName(alias);

/** The writer's value, or its refusal as the HTTP error. */
function unwrap<T>(outcome: WriteOutcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { status, message, details } = outcome.refusal;
  throw new ApiError(status, errorCodeOf(status), message, details);
}

/** This isolate serves a switch it just made at once (others within ACTIVE_CACHE_MS plus KV propagation). */
function switched(alias: string, version: string) {
  activeCache.set(alias, { version, until: Date.now() + ACTIVE_CACHE_MS });
}

/** The active version of an alias; 404 for an unknown alias, 409 when none is active. */
export async function resolveActive(deps: Pick<RegistryDeps, 'kv'>, alias: string): Promise<string> {
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
      { reason: err.code, ...err.details },
      { cause: err },
    );
  }
  const { manifest } = verified;
  const writer = writerOf(deps, alias);
  unwrap(await writer.reserve(alias, version));
  try {
    for (const name of HEAD_ARTIFACT_FILES) {
      await deps.bucket.put(artifactKey(alias, version, name), files[name], {
        sha256: name === 'manifest.json' ? undefined : manifest.files.find((f) => f.path === name)?.sha256,
      });
    }
  } catch (err) {
    await writer.release(alias, version);
    throw err;
  }
  const entry = { alias, version, publishedAt: new Date().toISOString(), manifest };
  const { active } = unwrap(await writer.commit(alias, entry, input.activate));
  if (active) switched(alias, version);
  return { manifest, active };
}

/** Makes `version` the active one. */
export async function activateVersion(deps: RegistryDeps, alias: string, version: string) {
  const body = unwrap(await writerOf(deps, alias).activate(alias, version));
  switched(alias, body.active);
  return body;
}

/** Re-activates the version that was active before the current one (by the history). */
export async function rollback(deps: RegistryDeps, alias: string) {
  const body = unwrap(await writerOf(deps, alias).rollback(alias));
  switched(alias, body.active);
  return body;
}

/** The versions of an alias with the active one and the activation history. */
export async function listVersions(deps: Pick<RegistryDeps, 'kv'>, alias: string): Promise<VersionList> {
  const record = await readRegistry(deps.kv, alias);
  if (!record)
    throw new ApiError(404, 'not_found', `unknown model alias ${JSON.stringify(alias)}`, { alias });
  return {
    alias,
    active: await deps.kv.get(activeKey(alias)),
    versions: record.versions,
    history: record.history,
  };
}

/** Every alias with its active version and version count. */
export async function listModels(deps: Pick<RegistryDeps, 'kv'>): Promise<ModelList> {
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
