import type { FeatureSetIdentity, Preprocessing } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, type InitBackendOptions, initBackend } from './backend.ts';
import { BackboneError, shapeString } from './errors.ts';
import {
  type BackboneConfig,
  type BackboneConfigInput,
  getBackboneSpec,
  isBuiltinBackbone,
  parseBackboneConfig,
} from './models/registry.ts';
import { type BackboneSpec, type Pooling, pooledShape } from './models/spec.ts';
import { buildVgg16 } from './models/vgg16.ts';
import { preprocessInto } from './preprocess.ts';
import { assignWeights, decodeNamedWeights, h5Lookup, namedLookup } from './weights/assign.ts';
import { readKerasH5 } from './weights/hdf5.ts';
import { weightsSha256 } from './weights/identity.ts';
import { type ResolvedWeights, resolveWeights } from './weights/index.ts';
import { readLayersModelFolder } from './weights/tfjs-folder.ts';

/** A loaded backbone as callers see it: what it computes, not how. */
export interface ResolvedBackbone {
  name: string;
  inputSize: readonly [number, number];
  preprocessing: Preprocessing;
  pooling: Pooling;
  featureLayer: string;
  /** Shape of one feature vector as returned (after pooling), e.g. [4, 4, 512] or [768]. */
  featureShape: number[];
  /** Number of floats per image (product of featureShape). */
  featureLength: number;
  /** Where the weights came from (`random`, a path or a URL). */
  weights: string;
  /** The feature set these weights and options compute: what the `feature_sets` table records. */
  featureSet: FeatureSetIdentity;
}

/** Anything that turns RGB images at the backbone's input size into feature vectors. */
export interface FeatureExtractor {
  readonly info: ResolvedBackbone;
  /** Backend name as `initBackend` reports it (`wasm`, `tfjs-node-gpu`, ...). */
  readonly backend: string;
  /** One Float32Array of `info.featureLength` per image, in input order; images are HxWx3 RGB bytes. */
  extract(images: readonly Uint8Array[]): Promise<Float32Array[]>;
  /** Frees the model (and workers for a pool). */
  dispose(): Promise<void>;
}

async function modelFromFolder(source: string, label: string): Promise<tf.LayersModel> {
  const folder = await readLayersModelFolder(source);
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: folder.modelConfig } as tf.io.ModelJSON);
  } catch (cause) {
    throw new BackboneError(
      'weights_corrupt',
      `${label}: model topology in ${folder.modelJsonPath} cannot be built: ${String(cause)}`,
      { cause },
    );
  }
  assignWeights(model, namedLookup(decodeNamedWeights(folder.weightData, folder.weightSpecs)), label);
  return model;
}

async function loadVgg16Weights(
  model: tf.LayersModel,
  resolved: ResolvedWeights,
  label: string,
): Promise<void> {
  if (resolved.kind === 'keras-h5') {
    assignWeights(model, h5Lookup(await readKerasH5(resolved.file), label), label);
  } else {
    const folder = await readLayersModelFolder(resolved.modelJson);
    assignWeights(model, namedLookup(decodeNamedWeights(folder.weightData, folder.weightSpecs)), label);
  }
}

function cut(model: tf.LayersModel, layerName: string, label: string): tf.LayersModel {
  const layer = model.layers.find((l) => l.name === layerName);
  if (layer === undefined) {
    const names = model.layers.map((l) => l.name);
    throw new BackboneError(
      'invalid_config',
      `${label}: feature layer ${layerName} is not in the model; its last layers are ${names.slice(-5).join(', ')}`,
    );
  }
  if (layer === model.layers[model.layers.length - 1] && model.outputs.length === 1) return model;
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}

function knownShape(shape: readonly (number | null)[], what: string): number[] {
  if (shape.some((d) => d === null)) {
    throw new BackboneError('invalid_config', `${what} shape ${shapeString(shape)} has unknown dimensions`);
  }
  return shape as number[];
}

/** Builds the network and its spec for a config, without warming it up. */
async function build(config: BackboneConfig): Promise<{ model: tf.LayersModel; spec: BackboneSpec }> {
  const label = `${config.backbone} weights ${config.weights}`;
  const resolve = () =>
    resolveWeights(config.weights, { sha256: config.sha256, md5: config.md5, cacheDir: config.cacheDir });
  if (config.backbone === 'vgg16') {
    const spec = getBackboneSpec('vgg16');
    const model = buildVgg16({
      inputSize: spec.inputSize,
      seed: config.seed,
      zeros: config.weights !== 'random',
    });
    if (config.weights !== 'random') await loadVgg16Weights(model, await resolve(), label);
    return { model, spec };
  }
  if (config.weights === 'random') {
    throw new BackboneError(
      'invalid_config',
      `${config.backbone}: weights "random" is only available for vgg16`,
    );
  }
  const resolved = await resolve();
  if (resolved.kind !== 'tfjs') {
    throw new BackboneError(
      'invalid_config',
      `${label}: a Keras .h5 file needs a built-in topology (vgg16); expected a TF.js layers folder`,
    );
  }
  const full = await modelFromFolder(resolved.modelJson, label);
  if (isBuiltinBackbone(config.backbone)) {
    const spec = getBackboneSpec(config.backbone);
    const input = full.inputs[0]?.shape ?? [];
    if (input[1] !== spec.inputSize[0] || input[2] !== spec.inputSize[1] || input[3] !== 3) {
      throw new BackboneError(
        'weights_shape_mismatch',
        `${label}: model input ${shapeString(input)}, expected [null,${spec.inputSize.join(',')},3]`,
      );
    }
    return { model: cut(full, spec.featureLayer, label), spec };
  }
  if (config.preprocessing === undefined) {
    throw new BackboneError(
      'invalid_config',
      `user backbone ${config.backbone}: preprocessing is required (rescale, caffe or tf)`,
    );
  }
  const inputShape = full.inputs[0]?.shape ?? [];
  const input = [null, ...knownShape(inputShape.slice(1), `${label}: model input`)];
  if (input.length !== 4 || input[3] !== 3) {
    throw new BackboneError(
      'invalid_config',
      `${label}: model input ${shapeString(input)}, expected [null,h,w,3]`,
    );
  }
  const featureLayer = config.featureLayer ?? full.layers[full.layers.length - 1]?.name ?? '';
  const model = cut(full, featureLayer, label);
  const out = knownShape(
    model.outputs[0]?.shape.slice(1) ?? [null],
    `${label}: feature layer ${featureLayer} output`,
  );
  const spec: BackboneSpec = {
    name: config.backbone,
    inputSize: [input[1] as number, input[2] as number],
    preprocessing: config.preprocessing,
    preprocessingOptions: [config.preprocessing],
    featureLayer,
    featureShape: out,
    weights: { note: `user model ${config.weights}` },
  };
  return { model, spec };
}

