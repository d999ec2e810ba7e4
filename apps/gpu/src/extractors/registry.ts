import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  type BackboneConfigInput,
  type BackendInfo,
  createExtractorPool,
  type FeatureExtractor,
  featureSetKey,
  getBackboneSpec,
  type InitBackendOptions,
  initBackend,
  isBuiltinBackbone,
  loadBackbone,
  type Pooling,
  parseFeatureSetKey,
} from '@edgehead/backbones';
import type { Preprocessing } from '@edgehead/contracts';
import { ApiError } from '../http/errors.ts';

/** What a caller asks for: any field may be omitted (service defaults apply). */
export interface ExtractorRequest {
  /** A backbone name, or a feature-set key such as `mobilenet_v1_0.75+avg@tf`. */
  backbone?: string | undefined;
  pooling?: Pooling | undefined;
  preprocessing?: Preprocessing | undefined;
  /** Weights source overriding the configured one. */
  weights?: string | undefined;
}

/** A request resolved to a loadable config and the feature-set key its vectors are stored under. */
export interface ResolvedExtractor {
  backbone: string;
  pooling: Pooling;
  preprocessing: Preprocessing;
  featureSet: string;
  config: BackboneConfigInput;
}

/** A user backbone the service knows by name. */
export interface UserBackbone {
  name: string;
  weights: string;
  preprocessing: Preprocessing;
  featureLayer?: string | undefined;
  /** `graph` for a TF.js graph model (then `featureNode`), default `layers`. */
  format?: 'layers' | 'graph' | undefined;
  featureNode?: string | undefined;
  inputSize?: [number, number] | undefined;
}

/** Options of `ExtractorRegistry`. */
export interface ExtractorRegistryOptions {
  defaultBackbone: string;
  userBackbones?: UserBackbone[];
  /** Weights by `weightsEnvKey(backbone)`. */
  weights?: Record<string, string>;
  weightsCache: string;
  /** Pool threads on single-threaded backends; 0 loads in the calling thread. */
  poolSize: number;
  /** Folder with `models/<sharedFolder>` weights (EDGEHEAD_SHARED_DIR), used when nothing is configured. */
  sharedDir?: string | undefined;
  backend?: InitBackendOptions;
  /** Images per forward pass. */
  batchSize?: number;
}

const envKey = (backbone: string) => backbone.toUpperCase().replace(/[^A-Z0-9]/g, '_');

/**
 * Resolves extractor requests to feature sets and loads each extractor lazily, once per
 * (backbone, pooling, preprocessing, weights): concurrent first requests share one load.
 */
export class ExtractorRegistry {
  private readonly cache = new Map<string, Promise<FeatureExtractor>>();
  /** Weights a request named explicitly, by backbone: later requests without weights (the edge's
   * `/v1/features` calls, progress polls) reuse them instead of failing for want of configuration. */
  private readonly requestedWeights = new Map<string, string>();

  constructor(private readonly options: ExtractorRegistryOptions) {}

  /** The backend the service's main thread runs on (workers of a pool report theirs on the extractor). */
  backend(): Promise<BackendInfo> {
    return initBackend(this.options.backend);
  }

  /** The feature-set key a request means; needs no weights (progress and lookups). */
  featureSetOf(request: ExtractorRequest): string {
    return this.describe(request).featureSet;
  }

  /** Names the feature set and weights a request means, without loading anything. */
  resolve(request: ExtractorRequest): ResolvedExtractor {
    const { weights, ...rest } = this.describe(request);
    if (weights === undefined) {
      throw new ApiError(
        503,
        'unavailable',
        `no weights configured for backbone ${rest.backbone}: set EDGEHEAD_WEIGHTS_${envKey(rest.backbone)} ` +
          '(TF.js folder, Keras .h5 or https URL) or pass weights',
        { field: 'weights' },
      );
    }
    if (request.weights !== undefined) this.requestedWeights.set(rest.backbone, request.weights);
    return { ...rest, config: { ...rest.config, weights } };
  }

