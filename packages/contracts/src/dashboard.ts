import { z } from 'zod';
import { runStatus } from './runs.ts';

/** Validation accuracy the Keras VGG16 feature-extraction recipe publishes (the dashboard's reference line). */
export const RECIPE_VAL_ACCURACY_ANCHOR = 0.9;

/** Run states as stored; `queued` and `running` are the live ones the dashboard polls. */

/** Columns the runs table sorts by, server-side. */
export const runSortKey = z.enum(['created_at', 'best_val_accuracy', 'test_accuracy', 'duration', 'status']);
export type RunSortKeyName = z.infer<typeof runSortKey>;

/** Largest page of the runs list. */
export const RUNS_MAX_PAGE_SIZE = 200;

const uuid = z.uuid({ error: 'expected a UUID' });

// query strings carry text only: numbers are parsed here so a bad one names its parameter
const positiveInt = (max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,9}$/, 'expected a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max));

/**
 * Query of `GET /api/runs`: filters, sort and 1-based page.
 * @example runsQuery.parse({ status: 'running', sort: 'best_val_accuracy', page: '2' })
 */
export const runsQuery = z.strictObject({
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

/** Path params of `GET /api/runs/:id`. */
export const runParams = z.object({ id: uuid });

/** Limits of a comparison. */
export const COMPARE_MIN_RUNS = 2;
export const COMPARE_MAX_RUNS = 10;

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