/** An in-process backbone: one tfjs model on this thread's backend. */
export class Backbone implements FeatureExtractor {
  /** Use `loadBackbone`. */
  constructor(
    readonly info: ResolvedBackbone,
    readonly backend: string,
    /** The network cut at the feature layer, for inspection; owned by this Backbone (use `dispose`). */
    readonly model: tf.LayersModel,
    private readonly batchSize: number,
  ) {}

  async extract(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    const [h, w] = this.info.inputSize;
    const pixels = h * w * 3;
    for (const [i, img] of images.entries()) {
      if (!(img instanceof Uint8Array) || img.length !== pixels) {
        throw new BackboneError(
          'invalid_input',
          `image ${i}: ${img instanceof Uint8Array ? `${img.length} bytes` : typeof img}, expected ${pixels} ` +
            `RGB bytes (${h}x${w}x3); decode with decodeImage() first`,
        );
      }
    }
    const out: Float32Array[] = [];
    const len = this.info.featureLength;
    for (let start = 0; start < images.length; start += this.batchSize) {
      const batch = images.slice(start, start + this.batchSize);
      const input = new Float32Array(batch.length * pixels);
      for (const [i, img] of batch.entries()) preprocessInto(img, this.info.preprocessing, input, i * pixels);
      // The tidy frees every intermediate; the returned tensor is disposed right after its data is read.
      const y = tf.tidy(() => {
        const x = tf.tensor4d(input, [batch.length, h, w, 3]);
        const f = this.model.predict(x) as tf.Tensor;
        return this.info.pooling === 'avg' ? tf.mean(f, [1, 2]) : f;
      });
      try {
        const data = (await y.data()) as Float32Array;
        for (let i = 0; i < batch.length; i++) out.push(data.slice(i * len, (i + 1) * len));
      } finally {
        y.dispose();
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.model.dispose();
  }
}

/** Options of `loadBackbone` beyond the (serialisable) config. */
export interface LoadBackboneOptions {
  backend?: InitBackendOptions;
}

/**
 * Loads a backbone on this thread: initialises the backend, builds the network, loads and checks
 * weights, cuts it at the feature layer and warms it up.
 * @example const vgg = await loadBackbone({ backbone: 'vgg16', weights: 'weights/vgg16_notop.h5' });
 *          const [features] = await vgg.extract([(await decodeImage(jpeg, vgg.info.inputSize)).pixels]);
 */
export async function loadBackbone(
  input: BackboneConfigInput,
  options: LoadBackboneOptions = {},
): Promise<Backbone> {
  const config = parseBackboneConfig(input);
  const backend: BackendInfo = await initBackend(options.backend);
  const { model, spec } = await build(config);
  const pre = config.preprocessing ?? spec.preprocessing;
  if (!spec.preprocessingOptions.includes(pre)) {
    model.dispose();
    throw new BackboneError(
      'invalid_config',
      `${spec.name}: preprocessing ${pre} is not supported; expected ${spec.preprocessingOptions.join(', ')}`,
    );
  }
  const out = model.outputs[0]?.shape.slice(1) ?? [];
  if (shapeString(out) !== shapeString(spec.featureShape)) {
    model.dispose();
    throw new BackboneError(
      'weights_shape_mismatch',
      `${spec.name}: feature layer ${spec.featureLayer} gives ${shapeString(out)}, expected ${shapeString(spec.featureShape)}`,
    );
  }
  const featureShape = pooledShape(spec.featureShape, config.pooling);
  const info: ResolvedBackbone = {
    name: spec.name,
    inputSize: spec.inputSize,
    preprocessing: pre,
    pooling: config.pooling,
    featureLayer: spec.featureLayer,
    featureShape,
    featureLength: featureShape.reduce((a, b) => a * b, 1),
    weights: config.weights,
    featureSet: {
      backbone: spec.name,
      weights: { sha256: weightsSha256(model), source: config.weights },
      pooling: config.pooling,
      preprocessing: pre,
      inputSize: [spec.inputSize[0], spec.inputSize[1]],
      featureLayer: spec.featureLayer,
      featureShape,
      provenance: null,
    },
  };
  const backbone = new Backbone(info, backend.name, model, config.batchSize);
  if (config.warmup) {
    await backbone.extract([new Uint8Array(spec.inputSize[0] * spec.inputSize[1] * 3)]);
  }
  return backbone;
}
