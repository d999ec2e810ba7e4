import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BackboneError } from '../errors.ts';
import { looksLikeHdf5 } from './hdf5.ts';
import { looksLikeZip } from './keras-archive.ts';
import { type Checksum, downloadToCache, isUrl, parseWeightsUrl } from './url-cache.ts';

/** A weight source resolved to a local file. */
export type ResolvedWeights = { kind: 'tfjs'; modelJson: string } | { kind: 'keras-h5'; file: string };

/** Options of `resolveWeights`. */
export interface ResolveWeightsOptions extends Checksum {
  /** Download cache for URL sources. */
  cacheDir?: string | undefined;
}

function kindOfName(name: string): 'tfjs' | 'keras-h5' | undefined {
  if (/\.(h5|hdf5|keras)$/i.test(name)) return 'keras-h5';
  if (/\.json$/i.test(name)) return 'tfjs';
  return undefined;
}

async function localKind(source: string): Promise<ResolvedWeights> {
  const { stat } = await import('node:fs/promises');
  const s = await stat(source).catch(() => undefined);
  if (s === undefined) throw new BackboneError('weights_not_found', `weights path ${source} does not exist`);
  if (s.isDirectory()) return { kind: 'tfjs', modelJson: path.join(source, 'model.json') };
  const byName = kindOfName(source);
  if (byName === 'tfjs') return { kind: 'tfjs', modelJson: source };
  if (byName === 'keras-h5') return { kind: 'keras-h5', file: source };
  const head = (await readFile(source)).subarray(0, 8);
  if (looksLikeHdf5(head) || looksLikeZip(head)) return { kind: 'keras-h5', file: source };
  throw new BackboneError(
    'invalid_config',
    `weights file ${source}: expected a TF.js folder, a model.json, a Keras .h5 / .weights.h5 or a .keras file`,
  );
}

async function downloadTfjs(url: URL, options: ResolveWeightsOptions, cacheDir: string): Promise<string> {
  const group = createHash('sha256').update(url.href).digest('hex').slice(0, 32);
  const modelJson = await downloadToCache(url.href, { ...options, cacheDir, group, fileName: 'model.json' });
  let manifest: { paths?: unknown }[];
  try {
    manifest = (JSON.parse(await readFile(modelJson, 'utf8')) as { weightsManifest: { paths?: unknown }[] })
      .weightsManifest;
    if (!Array.isArray(manifest)) throw new Error('weightsManifest is not an array');
  } catch (cause) {
    throw new BackboneError('weights_corrupt', `${url.href} is not a TF.js model.json`, { cause });
  }
  for (const group_ of manifest) {
    for (const p of Array.isArray(group_.paths) ? group_.paths : []) {
      const name = String(p);
      if (name.includes('/') || name.includes('\\') || name.startsWith('.')) {
        throw new BackboneError(
          'weights_corrupt',
          `${url.href}: shard path ${name} is not a plain file name`,
        );
      }
      await downloadToCache(new URL(name, url).href, { cacheDir, group, fileName: name });
    }
  }
  return modelJson;
}

/**
 * Resolves a user-facing weight source to local files: a TF.js layers-model folder or model.json,
 * a Keras .h5 file, or an https URL of either (downloaded once into `cacheDir`, checksum verified).
 */
export async function resolveWeights(
  source: string,
  options: ResolveWeightsOptions = {},
): Promise<ResolvedWeights> {
  if (!isUrl(source)) return localKind(source);
  const url = parseWeightsUrl(source);
  if (options.cacheDir === undefined) {
    throw new BackboneError('invalid_config', `weights URL ${source} needs a cacheDir to download into`);
  }
  const kind = kindOfName(url.pathname);
  if (kind === 'keras-h5') {
    return { kind, file: await downloadToCache(url.href, { ...options, cacheDir: options.cacheDir }) };
  }
  if (kind === 'tfjs') return { kind, modelJson: await downloadTfjs(url, options, options.cacheDir) };
  throw new BackboneError(
    'invalid_config',
    `weights URL ${source}: expected a path ending in .h5 or .keras (Keras) or model.json (TF.js)`,
  );
}

export {
  assignWeights,
  decodeNamedWeights,
  type LayerWeights,
  namedLookup,
  type WeightLookup,
} from './assign.ts';
export {
  type KerasWeights,
  looksLikeHdf5,
  parseKerasH5,
  readKerasH5,
  type StoredLayer,
  type WeightArray,
  writeH5,
  writeKerasH5,
} from './hdf5.ts';
export { keras3Paths, kerasLookup, kerasSnakeCase } from './keras-order.ts';
export {
  fileIOHandler,
  GRAPH_MODEL_FORMAT,
  graphArtifacts,
  type LayersModelFiles,
  type LayersModelFolder,
  layersModelFiles,
  readLayersModelFolder,
  readTfjsModelFolder,
  saveLayersModelFolder,
  type TfjsModelFolder,
} from './tfjs-folder.ts';
export {
  type Checksum,
  cachePathFor,
  type DownloadOptions,
  downloadToCache,
  parseWeightsUrl,
} from './url-cache.ts';
