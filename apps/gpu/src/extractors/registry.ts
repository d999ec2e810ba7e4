import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  type BackboneConfigInput,
  BackboneError,
  type BackendInfo,
  backboneEnvKey,
  createExtractorPool,
  type FeatureExtractor,
  getBackboneSpec,
  type InitBackendOptions,
  initBackend,
  isBuiltinBackbone,
  loadBackbone,
  type Pooling,
  parseBackboneShorthand,
} from '@edgehead/backbones';
import type { FeatureSetRecord, Preprocessing } from '@edgehead/contracts';
import { materializeStoredWeights, type StoredWeightsReader, storedWeightsSha256 } from './stored-weights.ts';
import { weightsSignature } from './weights-signature.ts';

/** How long an extractor whose weights were replaced stays alive for the batches that still hold it. */
const RETIRED_GRACE_MS = 10 * 60_000;

/** The feature layer a recorded feature set names for a user backbone (built-in ones have theirs in code). */
const recordedLayer = (record: FeatureSetRecord) =>
  isBuiltinBackbone(record.backbone) ? undefined : (record.featureLayer ?? undefined);

/** What a caller asks for: any field may be omitted (service defaults apply). */
export interface ExtractorRequest {
  /** A backbone name, or a shorthand such as `mobilenet_v1_0.75+avg@tf`. */
  backbone?: string | undefined;
  pooling?: Pooling | undefined;
  preprocessing?: Preprocessing | undefined;
  /** Weights source overriding the configured one. */
  weights?: string | undefined;
}

/** Backbone, pooling and preprocessing of an extractor (its feature set but the weights). */
export interface ExtractorParts {
  backbone: string;
  pooling: Pooling;
  preprocessing: Preprocessing;
}

/** What a lookup names of recorded feature sets: preprocessing undefined matches any. */
export type LookupParts = Omit<ExtractorParts, 'preprocessing'> & {
  preprocessing: Preprocessing | undefined;
};

/**
 * The feature sets a request or shorthand means, for finding recorded ones without loading weights:
 * pooling `none` unless named, the preprocessing named or the backbone's default (built-in or configured).
 */
export function lookupParts(
  request: Pick<ExtractorRequest, 'backbone' | 'pooling' | 'preprocessing'> & { backbone: string },
  userBackbones: readonly { name: string; preprocessing: Preprocessing }[] = [],
): LookupParts {
  let shorthand: ReturnType<typeof parseBackboneShorthand>;
  try {
    shorthand = parseBackboneShorthand(request.backbone);
  } catch {
    throw new ExtractorRequestError(
      'unknown_backbone',
      'backbone',
      `backbone ${JSON.stringify(request.backbone)} is not <backbone>[+avg][@rescale|caffe|tf]`,
    );
  }
  const { backbone } = shorthand;
  const preprocessing =
    request.preprocessing ??
    shorthand.preprocessing ??
    (isBuiltinBackbone(backbone)
      ? getBackboneSpec(backbone).preprocessing
      : userBackbones.find((b) => b.name === backbone)?.preprocessing);
  return { backbone, pooling: request.pooling ?? shorthand.pooling ?? 'none', preprocessing };
}

