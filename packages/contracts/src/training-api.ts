import { z } from 'zod';
import { split, task } from './datasets.ts';
import { headManifest } from './manifest.ts';
import { modelAlias, modelVersionName } from './models.ts';
import {
  classMetrics,
  epochMetrics,
  headConfigOverrides,
  headPresetName,
  resolveHeadConfig,
  rocPoint,
  runKind,
  runStatus,
} from './runs.ts';

/**
 * `POST /v1/runs`: train a head on a dataset's stored features. `featureSet` is a feature-set id, or a
 * shorthand `<backbone>[+avg][@preprocessing]` matching exactly one feature set with vectors in the dataset;
 * `backbone` alone means the shorthand (no pooling, the backbone's default preprocessing).
 * Every other field is the head config: a preset plus overrides (see `headConfigRequest`).
 * @example { dataset: 'cats-vs-dogs', backbone: 'mobilenet_v1_0.75', preset: 'keras-vgg16-feature-extraction', epochs: 10 }
 */
export const headRunRequest = z
  .strictObject({
    kind: z.literal('head').optional(),
    dataset: z.string().min(1).max(200),
    featureSet: z.string().min(1).max(100).optional(),
    backbone: z.string().min(1).max(64).optional(),
    /** Model name the trained head is registered under (default: the dataset's name). */
    modelName: z.string().min(1).max(100).optional(),
    preset: headPresetName.default('edgehead-default'),
    ...headConfigOverrides,
  })
  .superRefine((value, ctx) => {
    if (value.featureSet === undefined && value.backbone === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected featureSet or backbone', path: ['featureSet'] });
    }
  })
  .transform(({ kind: _kind, dataset, featureSet, backbone, modelName, preset, ...overrides }) => ({
    kind: 'head' as const,
    dataset,
    featureSet: featureSet ?? (backbone as string),
    backbone,
    modelName,
    preset,
    config: resolveHeadConfig(preset, overrides),
  }));

export type HeadRunRequest = z.input<typeof headRunRequest>;

/**
 * `POST /v1/runs` with `kind: 'finetune'`: fine-tune the top of the backbone of a finished head run together
 * with its trained head (the recipe's order). `unfreeze` lists layer names or presets (`block5` for VGG16,
 * `last-block` for the MobileNets); the service checks them against the backbone (400 naming `unfreeze[i]`).
 * Omitted optimiser fields come from the training package's FINE_TUNE_RECIPE (RMSprop 1e-5, 100 epochs,
 * batches of 20). The dataset and the base feature set are those of `fromRun`.
 * @example { kind: 'finetune', fromRun: '…', unfreeze: ['block5'], learningRate: 1e-5, epochs: 20 }
 */
export const fineTuneRunRequest = z
  .strictObject({
    kind: z.literal('finetune'),
    /** A succeeded run whose head starts the fine-tuning; its dataset and feature set are used. */
    fromRun: z.uuid({ error: 'expected the id (UUID) of a finished run' }),
    unfreeze: z.array(z.string().min(1).max(128)).min(1).max(512),
    /** Model name the fine-tuned head is registered under (default: the dataset's name). */
    modelName: z.string().min(1).max(100).optional(),
    optimizer: headConfigOverrides.optimizer,
    learningRate: headConfigOverrides.learningRate,
    epochs: headConfigOverrides.epochs,
    batchSize: headConfigOverrides.batchSize,
    seed: headConfigOverrides.seed,
  })
  .transform(({ fromRun, unfreeze, modelName, ...overrides }) => ({
    kind: 'finetune' as const,
    fromRun,
    unfreeze,
    modelName,
    overrides: Object.fromEntries(
      Object.entries(overrides).filter(([k, v]) => k !== 'kind' && v !== undefined),
    ) as {
      optimizer?: 'rmsprop' | 'adam' | 'sgd';
      learningRate?: number;
      epochs?: number;
      batchSize?: number;
      seed?: number;
    },
  }));
export type FineTuneRunRequest = z.input<typeof fineTuneRunRequest>;

