import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackboneError } from '../errors.ts';

/**
 * model.json as the tfjs converter writes it: a layers model (current format, or tfjs-models' legacy
 * one without `format`) or a graph model (`format: 'graph-model'`, a GraphDef as JSON).
 */
interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  signature?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, object>;
  modelInitializer?: Record<string, unknown>;
}

/** The converter's `format` of a graph model. */
export const GRAPH_MODEL_FORMAT = 'graph-model';

/** A TF.js model folder read into memory: its model.json and the weight bytes of all shards. */
export interface TfjsModelFolder {
  modelJsonPath: string;
  json: ModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** A TF.js layers-model folder read into memory. */
export interface LayersModelFolder {
  /** Path of model.json. */
  modelJsonPath: string;
  /** `layers-model` for the current format, `legacy` when model.json has no `format` key. */
  format: 'layers-model' | 'legacy';
  /** The Keras model config (legacy `{ keras_version, model_config }` wrappers unwrapped). */
  modelConfig: Record<string, unknown>;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes one manifest entry occupies in the concatenated weight data. */
export function weightEntryBytes(entry: tf.io.WeightsManifestEntry): number {
  const dtype = entry.quantization?.dtype ?? entry.dtype;
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) {
    throw new BackboneError('weights_corrupt', `weight ${entry.name}: dtype ${dtype} is not supported`);
  }
  return entry.shape.reduce((a, b) => a * b, 1) * size;
}

async function readJson(file: string): Promise<ModelJson> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new BackboneError('weights_not_found', `cannot read ${file}: expected a TF.js model.json`, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new BackboneError('weights_corrupt', `${file} is not valid JSON (${text.length} bytes)`, { cause });
  }
  const m = json as Partial<ModelJson> | null;
  if (
    m === null ||
    typeof m !== 'object' ||
    typeof m.modelTopology !== 'object' ||
    m.modelTopology === null ||
    !Array.isArray(m.weightsManifest)
  ) {
    throw new BackboneError(
      'weights_corrupt',
      `${file} is not a TF.js layers model: expected modelTopology and weightsManifest keys`,
    );
  }
  if (m.format !== undefined && m.format !== 'layers-model' && m.format !== GRAPH_MODEL_FORMAT) {
    throw new BackboneError(
      'weights_corrupt',
      `${file} has format ${JSON.stringify(m.format)}, expected "layers-model" or "${GRAPH_MODEL_FORMAT}"`,
    );
  }
  return m as ModelJson;
}

/** Resolves a folder or a model.json path to the model.json path. */
export async function modelJsonPathOf(source: string): Promise<string> {
  try {
    const s = await stat(source);
    return s.isDirectory() ? path.join(source, 'model.json') : source;
  } catch (cause) {
    throw new BackboneError('weights_not_found', `weights path ${source} does not exist`, { cause });
  }
}

/**
 * Reads a TF.js model folder of either kind (model.json + weight shards), checking that every shard
 * exists and that the bytes match the manifest, so a truncated download fails here and names the first
 * short weight.
 */
export async function readTfjsModelFolder(source: string): Promise<TfjsModelFolder> {
  const modelJsonPath = await modelJsonPathOf(source);
  const json = await readJson(modelJsonPath);
  const dir = path.dirname(modelJsonPath);
  const buffers: Buffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    let groupBytes = 0;
    const groupBuffers: Buffer[] = [];
    for (const p of group.paths) {
      const file = path.join(dir, p);
      try {
        groupBuffers.push(await readFile(file));
      } catch (cause) {
        throw new BackboneError(
          'weights_not_found',
          `weight shard ${file} listed in ${modelJsonPath} is missing`,
          {
            cause,
          },
        );
      }
    }
    const actual = groupBuffers.reduce((a, b) => a + b.length, 0);
    for (const w of group.weights) {
      const need = weightEntryBytes(w);
      if (groupBytes + need > actual) {
        throw new BackboneError(
          'weights_truncated',
          `weight ${w.name} ${JSON.stringify(w.shape)} needs bytes ${groupBytes}..${groupBytes + need} but shards ` +
            `${group.paths.join(', ')} hold ${actual} bytes: the files are truncated`,
          { details: { weight: w.name, expectedBytes: groupBytes + need, actualBytes: actual } },
        );
      }
      groupBytes += need;
    }
    if (groupBytes !== actual) {
      throw new BackboneError(
        'weights_corrupt',
        `shards ${group.paths.join(', ')} hold ${actual} bytes, the manifest describes ${groupBytes}`,
      );
    }
    buffers.push(...groupBuffers);
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  return {
    modelJsonPath,
    json,
    weightSpecs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
  };
}

