import { availableParallelism } from 'node:os';
import path from 'node:path';
import { backboneFormat, backboneInputSize, backboneName, DEFAULT_BACKBONE } from '@edgehead/backbones';
import { preprocessing } from '@edgehead/contracts';
import { z } from 'zod';

const MiB = 1024 * 1024;

const int = (min: number) => z.coerce.number().int().min(min);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** A user backbone declared in `EDGEHEAD_BACKBONES` (JSON array): a TF.js layers or graph model of your own. */
const userBackbone = z.strictObject({
  name: backboneName,
  weights: z.string().min(1),
  preprocessing,
  featureLayer: z.string().min(1).optional(),
  format: backboneFormat.optional(),
  featureNode: z.string().min(1).optional(),
  inputSize: backboneInputSize.optional(),
});

const schema = z.object({
  PORT: int(0).max(65535).default(8788),
  HOST: z.string().default('0.0.0.0'),
  /** Bearer token of every write route and /v1/features; required (the server refuses to start without). */
  EDGEHEAD_GPU_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  /** Require the token on GET routes too (the default); `false` opens reads, e.g. on a private network. */
  EDGEHEAD_GPU_PROTECT_READS: bool.default(true),
  EDGEHEAD_GPU_MAX_BODY_BYTES: int(1).default(512 * MiB),
  EDGEHEAD_GPU_MAX_FILES: int(1).default(5000),
  EDGEHEAD_GPU_MAX_IMAGE_BYTES: int(1).default(25 * MiB),
  EDGEHEAD_GPU_MAX_PIXELS: int(1).default(40_000_000),
  EDGEHEAD_GPU_MAX_ARCHIVE_BYTES: int(1).default(2048 * MiB),
  EDGEHEAD_GPU_MAX_ARCHIVE_ENTRIES: int(1).default(20_000),
  /** Server folders may be registered only below this root; unset disables folder registration. */
  EDGEHEAD_IMPORT_ROOT: z.string().min(1).optional(),
  EDGEHEAD_DEFAULT_BACKBONE: backboneName.default(DEFAULT_BACKBONE),
  /** JSON array of user backbones: [{ name, weights, preprocessing, featureLayer?, format?, featureNode?, inputSize? }]. */
  EDGEHEAD_BACKBONES: z
    .string()
    .default('[]')
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected a JSON array' });
        return z.NEVER;
      }
    })
    .pipe(z.array(userBackbone)),
  /** Folder with `models/<name>` weights the mobilenets default to when present. */
  EDGEHEAD_SHARED_DIR: z.string().min(1).optional(),
  /** Where https weights are downloaded once. */
  EDGEHEAD_WEIGHTS_CACHE: z.string().default(path.resolve('.edgehead/weights')),
  /** Worker threads per extractor on single-threaded backends (wasm, cpu); 0 runs in the main thread. */
  EDGEHEAD_GPU_POOL_SIZE: int(0).default(availableParallelism()),
  /** Images per extraction job. */
  EDGEHEAD_EXTRACT_BATCH: int(1).max(1024).default(32),
  /** Seconds a job may run before pg-boss considers its worker dead and retries it. */
  EDGEHEAD_EXTRACT_EXPIRE_SECONDS: int(1).default(900),
  EDGEHEAD_EXTRACT_RETRY_LIMIT: int(0).default(5),
  /** Seconds before a failed or expired job is retried (doubling with each retry). */
  EDGEHEAD_EXTRACT_RETRY_DELAY: int(0).default(5),
  /** Jobs this replica works on at once (each uses the whole extractor pool). */
  EDGEHEAD_EXTRACT_CONCURRENCY: int(0).default(1),
  EDGEHEAD_QUEUE_POLL_SECONDS: z.coerce.number().min(0.5).default(2),
  /** Seconds between pg-boss maintenance runs, which notice expired jobs (the bound on a dead worker's wait). */
  EDGEHEAD_QUEUE_MAINTENANCE_SECONDS: int(1).max(3600).default(120),
  /** The edge worker whose admin API `POST /v1/models/:id/publish` calls, and its ADMIN_TOKEN. */
  EDGEHEAD_EDGE_URL: z.url().optional(),
  EDGEHEAD_EDGE_ADMIN_TOKEN: z.string().min(1).optional(),
  /** Seconds a training job may run before pg-boss presumes its worker dead and retries the run. */
  EDGEHEAD_TRAIN_EXPIRE_SECONDS: int(1).max(86_399).default(21_600),
  EDGEHEAD_TRAIN_RETRY_LIMIT: int(0).default(2),
  /** Seconds before a failed or expired training job is retried. */
  EDGEHEAD_TRAIN_RETRY_DELAY: int(0).default(10),
  /** The most bytes of activations at the cut a fine-tuning run may hold (its request is refused above it). */
  EDGEHEAD_FINETUNE_MAX_BYTES: int(1).default(4 * 1024 ** 3),
});