/** A request resolved to a loadable config; `weightsVariable` is where its weights are configured. */
export interface ResolvedExtractor extends ExtractorParts {
  config: BackboneConfigInput & { weights: string };
  weightsVariable: string;
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

/** Why a request cannot be turned into an extractor; `field` names the request field, `variable` what to set. */
export class ExtractorRequestError extends Error {
  override readonly name = 'ExtractorRequestError';
  constructor(
    readonly code: 'unknown_backbone' | 'contradiction' | 'weights_unconfigured',
    readonly field: 'backbone' | 'pooling' | 'preprocessing' | 'weights',
    message: string,
    readonly variable?: string,
  ) {
    super(message);
  }
}

/** Options of `ExtractorRegistry`. */
export interface ExtractorRegistryOptions {
  defaultBackbone: string;
  userBackbones?: UserBackbone[];
  /** Weights by `backboneEnvKey(backbone)`. */
  weights?: Record<string, string>;
  weightsCache: string;
  /** Pool threads on single-threaded backends; 0 loads in the calling thread. */
  poolSize: number;
  /** Folder with `models/<sharedFolder>` weights (EDGEHEAD_SHARED_DIR), used when nothing is configured. */
  sharedDir?: string | undefined;
  backend?: InitBackendOptions;
  /** Images per forward pass. */
  batchSize?: number;
  /** Reads weights stored in the database (fine-tuned backbones); without it their feature sets fail to load. */
  storedWeights?: StoredWeightsReader;
}

/** Local weight paths are recorded absolute (replicas and restarts resolve them alike); URLs and `random` as given. */
function normalizeSource(weights: string): string {
  return weights === 'random' || /^https?:\/\//i.test(weights) ? weights : path.resolve(weights);
}

/**
 * Resolves extractor requests to loadable configs and loads each extractor lazily, once per config:
 * concurrent first requests share one load. Loading reports the feature-set identity (weights sha256
 * included); `forFeatureSet` loads the recorded weights again and refuses other bytes.
 */
export class ExtractorRegistry {
  private readonly cache = new Map<string, { signature: string; loading: Promise<FeatureExtractor> }>();

  constructor(private readonly options: ExtractorRegistryOptions) {}

  /** The backend the service's main thread runs on (workers of a pool report theirs on the extractor). */
  backend(): Promise<BackendInfo> {
    return initBackend(this.options.backend);
  }

  /** `lookupParts` of a request with this service's default backbone and user backbones. */
  parts(request: ExtractorRequest): LookupParts {
    return lookupParts(
      { ...request, backbone: request.backbone ?? this.options.defaultBackbone },
      this.options.userBackbones,
    );
  }

  /** The config a request loads with: weights from the request, else the configuration; nothing loaded. */
  resolve(request: ExtractorRequest): ResolvedExtractor {
    const { parts, weights, weightsVariable } = this.describe(request);
    if (weights === undefined) {
      throw new ExtractorRequestError(
        'weights_unconfigured',
        'weights',
        `no weights configured for backbone ${parts.backbone}: set ${weightsVariable} ` +
          '(TF.js folder, Keras .h5 or https URL) or pass weights',
        weightsVariable,
      );
    }
    return { ...parts, weightsVariable, config: this.config(parts, normalizeSource(weights)) };
  }

