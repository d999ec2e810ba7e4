import type { FeatureSetIdentity, Preprocessing } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { type AugmentRequest, augmentedInputs } from './augment.ts';
import { type BackendInfo, type InitBackendOptions, initBackend } from './backend.ts';
import { BackboneError, shapeString } from './errors.ts';
import type { FeatureNetwork } from './feature-network.ts';
import { type BackboneConfigInput, parseBackboneConfig } from './models/registry.ts';
import { type Pooling, pooledShape } from './models/spec.ts';
import { buildNetwork } from './network.ts';
import { preprocessInto } from './preprocess.ts';
import { weightsSha256 } from './weights/identity.ts';

/** A loaded backbone as callers see it: what it computes, not how. */
export interface ResolvedBackbone {
  name: string;
  inputSize: readonly [number, number];
  preprocessing: Preprocessing;
  pooling: Pooling;
  /** Layer (or, for graph models, node) whose output is the feature. */
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
  /**
   * One Float32Array of `info.featureLength` per image, in input order; images are HxWx3 RGB bytes. With
   * `augment`, the vectors of each image's `augment.config.copies` augmented copies instead (copy c of image
   * i at i * copies + c; `augmentImage` keyed by `augment.keys[i]`), made where the forward pass runs.
   */
  extract(images: readonly Uint8Array[], options?: ExtractOptions): Promise<Float32Array[]>;
  /** Frees the model (and workers for a pool). */
  dispose(): Promise<void>;
}

/** Options of `FeatureExtractor.extract`. */
export interface ExtractOptions {
  /** Extract seeded augmented copies of the images: the config and one key (e.g. content hash) per image. */
  augment?: AugmentRequest;
}

/** An in-process backbone: one tfjs model on this thread's backend. */
export class Backbone implements FeatureExtractor {
  /** Use `loadBackbone`. */
  constructor(
    readonly info: ResolvedBackbone,
    readonly backend: string,
    private readonly network: FeatureNetwork,
    private readonly batchSize: number,
  ) {}

  /** The network cut at the feature layer, for inspection; owned by this Backbone (use `dispose`). */
  get model(): tf.LayersModel | tf.GraphModel {
    return this.network.model;
  }

  async extract(images: readonly Uint8Array[], options: ExtractOptions = {}): Promise<Float32Array[]> {
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
    const inputs = augmentedInputs(images, this.info.inputSize, options.augment);
    const out: Float32Array[] = [];
    const len = this.info.featureLength;
    for (let start = 0; start < inputs.length; start += this.batchSize) {
      const batch = inputs.slice(start, start + this.batchSize);
      const input = new Float32Array(batch.length * pixels);
      for (const [i, img] of batch.entries()) preprocessInto(img, this.info.preprocessing, input, i * pixels);
      // The tidy frees every intermediate; the returned tensor is disposed right after its data is read.
      const y = tf.tidy(() => {
        const x = tf.tensor4d(input, [batch.length, h, w, 3]);
        const f = this.network.forward(x);
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
  const { network, spec } = await buildNetwork(config);
  const fail = (err: BackboneError): never => {
    network.model.dispose();
    throw err;
  };
  const pre = config.preprocessing ?? spec.preprocessing;
  if (!spec.preprocessingOptions.includes(pre)) {
    fail(
      new BackboneError(
        'invalid_config',
        `${spec.name}: preprocessing ${pre} is not supported; expected ${spec.preprocessingOptions.join(', ')}`,
      ),
    );
  }
  const out = network.featureShape;
  if (shapeString(out) !== shapeString(spec.featureShape)) {
    fail(
      new BackboneError(
        'weights_shape_mismatch',
        `${spec.name}: feature layer ${spec.featureLayer} gives ${shapeString(out)}, expected ${shapeString(spec.featureShape)}`,
      ),
    );
  }
  if (config.pooling === 'avg' && out.length !== 3) {
    fail(
      new BackboneError(
        'invalid_config',
        `${spec.name}: pooling avg needs an [h,w,c] feature map, ${spec.featureLayer} gives ${shapeString(out)}`,
      ),
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
      weights: { sha256: weightsSha256(network.model), source: config.weights },
      pooling: config.pooling,
      preprocessing: pre,
      inputSize: [spec.inputSize[0], spec.inputSize[1]],
      featureLayer: spec.featureLayer,
      featureShape,
      provenance: null,
    },
  };
  const backbone = new Backbone(info, backend.name, network, config.batchSize);
  if (config.warmup) {
    await backbone.extract([new Uint8Array(spec.inputSize[0] * spec.inputSize[1] * 3)]);
  }
  return backbone;
}