/** Reads a TF.js layers-model folder; a graph model is refused with a pointer to `format: 'graph'`. */
export async function readLayersModelFolder(source: string): Promise<LayersModelFolder> {
  return layersModelOf(await readTfjsModelFolder(source));
}

function layersModelOf({ modelJsonPath, json, weightSpecs, weightData }: TfjsModelFolder): LayersModelFolder {
  if (json.format === GRAPH_MODEL_FORMAT) {
    throw new BackboneError(
      'invalid_config',
      `${modelJsonPath} is a TF.js graph model (format "${GRAPH_MODEL_FORMAT}"), expected a layers model: ` +
        "load it with format: 'graph' (and featureNode to cut it at a node)",
    );
  }
  const topology = json.modelTopology;
  const modelConfig =
    typeof topology.model_config === 'object' && topology.model_config !== null
      ? (topology.model_config as Record<string, unknown>)
      : topology;
  return {
    modelJsonPath,
    format: json.format === undefined ? 'legacy' : 'layers-model',
    modelConfig,
    weightSpecs,
    weightData,
  };
}

/**
 * A `tf.io.IOHandler` that loads a TF.js model from a local folder: plain `@tensorflow/tfjs` has no
 * `file://` handler in Node. Layers models (current and legacy model.json) and graph models load.
 * @example const model = await tf.loadLayersModel(fileIOHandler('../shared/models/mobilenet_v1_0.75_224'));
 * @example const graph = await tf.loadGraphModel(fileIOHandler('models/my-saved-model-web'));
 */
export function fileIOHandler(source: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const folder = await readTfjsModelFolder(source);
      if (folder.json.format === GRAPH_MODEL_FORMAT) return graphArtifacts(folder);
      const layers = layersModelOf(folder);
      return {
        modelTopology: layers.modelConfig,
        weightSpecs: layers.weightSpecs,
        weightData: layers.weightData,
        format: 'layers-model',
      };
    },
  };
}

/** The artifacts `tf.loadGraphModel` takes, from a graph-model folder read into memory. */
export function graphArtifacts(folder: TfjsModelFolder): tf.io.ModelArtifacts {
  const { json } = folder;
  return {
    modelTopology: json.modelTopology,
    weightSpecs: folder.weightSpecs,
    weightData: folder.weightData,
    format: GRAPH_MODEL_FORMAT,
    ...(json.generatedBy === undefined ? {} : { generatedBy: json.generatedBy }),
    ...(json.convertedBy === undefined || json.convertedBy === null ? {} : { convertedBy: json.convertedBy }),
    ...(json.signature === undefined ? {} : { signature: json.signature }),
    ...(json.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: json.userDefinedMetadata }),
    ...(json.modelInitializer === undefined ? {} : { modelInitializer: json.modelInitializer }),
  };
}

/** A TF.js layers model folder's two files, as bytes. */
export interface LayersModelFiles {
  'model.json': Uint8Array;
  'weights.bin': Uint8Array;
}

/**
 * A tfjs layers model as the files of a TF.js layers folder (model.json + weights.bin, the current format,
 * or the legacy one with no `format` key and a `{ keras_version, model_config }` topology when `legacy` is
 * set), without writing them anywhere.
 * @example const files = await layersModelFiles(model); // files['model.json'], files['weights.bin']
 */
export async function layersModelFiles(
  model: tf.LayersModel,
  options: { legacy?: boolean } = {},
): Promise<LayersModelFiles> {
  let files: LayersModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes =
        data === undefined ? new Uint8Array(0) : new Uint8Array(tf.io.concatenateArrayBuffers(data));
      const manifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }];
      const json = options.legacy
        ? {
            modelTopology: {
              keras_version: '2.1.4',
              backend: 'tensorflow',
              model_config: artifacts.modelTopology,
            },
            weightsManifest: manifest,
          }
        : {
            format: 'layers-model',
            generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
            convertedBy: null,
            modelTopology: artifacts.modelTopology,
            weightsManifest: manifest,
          };
      files = { 'model.json': new TextEncoder().encode(JSON.stringify(json)), 'weights.bin': bytes };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (files === undefined) throw new Error(`model ${model.name}: save handed over no artifacts`);
  return files;
}

/**
 * Writes a tfjs layers model to `dir` as model.json + weights.bin (see `layersModelFiles`).
 * @example await saveLayersModelFolder(model, 'models/my-cnn'); // then loadBackbone({ backbone: 'my-cnn', weights: 'models/my-cnn', ... })
 */
export async function saveLayersModelFolder(
  model: tf.LayersModel,
  dir: string,
  options: { legacy?: boolean } = {},
): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const files = await layersModelFiles(model, options);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.json'), files['model.json']);
  await writeFile(path.join(dir, 'weights.bin'), files['weights.bin']);
}