/** `POST /v1/runs`: a head run (`kind` omitted or `head`) or a fine-tuning run (`kind: 'finetune'`). */
export const createRunRequest = z.discriminatedUnion('kind', [headRunRequest, fineTuneRunRequest]);
export type CreateRunRequest = z.input<typeof createRunRequest>;

const uuid = z.uuid({ error: 'expected a UUID' });

/** Path params of the routes of one run or model (`/v1/runs/:id`, `/api/runs/:id`, `/v1/models/:id`). */
export const idParams = z.object({ id: uuid });

/** Columns a runs list sorts by, server-side. */
export const runSortKey = z.enum(['created_at', 'best_val_accuracy', 'test_accuracy', 'duration', 'status']);
export type RunSortKey = z.infer<typeof runSortKey>;

/** Largest page of a runs list. */
export const RUNS_MAX_PAGE_SIZE = 500;

// query strings carry text only: numbers are parsed here so a bad one names its parameter
const positiveInt = (max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,9}$/, 'expected a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max));

/**
 * Query of every runs list (`GET /v1/runs` of the gpu service, `GET /api/runs` of the dashboard): filters,
 * sort and a 1-based page.
 * @example runsQuery.parse({ status: 'running', sort: 'best_val_accuracy', page: '2' })
 */
export const runsQuery = z.strictObject({
  /** A dataset id. */
  dataset: uuid.optional(),
  /** A feature-set id. */
  featureSet: uuid.optional(),
  status: runStatus.optional(),
  sort: runSortKey.default('created_at'),
  order: z.enum(['asc', 'desc']).default('desc'),
  page: positiveInt(1_000_000).default(1),
  pageSize: positiveInt(RUNS_MAX_PAGE_SIZE).default(25),
});
export type RunsQuery = z.infer<typeof runsQuery>;
export type RunsQueryInput = z.input<typeof runsQuery>;

