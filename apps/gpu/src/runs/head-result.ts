import type { FeatureSetRecord, HeadConfig, Split } from '@edgehead/contracts';
import { type Db, registerModel, saveEvaluation } from '@edgehead/db';
import {
  chooseThreshold,
  type Evaluation,
  type FeatureSplit,
  predictProbabilities,
  scorePredictions,
  type TrainResult,
} from '@edgehead/training';
import { buildArtifact } from '../models/artifact.ts';

/** A trained head and the feature vectors (of `featureSet`) it is judged on. */
export interface TrainedHead {
  runId: string;
  model: TrainResult['model'];
  featureSet: FeatureSetRecord;
  featureShape: number[];
  classes: string[];
  /** How a binary head's threshold is chosen on validation data. */
  threshold: HeadConfig['threshold'];
  /** Each split's vectors; an empty split (no labels) is skipped. */
  splits: Record<Split, FeatureSplit>;
  modelName: string;
}

/**
 * The end of every run that trains a head: threshold chosen on validation (train without it), evaluations
 * on validation and test saved, the artifact (manifest naming `featureSet`) built and registered as the
 * next version of `modelName`. `check` says whether the run is still current; false at any step stops
 * there (returns false, nothing more written). `lap` marks the end of the `evaluate` and `save` stages.
 */
export async function evaluateAndRegister(
  db: Db,
  head: TrainedHead,
  check: () => Promise<boolean>,
  lap: (stage: string) => void,
): Promise<boolean> {
  const { model, classes, splits } = head;
  const binary = classes.length === 2;
  const hasValidation = splits.validation.labels.length > 0;
  const evalSplit = hasValidation ? splits.validation : splits.train;
  const evalOut = await predictProbabilities(model, evalSplit.features, evalSplit.labels.length);
  const threshold = binary ? chooseThreshold(evalOut, evalSplit.labels, head.threshold) : 0.5;
  const evaluations: [Split, Evaluation][] = [];
  if (hasValidation) {
    evaluations.push(['validation', scorePredictions(evalOut, splits.validation.labels, classes, threshold)]);
  }
  if (splits.test.labels.length > 0) {
    const testOut = await predictProbabilities(model, splits.test.features, splits.test.labels.length);
    evaluations.push(['test', scorePredictions(testOut, splits.test.labels, classes, threshold)]);
  }
  if (!(await check())) return false;
  for (const [split, ev] of evaluations) await saveEvaluation(db, toRow(head.runId, split, ev));
  lap('evaluate');

  const metrics: Record<string, number> = {};
  for (const [split, ev] of evaluations) {
    metrics[`${split}_accuracy`] = ev.accuracy;
    if (ev.rocAuc !== null) metrics[`${split}_roc_auc`] = ev.rocAuc;
  }
  const artifact = await buildArtifact(model, {
    featureSet: head.featureSet,
    featureShape: head.featureShape,
    classes,
    threshold: binary ? threshold : null,
    metrics,
    runId: head.runId,
  });
  if (!(await check())) return false;
  await registerModel(db, {
    runId: head.runId,
    name: head.modelName,
    manifest: artifact.manifest,
    artifactSha256: artifact.artifactSha256,
    files: artifact.files,
  });
  lap('save');
  return true;
}

/** An evaluation as the `evaluations` table stores it (ROC's first point at threshold +inf kept as 1). */
function toRow(runId: string, split: Split, ev: Evaluation) {
  return {
    runId,
    split,
    n: ev.n,
    accuracy: ev.accuracy,
    precision: ev.precision,
    recall: ev.recall,
    f1: ev.f1,
    rocAuc: ev.rocAuc,
    threshold: ev.threshold,
    confusion: ev.confusion,
    perClass: ev.perClass,
    // JSON has no Infinity: the (0, 0) point's threshold is clamped to 1, above every sigmoid output but 1.0
    roc: ev.roc?.map((p) => ({ fpr: p.fpr, tpr: p.tpr, threshold: Math.min(p.threshold, 1) })) ?? null,
  };
}
