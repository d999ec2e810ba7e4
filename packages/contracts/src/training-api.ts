import { z } from 'zod';
import { headManifest } from './manifest.ts';
import { modelAlias, modelVersionName } from './models.ts';
import { epochMetrics, headConfigRequest, runStatus } from './runs.ts';

/**
 * `POST /v1/runs`: train a head on a dataset's stored features. `featureSet` is a feature-set id, or a
 * shorthand `<backbone>[+avg][@preprocessing]` matching exactly one feature set with vectors in the dataset;
 * `backbone` alone means the shorthand (no pooling, the backbone's default preprocessing).
 * Every other field is the head config: a preset plus overrides (see `headConfigRequest`).
 * @example { dataset: 'cats-vs-dogs', backbone: 'mobilenet_v1_0.75', preset: 'keras-vgg16-feature-extraction', epochs: 10 }
 */
export const createRunRequest = z
  .looseObject({
    dataset: z.string().min(1).max(200),
    featureSet: z.string().min(1).max(100).optional(),
    backbone: z.string().min(1).max(64).optional(),
    /** Model name the trained head is registered under (default: the dataset's name). */
    modelName: z.string().min(1).max(100).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.featureSet === undefined && value.backbone === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected featureSet or backbone', path: ['featureSet'] });
    }
  })
  .transform((value, ctx) => {
    const { dataset, featureSet, backbone, modelName, ...rest } = value;
    const config = headConfigRequest.safeParse(rest);
    if (!config.success) {
      for (const issue of config.error.issues) {
        // an unknown key is named by its own path, so `details.field` points at it
        const keys = 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
        const path = issue.path.length === 0 && keys[0] !== undefined ? [keys[0]] : issue.path;
        ctx.addIssue({ code: 'custom', message: issue.message, path, input: rest });
      }
      return z.NEVER;
    }
    return {
      dataset,
      featureSet: featureSet ?? (backbone as string),
      backbone,
      modelName,
      preset: (rest as { preset?: string }).preset ?? 'edgehead-default',
      config: config.data,
    };
  });
export type CreateRunRequest = z.input<typeof createRunRequest>;

/** `GET /v1/runs` query: filters, sort and pagination. */
export const listRunsQuery = z.object({
  dataset: z.string().min(1).optional(),
  /** A feature-set id. */
  featureSet: z.uuid().optional(),
  status: runStatus.optional(),
  sort: z
    .enum(['created_at', 'best_val_accuracy', 'test_accuracy', 'duration', 'status'])
    .default('created_at'),
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListRunsQuery = z.input<typeof listRunsQuery>;

/** A run as `GET /v1/runs` lists it. */
export const runSummary = z.object({
  id: z.string(),
  datasetId: z.string(),
  datasetName: z.string(),
  featureSetId: z.string(),
  /** `featureSetLabel` of the run's feature set, e.g. `vgg16@rescale#3f2a9c1b`. */
  featureSet: z.string(),
  preset: z.string().nullable(),
  config: z.record(z.string(), z.unknown()),
  status: runStatus,
  error: z.string().nullable(),
  backend: z.string().nullable(),
  epochsTotal: z.number().int(),
  epochsDone: z.number().int(),
  bestValAccuracy: z.number().nullable(),
  testAccuracy: z.number().nullable(),
  durationMs: z.number().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type RunSummary = z.infer<typeof runSummary>;

/** `GET /v1/runs` answer. */
export const runList = z.object({
  items: z.array(runSummary),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});
export type RunList = z.infer<typeof runList>;

/** Metrics of a finished run on one split (`threshold` on P(classes[1]) for binary heads). */
export const runEvaluation = z.object({
  split: z.enum(['train', 'validation', 'test']),
  n: z.number().int(),
  accuracy: z.number(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  rocAuc: z.number().nullable(),
  threshold: z.number().nullable(),
  confusion: z.array(z.array(z.number().int())),
  perClass: z.array(
    z.object({
      label: z.string(),
      precision: z.number(),
      recall: z.number(),
      f1: z.number(),
      support: z.number().int(),
    }),
  ),
  roc: z.array(z.object({ fpr: z.number(), tpr: z.number(), threshold: z.number() })).nullable(),
});
export type RunEvaluation = z.infer<typeof runEvaluation>;

/** `GET /v1/runs/:id`: the run, its epochs as they were written, evaluations and registered model. */
export const runDetailResponse = z.object({
  run: runSummary
    .omit({
      datasetName: true,
      epochsDone: true,
      bestValAccuracy: true,
      testAccuracy: true,
      durationMs: true,
    })
    .extend({
      attempts: z.number().int(),
      timings: z.record(z.string(), z.number()),
    }),
  dataset: z.object({ name: z.string(), classes: z.array(z.string()), task: z.string() }).nullable(),
  epochs: z.array(epochMetrics),
  evaluations: z.array(runEvaluation),
  model: z.object({ id: z.string(), name: z.string(), version: z.number().int() }).nullable(),
});
export type RunDetailResponse = z.infer<typeof runDetailResponse>;

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

/** `GET /v1/models` query. */
export const listModelsQuery = z.object({
  name: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

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

/** `POST /v1/models/:id/publish` answer. */
export const publishModelResponse = z.object({
  modelId: z.string(),
  alias: z.string(),
  version: z.string(),
  active: z.boolean(),
  deployment: deploymentRecord,
});
export type PublishModelResponse = z.infer<typeof publishModelResponse>;

/** `POST /v1/deployments/:alias/activate` (pass-through to the edge, mirrored in Postgres). */
export const activateDeploymentRequest = z.object({ version: modelVersionName });
