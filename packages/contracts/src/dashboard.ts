import { z } from 'zod';
import { task } from './datasets.ts';
import { runStatus } from './runs.ts';
import { comparedRun } from './training-api.ts';

/** Validation accuracy the Keras VGG16 feature-extraction recipe publishes (the dashboard's reference line). */
export const RECIPE_VAL_ACCURACY_ANCHOR = 0.9;

/** Limits of a comparison. */
export const COMPARE_MIN_RUNS = 2;
export const COMPARE_MAX_RUNS = 10;

const uuid = z.uuid({ error: 'expected a UUID' });

/** Query of `GET /api/compare?ids=a,b,...`: 2-10 distinct run ids, comma-separated. */
export const compareQuery = z.strictObject({
  ids: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(uuid)
        .min(COMPARE_MIN_RUNS, `expected at least ${COMPARE_MIN_RUNS} run ids`)
        .max(COMPARE_MAX_RUNS, `expected at most ${COMPARE_MAX_RUNS} run ids`)
        .refine((ids) => new Set(ids).size === ids.length, 'expected distinct run ids'),
    ),
});
export type CompareQuery = z.infer<typeof compareQuery>;

/** `GET /api/compare` answer: the runs in the order asked, each with its curves and evaluations. */
export const comparison = z.object({ runs: z.array(comparedRun) });
export type Comparison = z.infer<typeof comparison>;

/** `GET /api/facets`: what the runs table can be filtered by, with how many runs each choice holds. */
export const runFacets = z.object({
  datasets: z.array(z.object({ id: z.string(), name: z.string(), task, runs: z.number().int() })),
  /** `featureSet` is the label; filter runs by `id`. */
  featureSets: z.array(z.object({ id: z.string(), featureSet: z.string(), runs: z.number().int() })),
  statuses: z.array(z.object({ status: runStatus, runs: z.number().int() })),
  total: z.number().int(),
});
export type RunFacets = z.infer<typeof runFacets>;

/** One version of an alias at the edge, with the model and run behind it. */
export const aliasVersion = z.object({
  edgeVersion: z.string(),
  active: z.boolean(),
  activatedBy: z.string().nullable(),
  deployedAt: z.string(),
  model: z.object({
    id: z.string(),
    name: z.string(),
    version: z.number().int(),
    classes: z.array(z.string()),
    threshold: z.number().nullable(),
  }),
  run: z.object({
    id: z.string(),
    featureSet: z.string(),
    preset: z.string().nullable(),
    testAccuracy: z.number().nullable(),
  }),
});
export type AliasVersion = z.infer<typeof aliasVersion>;

/** `GET /api/models`: deployments grouped by alias (newest version first), and every registered model. */
export const modelOverview = z.object({
  aliases: z.array(
    z.object({ alias: z.string(), active: z.string().nullable(), versions: z.array(aliasVersion) }),
  ),
  models: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      version: z.number().int(),
      runId: z.string(),
      featureSet: z.string(),
      testAccuracy: z.number().nullable(),
      createdAt: z.string(),
      aliases: z.array(z.string()),
    }),
  ),
});
export type ModelOverview = z.infer<typeof modelOverview>;