/** Weights location per backbone from `EDGEHEAD_WEIGHTS_<NAME>` (e.g. EDGEHEAD_WEIGHTS_MOBILENET_V1_0_75). */
function weightsFromEnv(source: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    const m = /^EDGEHEAD_WEIGHTS_([A-Z0-9_]+)$/.exec(key);
    if (m?.[1] && key !== 'EDGEHEAD_WEIGHTS_CACHE' && value) out[m[1]] = value;
  }
  return out;
}

/** Parsed configuration of the gpu service. */
export interface GpuEnv {
  port: number;
  host: string;
  token: string | undefined;
  protectReads: boolean;
  limits: {
    maxBodyBytes: number;
    maxFiles: number;
    maxImageBytes: number;
    maxPixels: number;
    maxArchiveBytes: number;
    maxArchiveEntries: number;
  };
  importRoot: string | undefined;
  defaultBackbone: string;
  userBackbones: z.infer<typeof userBackbone>[];
  /** Weights source by `backboneEnvKey(backbone)`. */
  weights: Record<string, string>;
  weightsCache: string;
  /** EDGEHEAD_SHARED_DIR, absolute. */
  sharedDir: string | undefined;
  poolSize: number;
  extraction: {
    batchSize: number;
    expireSeconds: number;
    retryLimit: number;
    retryDelay: number;
    concurrency: number;
    pollSeconds: number;
  };
  /** Seconds between pg-boss maintenance runs (expiry of jobs whose worker died). */
  maintenanceSeconds: number;
  /** The edge admin API for publishing; null when EDGEHEAD_EDGE_URL or its token is unset. */
  edge: { url: string; token: string } | null;
  training: { expireSeconds: number; retryLimit: number; retryDelaySeconds: number };
  fineTune: { maxActivationBytes: number };
}

/** Thrown when the environment does not parse; the message lists every bad variable. */
export class EnvError extends Error {
  readonly code = 'invalid_env';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EnvError';
  }
}

/**
 * Reads the service configuration from `source` (default `process.env`), with local defaults.
 * @example const env = parseEnv({ EDGEHEAD_GPU_TOKEN: 'a-long-enough-token' });
 */
export function parseEnv(source: Record<string, string | undefined> = process.env): GpuEnv {
  const r = schema.safeParse(source);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new EnvError(`invalid environment: ${what}`, { cause: r.error });
  }
  const e = r.data;
  return {
    port: e.PORT,
    host: e.HOST,
    token: e.EDGEHEAD_GPU_TOKEN,
    protectReads: e.EDGEHEAD_GPU_PROTECT_READS,
    limits: {
      maxBodyBytes: e.EDGEHEAD_GPU_MAX_BODY_BYTES,
      maxFiles: e.EDGEHEAD_GPU_MAX_FILES,
      maxImageBytes: e.EDGEHEAD_GPU_MAX_IMAGE_BYTES,
      maxPixels: e.EDGEHEAD_GPU_MAX_PIXELS,
      maxArchiveBytes: e.EDGEHEAD_GPU_MAX_ARCHIVE_BYTES,
      maxArchiveEntries: e.EDGEHEAD_GPU_MAX_ARCHIVE_ENTRIES,
    },
    importRoot: e.EDGEHEAD_IMPORT_ROOT === undefined ? undefined : path.resolve(e.EDGEHEAD_IMPORT_ROOT),
    defaultBackbone: e.EDGEHEAD_DEFAULT_BACKBONE,
    userBackbones: e.EDGEHEAD_BACKBONES,
    weights: weightsFromEnv(source),
    weightsCache: e.EDGEHEAD_WEIGHTS_CACHE,
    sharedDir: e.EDGEHEAD_SHARED_DIR === undefined ? undefined : path.resolve(e.EDGEHEAD_SHARED_DIR),
    poolSize: e.EDGEHEAD_GPU_POOL_SIZE,
    extraction: {
      batchSize: e.EDGEHEAD_EXTRACT_BATCH,
      expireSeconds: e.EDGEHEAD_EXTRACT_EXPIRE_SECONDS,
      retryLimit: e.EDGEHEAD_EXTRACT_RETRY_LIMIT,
      retryDelay: e.EDGEHEAD_EXTRACT_RETRY_DELAY,
      concurrency: e.EDGEHEAD_EXTRACT_CONCURRENCY,
      pollSeconds: e.EDGEHEAD_QUEUE_POLL_SECONDS,
    },
    maintenanceSeconds: e.EDGEHEAD_QUEUE_MAINTENANCE_SECONDS,
    edge:
      e.EDGEHEAD_EDGE_URL && e.EDGEHEAD_EDGE_ADMIN_TOKEN
        ? { url: e.EDGEHEAD_EDGE_URL, token: e.EDGEHEAD_EDGE_ADMIN_TOKEN }
        : null,
    training: {
      expireSeconds: e.EDGEHEAD_TRAIN_EXPIRE_SECONDS,
      retryLimit: e.EDGEHEAD_TRAIN_RETRY_LIMIT,
      retryDelaySeconds: e.EDGEHEAD_TRAIN_RETRY_DELAY,
    },
    fineTune: { maxActivationBytes: e.EDGEHEAD_FINETUNE_MAX_BYTES },
  };
}
