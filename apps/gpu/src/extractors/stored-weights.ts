import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BackboneError, type LayersModelFiles } from '@edgehead/backbones';
import { type Db, getBackboneWeights } from '@edgehead/db';

/** Weights sources of this form name backbone weights stored in the database (`backbone_weights`). */
const PREFIX = 'edgehead:backbone-weights/';

/**
 * The weights source recorded for backbone weights edgehead stored itself (a fine-tuning run's result):
 * every replica loads them from the database, whatever its file system holds.
 * @example storedWeightsSource(sha256) // 'edgehead:backbone-weights/3f2a…'
 */
export function storedWeightsSource(sha256: string): string {
  return `${PREFIX}${sha256}`;
}

/**
 * The sha256 a stored-weights source names, or null for any other source (a path, a URL, `random`). Only 64
 * hex digits are one: the value becomes a folder name in the weights cache.
 */
export function storedWeightsSha256(source: string): string | null {
  if (!source.startsWith(PREFIX)) return null;
  const sha256 = source.slice(PREFIX.length);
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new BackboneError(
      'invalid_config',
      `weights ${JSON.stringify(source)}: expected ${PREFIX}<64 hex digits>`,
    );
  }
  return sha256;
}

/** Reads stored weights by their identity sha256 (the database's `backbone_weights`). */
export type StoredWeightsReader = (
  sha256: string,
) => Promise<{ files: LayersModelFiles; sha256: Record<keyof LayersModelFiles, string> }>;

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes stored weights as a TF.js layers folder under `cacheDir` once (a folder already there is reused;
 * a new one appears whole, by rename) and returns its path, for loaders that read folders. The files are
 * checked against their recorded sha256 first; the caller checks the weights' identity after loading.
 */
export async function materializeStoredWeights(
  read: StoredWeightsReader,
  weightsSha256: string,
  cacheDir: string,
): Promise<string> {
  const dir = path.join(cacheDir, 'backbone-weights', weightsSha256);
  if (existsSync(path.join(dir, 'model.json'))) return dir;
  const { files, sha256 } = await read(weightsSha256);
  for (const name of ['model.json', 'weights.bin'] as const) {
    if (sha(files[name]) !== sha256[name]) {
      throw new BackboneError(
        'checksum_mismatch',
        `stored weights ${weightsSha256}: ${name} hashes to ${sha(files[name])}, recorded ${sha256[name]}`,
      );
    }
  }
  const tmp = `${dir}.tmp-${randomUUID()}`;
  await mkdir(tmp, { recursive: true });
  await writeFile(path.join(tmp, 'model.json'), files['model.json']);
  await writeFile(path.join(tmp, 'weights.bin'), files['weights.bin']);
  try {
    await rename(tmp, dir);
  } catch (error) {
    // another caller put the same folder there first
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(path.join(dir, 'model.json'))) throw error;
  }
  return dir;
}

/** The reader of weights stored in `db`. */
export function storedWeightsReader(db: Db): StoredWeightsReader {
  return async (weightsSha256) => {
    const row = await getBackboneWeights(db, weightsSha256);
    return {
      files: { 'model.json': row.modelJson, 'weights.bin': row.weightsBin },
      sha256: { 'model.json': row.modelJsonSha256, 'weights.bin': row.weightsBinSha256 },
    };
  };
}