  private describe(request: ExtractorRequest): {
    parts: ExtractorParts;
    weights: string | undefined;
    weightsVariable: string;
  } {
    const raw = request.backbone ?? this.options.defaultBackbone;
    let shorthand: ReturnType<typeof parseBackboneShorthand>;
    try {
      shorthand = parseBackboneShorthand(raw);
    } catch {
      throw new ExtractorRequestError(
        'unknown_backbone',
        'backbone',
        `backbone ${JSON.stringify(raw)} is not a backbone name`,
      );
    }
    const { backbone } = shorthand;
    for (const field of ['pooling', 'preprocessing'] as const) {
      if (
        shorthand[field] !== undefined &&
        request[field] !== undefined &&
        shorthand[field] !== request[field]
      ) {
        throw new ExtractorRequestError(
          'contradiction',
          field,
          `${field} ${request[field]} contradicts backbone ${raw}`,
        );
      }
    }
    const pooling = request.pooling ?? shorthand.pooling ?? 'none';
    const asked = request.preprocessing ?? shorthand.preprocessing;
    const user = this.options.userBackbones?.find((b) => b.name === backbone);
    if (isBuiltinBackbone(backbone)) {
      const spec = getBackboneSpec(backbone);
      const variable = `EDGEHEAD_WEIGHTS_${backboneEnvKey(backbone)}`;
      const shared =
        spec.weights.sharedFolder && this.options.sharedDir
          ? path.join(this.options.sharedDir, 'models', spec.weights.sharedFolder)
          : undefined;
      const weights =
        request.weights ??
        this.options.weights?.[backboneEnvKey(backbone)] ??
        (shared !== undefined && existsSync(shared) ? shared : undefined) ??
        spec.weights.url;
      return {
        parts: { backbone, pooling, preprocessing: asked ?? spec.preprocessing },
        weights,
        weightsVariable: variable,
      };
    }
    if (user !== undefined) {
      if (asked !== undefined && asked !== user.preprocessing) {
        throw new ExtractorRequestError(
          'contradiction',
          'preprocessing',
          `user backbone ${backbone} is configured with preprocessing ${user.preprocessing}, got ${asked}`,
        );
      }
      return {
        parts: { backbone, pooling, preprocessing: user.preprocessing },
        weights: request.weights ?? user.weights,
        weightsVariable: 'EDGEHEAD_BACKBONES',
      };
    }
    if (request.weights !== undefined && asked !== undefined) {
      return {
        parts: { backbone, pooling, preprocessing: asked },
        weights: request.weights,
        weightsVariable: 'EDGEHEAD_BACKBONES',
      };
    }
    throw new ExtractorRequestError(
      'unknown_backbone',
      'backbone',
      `backbone ${JSON.stringify(backbone)} is neither built in nor configured (EDGEHEAD_BACKBONES); ` +
        'a one-off user backbone needs weights and preprocessing',
    );
  }

  /** One config per (parts, weights): requests and feature-set records of the same weights share the cache. */
  private config(parts: ExtractorParts, weights: string, featureLayer?: string): ResolvedExtractor['config'] {
    const config: ResolvedExtractor['config'] = {
      backbone: parts.backbone,
      pooling: parts.pooling,
      preprocessing: parts.preprocessing,
      weights,
      cacheDir: this.options.weightsCache,
    };
    if (isBuiltinBackbone(parts.backbone)) {
      const spec = getBackboneSpec(parts.backbone);
      if (weights === spec.weights.url && spec.weights.md5 !== undefined) config.md5 = spec.weights.md5;
    } else {
      const user = this.options.userBackbones?.find((b) => b.name === parts.backbone);
      // a graph model's feature node is recorded as its feature layer
      const graph = user?.format === 'graph';
      const layer = featureLayer ?? (graph ? user?.featureNode : user?.featureLayer);
      if (graph) config.format = 'graph';
      if (layer !== undefined) config[graph ? 'featureNode' : 'featureLayer'] = layer;
      if (user?.inputSize !== undefined) config.inputSize = user.inputSize;
    }
    if (this.options.batchSize !== undefined) config.batchSize = this.options.batchSize;
    return config;
  }

  /**
   * The loaded extractor of a config (loading it on first use; a failed load is retried by the next call).
   * Weights replaced at the same local path are loaded anew: the cached extractor of the old bytes is
   * dropped (and freed once the batches that hold it had time to finish).
   */
  async load(config: BackboneConfigInput): Promise<FeatureExtractor> {
    const key = JSON.stringify(config);
    const signature = await weightsSignature(config.weights);
    const cached = this.cache.get(key);
    if (cached?.signature === signature) return cached.loading;
    if (cached !== undefined) {
      const retired = cached.loading;
      setTimeout(
        () =>
          void retired.then(
            (e) => e.dispose(),
            () => undefined,
          ),
        RETIRED_GRACE_MS,
      ).unref();
    }
    const loading = this.start(config);
    this.cache.set(key, { signature, loading });
    loading.catch(() => {
      if (this.cache.get(key)?.loading === loading) this.cache.delete(key);
    });
    return loading;
  }

