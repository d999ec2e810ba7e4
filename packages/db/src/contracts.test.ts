import type {
  DatasetSummary,
  DeploymentRecord,
  EpochMetrics,
  RegisteredModel,
  RunEvaluation,
  RunRecord,
} from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import type { Dataset, Deployment, EpochRow, Evaluation, Model, Run } from './index.ts';

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** A row as JSON carries it: timestamps as ISO strings. */
type Json<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

// Checked by `tsc` (npm run typecheck): the contracts' records of a table are the table as drizzle infers
// it (a column added, dropped or retyped on one side makes a constant false), so the services can answer
// with the rows as they are.
describe('the contracts of the tables', () => {
  it('are the rows drizzle selects, as JSON', () => {
    const checks = {
      run: true satisfies Same<Json<Run>, RunRecord>,
      deployment: true satisfies Same<Json<Deployment>, DeploymentRecord>,
      model: true satisfies Same<Json<Model>, RegisteredModel>,
      dataset: true satisfies Same<Json<Dataset>, Omit<DatasetSummary, 'counts'>>,
      epoch: true satisfies Same<Omit<EpochRow, 'runId' | 'createdAt'>, EpochMetrics>,
      evaluation: true satisfies Same<Omit<Evaluation, 'id' | 'runId' | 'createdAt'>, RunEvaluation>,
    };
    expect(Object.values(checks).every(Boolean)).toBe(true);
  });
});