  private describe(request: ExtractorRequest): Omit<ResolvedExtractor, 'config'> & {
    config: Omit<BackboneConfigInput, 'weights'>;
    weights: string | undefined;
  } {
    const raw = request.backbone ?? this.options.defaultBackbone;
    let key: ReturnType<typeof parseFeatureSetKey>;
    try {
      key = parseFeatureSetKey(raw);
    } catch {
      throw new ApiError(400, 'bad_request', `backbone ${JSON.stringify(raw)} is not a backbone name`, {
        field: 'backbone',
      });
    }
    const fromKey = raw !== key.backbone;
    const backbone = key.backbone;
    const pooling = request.pooling ?? (fromKey ? key.pooling : 'none');
    if (fromKey && request.pooling !== undefined && request.pooling !== key.pooling) {
      throw new ApiError(400, 'bad_request', `pooling ${request.pooling} contradicts backbone ${raw}`, {
        field: 'pooling',
      });
    }
    const user = this.options.userBackbones?.find((b) => b.name === backbone);
    const builtin = isBuiltinBackbone(backbone);
    let weights = request.weights ?? this.requestedWeights.get(backbone);
    let defaultPre: Preprocessing | undefined;
    const config: Omit<BackboneConfigInput, 'weights'> = {
      backbone,
      pooling,
      cacheDir: this.options.weightsCache,
    };
    if (this.options.batchSize !== undefined) config.batchSize = this.options.batchSize;
    if (builtin) {
      const spec = getBackboneSpec(backbone);
      defaultPre = spec.preprocessing;
      weights ??= this.options.weights?.[envKey(backbone)];
      const shared =
        spec.weights.sharedFolder && this.options.sharedDir
          ? path.join(this.options.sharedDir, 'models', spec.weights.sharedFolder)
          : undefined;
      if (weights === undefined && shared !== undefined && existsSync(shared)) weights = shared;
      if (weights === undefined && spec.weights.url !== undefined) {
        weights = spec.weights.url;
        if (spec.weights.md5 !== undefined) config.md5 = spec.weights.md5;
      }
    } else if (user !== undefined) {
      defaultPre = user.preprocessing;
      weights ??= user.weights;
      if (user.featureLayer !== undefined) config.featureLayer = user.featureLayer;
      if (user.format !== undefined) config.format = user.format;
      if (user.featureNode !== undefined) config.featureNode = user.featureNode;
      if (user.inputSize !== undefined) config.inputSize = user.inputSize;
      if (request.preprocessing !== undefined && request.preprocessing !== user.preprocessing) {
        throw new ApiError(
          400,
          'bad_request',
          `user backbone ${backbone} is configured with preprocessing ${user.preprocessing}, got ${request.preprocessing}`,
          { field: 'preprocessing' },
        );
      }
    } else if (request.weights !== undefined && request.preprocessing !== undefined) {
      defaultPre = request.preprocessing;
    } else {
      throw new ApiError(
        400,
        'bad_request',
        `backbone ${JSON.stringify(backbone)} is neither built in nor configured (EDGEHEAD_BACKBONES); ` +
          'a one-off user backbone needs weights and preprocessing',
        { field: 'backbone' },
      );
    }
    const preprocessing = request.preprocessing ?? (fromKey ? key.preprocessing : undefined) ?? defaultPre;
    if (preprocessing === undefined) throw new Error('unreachable: preprocessing has a default');
    const featureSet = featureSetKey({ backbone, pooling, preprocessing }, defaultPre);
    return { backbone, pooling, preprocessing, featureSet, weights, config: { ...config, preprocessing } };
  }

  /** The loaded extractor of a request (loading it on first use). */
  async get(
    request: ExtractorRequest,
  ): Promise<{ extractor: FeatureExtractor; resolved: ResolvedExtractor }> {
    const resolved = this.resolve(request);
    const key = JSON.stringify(resolved.config);
    let loading = this.cache.get(key);
    if (loading === undefined) {
      loading = this.load(resolved.config);
      this.cache.set(key, loading);
      // A failed load (bad weights, a crashed worker) is retried by the next request.
      loading.catch(() => this.cache.delete(key));
    }
    return { extractor: await loading, resolved };
  }

  private async load(config: BackboneConfigInput): Promise<FeatureExtractor> {
    const backend = await this.backend();
    if (backend.singleThreaded && this.options.poolSize > 0) {
      return createExtractorPool(config, {
        size: this.options.poolSize,
        ...(this.options.backend === undefined ? {} : { backend: this.options.backend }),
      });
    }
    return loadBackbone(config, this.options.backend === undefined ? {} : { backend: this.options.backend });
  }

  /** Extractors loaded so far, by feature set. */
  async loaded(): Promise<{ featureSet: string; backend: string; weights: string }[]> {
    const settled = await Promise.allSettled(this.cache.values());
    return settled.flatMap((s) =>
      s.status === 'fulfilled'
        ? [{ featureSet: s.value.info.featureSet, backend: s.value.backend, weights: s.value.info.weights }]
        : [],
    );
  }

  /** Frees every loaded extractor (worker threads included). */
  async dispose(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.dispose()));
  }
}
