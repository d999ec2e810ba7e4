import { ApiError } from '@edgehead/contracts';
import { HEAD_ARTIFACT_FILES, type HeadArtifactFiles, type LoadedHead, loadHead } from '@edgehead/head';
import denseWasm from '@edgehead/head/dense.wasm';
import { artifactKey } from './registry.ts';

// one compiled head per (alias, version) per isolate; versions are immutable, so entries never go stale
const heads = new Map<string, Promise<LoadedHead>>();
const MAX_HEADS = 16;

async function fetchArtifact(bucket: R2Bucket, alias: string, version: string): Promise<HeadArtifactFiles> {
  const entries = await Promise.all(
    HEAD_ARTIFACT_FILES.map(async (name) => {
      const object = await bucket.get(artifactKey(alias, version, name));
      if (!object)
        throw new ApiError(
          503,
          'unavailable',
          `model ${alias} version ${version}: ${name} is missing from storage`,
          { alias, version, file: name },
        );
      return [name, new Uint8Array(await object.arrayBuffer())] as const;
    }),
  );
  return Object.fromEntries(entries) as unknown as HeadArtifactFiles;
}

/** The compiled head of (alias, version), loaded from R2 and verified once per isolate. */
export function getHead(bucket: R2Bucket, alias: string, version: string): Promise<LoadedHead> {
  const key = `${alias}@${version}`;
  let head = heads.get(key);
  if (!head) {
    if (heads.size >= MAX_HEADS) heads.delete(heads.keys().next().value as string);
    head = fetchArtifact(bucket, alias, version).then((files) => loadHead(files, { wasmModule: denseWasm }));
    head.catch(() => heads.delete(key));
    heads.set(key, head);
  }
  return head;
}