  /**
   * The extractor of a recorded feature set: its weights loaded from the recorded source and checked against
   * the recorded sha256, so every replica and every restart computes the same vectors. Where the recorded
   * source cannot be read here (another replica's path, a moved folder), the weights this service is
   * configured with for the backbone are used instead, if they hash the same. BackboneError
   * `checksum_mismatch` when the bytes are other weights now, `invalid_config` for a legacy feature set.
   */
  async forFeatureSet(record: FeatureSetRecord): Promise<FeatureExtractor> {
    const expected = record.weights.sha256;
    const recorded = await this.configFor(record);
    const attempts = [{ config: recorded, source: record.weights.source }];
    const configured = this.configuredWeights(record);
    if (configured !== undefined && configured !== recorded.weights) {
      attempts.push({ config: this.config(record, configured, recordedLayer(record)), source: configured });
    }
    let firstError: unknown;
    for (const { config, source } of attempts) {
      try {
        const extractor = await this.load(config);
        const actual = extractor.info.featureSet.weights.sha256;
        if (actual === expected) return extractor;
        throw new BackboneError(
          'checksum_mismatch',
          `feature set ${record.id}: the weights at ${source} hash to ${actual}, ` +
            `the feature set was recorded with ${expected}`,
          { details: { field: 'weights', expected, actual, source } },
        );
      } catch (err) {
        firstError ??= err;
      }
    }
    throw firstError;
  }

  /** The weights this service would load for a feature set's backbone when asked without weights. */
  private configuredWeights(record: FeatureSetRecord): string | undefined {
    try {
      const { backbone, pooling, preprocessing } = record;
      return this.resolve({ backbone, pooling, preprocessing }).config.weights;
    } catch {
      return undefined; // not configured here: only the recorded source can serve it
    }
  }

  /**
   * The loadable config of a recorded feature set: its recorded source, or for weights stored in the
   * database (`storedWeightsSource`) a folder in the weights cache written from them. Nothing is loaded;
   * `forFeatureSet` also checks what loads against the recorded sha256.
   */
  async configFor(record: FeatureSetRecord): Promise<ResolvedExtractor['config']> {
    const expected = record.weights.sha256;
    if (expected === null) {
      throw new BackboneError(
        'invalid_config',
        `feature set ${record.id} was recorded before weights were (legacy): extract it again to record its weights`,
      );
    }
    let source = record.weights.source;
    const stored = storedWeightsSha256(source);
    if (stored !== null) {
      if (this.options.storedWeights === undefined) {
        throw new BackboneError(
          'weights_not_found',
          `feature set ${record.id}: weights ${source} are stored in the database, which this registry cannot read`,
        );
      }
      source = await materializeStoredWeights(this.options.storedWeights, stored, this.options.weightsCache);
    }
    return this.config(record, source, recordedLayer(record));
  }

  private async start(config: BackboneConfigInput): Promise<FeatureExtractor> {
    const backend = await this.backend();
    if (backend.singleThreaded && this.options.poolSize > 0) {
      return createExtractorPool(config, {
        size: this.options.poolSize,
        ...(this.options.backend === undefined ? {} : { backend: this.options.backend }),
      });
    }
    return loadBackbone(config, this.options.backend === undefined ? {} : { backend: this.options.backend });
  }

  /** Extractors loaded so far: their feature set (backbone, weights sha256, source) and backend. */
  async loaded(): Promise<{ backbone: string; weights: string; sha256: string | null; backend: string }[]> {
    const settled = await Promise.allSettled([...this.cache.values()].map((c) => c.loading));
    return settled.flatMap((s) =>
      s.status === 'fulfilled'
        ? [
            {
              backbone: s.value.info.name,
              weights: s.value.info.weights,
              sha256: s.value.info.featureSet.weights.sha256,
              backend: s.value.backend,
            },
          ]
        : [],
    );
  }

  /** Frees every loaded extractor (worker threads included). */
  async dispose(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    await Promise.all(all.map(async (c) => (await c.loading.catch(() => undefined))?.dispose()));
  }
}