/** A run as stored: its config, state, attempts and stage timings. */
export const runRecord = z.object({
  id: z.string(),
  kind: runKind,
  datasetId: z.string(),
  /** The feature set the run reads (for a fine-tuning run: the base one whose backbone it tunes). */
  featureSetId: z.string(),
  /** A fine-tuning run's starting head run. */
  fromRunId: z.string().nullable(),
  /** The feature set a fine-tuning run produced (its tuned weights), once it has. */
  outputFeatureSetId: z.string().nullable(),
  preset: z.string().nullable(),
  config: z.record(z.string(), z.unknown()),
  status: runStatus,
  error: z.string().nullable(),
  /** tfjs backend the run trained on. */
  backend: z.string().nullable(),
  epochsTotal: z.number().int(),
  attempts: z.number().int(),
  /** Stage durations in ms (load, train, evaluate, save...). */
  timings: z.record(z.string(), z.number()),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type RunRecord = z.infer<typeof runRecord>;

/** A run as the runs lists show it: progress, best metrics and duration. */
export const runSummary = runRecord.omit({ attempts: true, timings: true }).extend({
  datasetName: z.string(),
  /** `featureSetLabel` of the run's feature set, e.g. `vgg16@rescale#3f2a9c1b`. */
  featureSet: z.string(),
  epochsDone: z.number().int(),
  bestValAccuracy: z.number().nullable(),
  testAccuracy: z.number().nullable(),
  durationMs: z.number().nullable(),
});
export type RunSummary = z.infer<typeof runSummary>;

/** Answer of every runs list: one page and where it is. */
export const runList = z.object({
  items: z.array(runSummary),
  total: z.number().int(),
  page: z.number().int(),
  pageSize: z.number().int(),
  pages: z.number().int(),
});
export type RunList = z.infer<typeof runList>;

/** Metrics of a finished run on one split (`threshold` on P(classes[1]) for binary heads). */
export const runEvaluation = z.object({
  split,
  n: z.number().int(),
  accuracy: z.number(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  rocAuc: z.number().nullable(),
  threshold: z.number().nullable(),
  /** confusion[actual][predicted] counts. */
  confusion: z.array(z.array(z.number().int())),
  perClass: z.array(classMetrics),
  roc: z.array(rocPoint).nullable(),
});
export type RunEvaluation = z.infer<typeof runEvaluation>;

/** A run with its feature set's label, its dataset, every epoch and every evaluation. */
const runWithMetrics = z.object({
  run: runRecord.extend({ featureSet: z.string() }),
  dataset: z.object({ name: z.string(), classes: z.array(z.string()), task }),
  epochs: z.array(epochMetrics),
  evaluations: z.array(runEvaluation),
});

/** `GET /v1/runs/:id` (and the dashboard's `/api/runs/:id`): the run with its epochs, evaluations and model. */
export const runDetailResponse = runWithMetrics.extend({
  model: z.object({ id: z.string(), name: z.string(), version: z.number().int() }).nullable(),
});
export type RunDetailResponse = z.infer<typeof runDetailResponse>;

/** One run of the dashboard's comparison. */
export const comparedRun = runWithMetrics;
export type ComparedRun = z.infer<typeof comparedRun>;

/** A registered model version. */
export const registeredModel = z.object({
  id: z.string(),
  runId: z.string(),
  name: z.string(),
  version: z.number().int(),
  artifactSha256: z.string(),
  classes: z.array(z.string()),
  threshold: z.number().nullable(),
  manifest: headManifest,
  createdAt: z.string(),
});
export type RegisteredModel = z.infer<typeof registeredModel>;

/** `GET /v1/models` query: the newest `limit` versions, of every model or of one name. */
export const listModelsQuery = z.object({
  name: z.string().min(1).optional(),
  limit: positiveInt(500).default(100),
});

/** `GET /v1/models` answer, newest first. */
export const registeredModelList = z.object({ items: z.array(registeredModel) });
export type RegisteredModelList = z.infer<typeof registeredModelList>;

/**
 * `GET /v1/models/:id/artifact`: the three artifact files base64-encoded in one JSON document.
 * `?file=model.json|weights.bin|manifest.json` returns that one file's raw bytes instead.
 */
export const artifactFileName = z.enum(['model.json', 'weights.bin', 'manifest.json']);
export const artifactQuery = z.object({ file: artifactFileName.optional() });
export const modelArtifactResponse = z.object({
  modelId: z.string(),
  name: z.string(),
  version: z.number().int(),
  artifactSha256: z.string(),
  files: z.object({
    'model.json': z.string(),
    'weights.bin': z.string(),
    'manifest.json': z.string(),
  }),
});
export type ModelArtifactResponse = z.infer<typeof modelArtifactResponse>;

/** `POST /v1/models/:id/publish`: upload the artifact to the edge as `alias`/`version` (default `v<version>`). */
export const publishModelRequest = z.object({
  alias: modelAlias,
  version: modelVersionName.optional(),
  activate: z.boolean().default(false),
});
export type PublishModelRequest = z.input<typeof publishModelRequest>;

/** A deployment as the gpu service records it. */
export const deploymentRecord = z.object({
  id: z.string(),
  modelId: z.string(),
  alias: z.string(),
  edgeVersion: z.string(),
  active: z.boolean(),
  activatedBy: z.string().nullable(),
  createdAt: z.string(),
});
export type DeploymentRecord = z.infer<typeof deploymentRecord>;

/** `GET /v1/models/deployments` query: the deployments of one alias, or of all. */
export const listDeploymentsQuery = z.object({ alias: modelAlias.optional() });

/** `GET /v1/models/deployments` answer. */
export const deploymentList = z.object({ items: z.array(deploymentRecord) });
export type DeploymentList = z.infer<typeof deploymentList>;

/** `POST /v1/models/:id/publish` answer. */
export const publishModelResponse = z.object({
  modelId: z.string(),
  alias: z.string(),
  version: z.string(),
  active: z.boolean(),
  deployment: deploymentRecord,
});
export type PublishModelResponse = z.infer<typeof publishModelResponse>;
