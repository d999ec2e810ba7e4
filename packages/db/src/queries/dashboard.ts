import { and, asc, count, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import { datasets, deployments, epochs, evaluations, featureSets, models, runs } from '../schema/index.ts';
import { featureSetLabelColumns, labelOf } from './feature-sets.ts';
import { epochColumns, evaluationColumns, runDatasetColumns, withFeatureSetLabel } from './runs.ts';

/**
 * Filter choices of the runs table (contracts' `runFacets`): every dataset (with its run count), feature set
 * and status in use.
 */
export async function listRunFacets(db: Db) {
  const [byDataset, byFeatureSet, byStatus] = await Promise.all([
    db
      .select({ id: datasets.id, name: datasets.name, task: datasets.task, runs: count(runs.id) })
      .from(datasets)
      .leftJoin(runs, eq(runs.datasetId, datasets.id))
      .groupBy(datasets.id)
      .orderBy(asc(datasets.name)),
    db
      .select({ id: featureSets.id, label: featureSetLabelColumns, runs: count() })
      .from(runs)
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .groupBy(featureSets.id),
    db
      .select({ status: runs.status, runs: count() })
      .from(runs)
      .groupBy(runs.status)
      .orderBy(asc(runs.status)),
  ]);
  return {
    datasets: byDataset,
    featureSets: byFeatureSet
      .map((f) => ({ id: f.id, featureSet: labelOf(f.label), runs: f.runs }))
      .sort((a, b) => (a.featureSet < b.featureSet ? -1 : a.featureSet > b.featureSet ? 1 : 0)),
    statuses: byStatus,
    total: byStatus.reduce((sum, s) => sum + s.runs, 0),
  };
}

/**
 * Several runs with their curves and metrics (contracts' `comparedRun`) in three queries, in the order of
 * `ids`; throws NotFoundError naming the first id that does not exist.
 */
export async function getRunsForCompare(db: Db, ids: readonly string[]) {
  const list = [...ids];
  if (list.length === 0) return [];
  const [found, runEpochs, runEvaluations] = await Promise.all([
    db
      .select({ run: runs, dataset: runDatasetColumns, featureSet: featureSetLabelColumns })
      .from(runs)
      .innerJoin(datasets, eq(datasets.id, runs.datasetId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .where(inArray(runs.id, list)),
    db
      .select({ runId: epochs.runId, ...epochColumns })
      .from(epochs)
      .where(inArray(epochs.runId, list))
      .orderBy(asc(epochs.runId), asc(epochs.epoch)),
    db
      .select({ runId: evaluations.runId, ...evaluationColumns })
      .from(evaluations)
      .where(inArray(evaluations.runId, list))
      .orderBy(asc(evaluations.split)),
  ]);
  const of = <T extends { runId: string }>(rows: T[], id: string) =>
    rows.filter((r) => r.runId === id).map(({ runId: _, ...row }) => row);
  const byId = new Map(found.map((row) => [row.run.id, row]));
  return list.map((id) => {
    const row = byId.get(id);
    if (!row) throw new NotFoundError('run', id);
    return {
      run: { ...row.run, featureSet: labelOf(row.featureSet) },
      dataset: row.dataset,
      epochs: of(runEpochs, id),
      evaluations: of(runEvaluations, id),
    };
  });
}

/**
 * The Models page (contracts' `modelOverview`): versions per alias with the active one, and the registered
 * models (newest first).
 */
export async function getModelOverview(db: Db, options: { limit?: number } = {}) {
  const [deployed, registered] = await Promise.all([
    db
      .select({
        alias: deployments.alias,
        edgeVersion: deployments.edgeVersion,
        active: deployments.active,
        activatedBy: deployments.activatedBy,
        deployedAt: deployments.createdAt,
        model: {
          id: models.id,
          name: models.name,
          version: models.version,
          classes: models.classes,
          threshold: models.threshold,
        },
        run: {
          id: runs.id,
          preset: runs.preset,
          testAccuracy: evaluations.accuracy,
        },
        featureSet: featureSetLabelColumns,
      })
      .from(deployments)
      .innerJoin(models, eq(models.id, deployments.modelId))
      .innerJoin(runs, eq(runs.id, models.runId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .leftJoin(evaluations, and(eq(evaluations.runId, runs.id), eq(evaluations.split, 'test')))
      .orderBy(asc(deployments.alias), desc(deployments.createdAt), desc(deployments.edgeVersion)),
    db
      .select({
        id: models.id,
        name: models.name,
        version: models.version,
        runId: models.runId,
        featureSet: featureSetLabelColumns,
        testAccuracy: evaluations.accuracy,
        createdAt: models.createdAt,
      })
      .from(models)
      .innerJoin(runs, eq(runs.id, models.runId))
      .innerJoin(featureSets, eq(featureSets.id, runs.featureSetId))
      .leftJoin(evaluations, and(eq(evaluations.runId, runs.id), eq(evaluations.split, 'test')))
      .orderBy(desc(models.createdAt), desc(models.version))
      .limit(options.limit ?? 200),
  ]);
  type AliasVersion = Omit<(typeof deployed)[number], 'alias' | 'featureSet'> & {
    run: (typeof deployed)[number]['run'] & { featureSet: string };
  };
  const aliases = new Map<string, { alias: string; active: string | null; versions: AliasVersion[] }>();
  const aliasesOfModel = new Map<string, string[]>();
  for (const { alias, featureSet, ...row } of deployed) {
    const version: AliasVersion = { ...row, run: { ...row.run, featureSet: labelOf(featureSet) } };
    let entry = aliases.get(alias);
    if (!entry) {
      entry = { alias, active: null, versions: [] };
      aliases.set(alias, entry);
    }
    entry.versions.push(version);
    if (version.active) entry.active = version.edgeVersion;
    aliasesOfModel.set(version.model.id, [...(aliasesOfModel.get(version.model.id) ?? []), alias]);
  }
  return {
    aliases: [...aliases.values()],
    models: registered.map((m) => ({
      ...withFeatureSetLabel(m),
      aliases: [...new Set(aliasesOfModel.get(m.id) ?? [])],
    })),
  };
}
