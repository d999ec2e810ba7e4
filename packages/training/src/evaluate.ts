import type { ClassMetrics, RocPoint } from '@edgehead/contracts';
import * as tf from '@tensorflow/tfjs';
import { TrainingError } from './errors.ts';

/** Metrics of a head on one labelled split. */
export interface Evaluation {
  task: 'binary' | 'multiclass';
  n: number;
  accuracy: number;
  /** Binary: of the positive class classes[1]; multiclass: macro averages over classes. */
  precision: number;
  recall: number;
  f1: number;
  /** Binary only (null for multiclass). */
  rocAuc: number | null;
  /** Binary only: from (0, 0) to (1, 1), one point per distinct score. */
  roc: RocPoint[] | null;
  /** confusion[actual][predicted] counts. */
  confusion: number[][];
  perClass: ClassMetrics[];
  /** Binary: the threshold used on P(classes[1]); null for multiclass. */
  threshold: number | null;
}

/**
 * Runs the head on `features` (row-major [n, ...inputShape]) and scores it against integer `labels`.
 * Binary heads predict classes[1] when P(classes[1]) >= threshold (default 0.5).
 * @example const ev = await evaluateHead(model, test.features, test.labels, ['cat', 'dog'], 0.42);
 */
export async function evaluateHead(
  model: tf.LayersModel,
  features: Float32Array,
  labels: ArrayLike<number>,
  classes: readonly string[],
  threshold = 0.5,
): Promise<Evaluation> {
  const probabilities = await predictProbabilities(model, features, labels.length);
  return scorePredictions(probabilities, labels, classes, threshold);
}

/** Model outputs as a flat row-major array [n, units] (units 1 for a sigmoid head). */
export async function predictProbabilities(
  model: tf.LayersModel,
  features: Float32Array,
  n: number,
): Promise<Float32Array> {
  const inputShape = (model.inputs[0]?.shape ?? []).slice(1) as number[];
  const out = tf.tidy(
    () => model.predict(tf.tensor(features, [n, ...inputShape]), { batchSize: 500 }) as tf.Tensor,
  );
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

/** Scores precomputed outputs: [n] P(classes[1]) for binary, or [n, classes] probabilities. */
export function scorePredictions(
  outputs: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: readonly string[],
  threshold = 0.5,
): Evaluation {
  const k = classes.length;
  const n = labels.length;
  const binary = k === 2;
  const width = binary ? 1 : k;
  if (k < 2) throw new TrainingError('invalid_input', `classes: ${k} names, expected at least 2`);
  if (outputs.length !== n * width) {
    throw new TrainingError('invalid_input', `outputs: ${outputs.length} values, expected ${n} x ${width}`);
  }
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < n; i++) {
    const actual = labels[i] as number;
    if (!Number.isInteger(actual) || actual < 0 || actual >= k) {
      throw new TrainingError('invalid_input', `labels[${i}]: ${actual}, expected an integer in [0, ${k})`);
    }
    const predicted = binary ? ((outputs[i] as number) >= threshold ? 1 : 0) : argMax(outputs, i * k, k);
    const row = confusion[actual] as number[];
    row[predicted] = (row[predicted] as number) + 1;
  }
  const perClass = classes.map((name, c) => classMetrics(confusion, c, name));
  const correct = confusion.reduce((sum, row, c) => sum + (row[c] as number), 0);
  const mean = (key: 'precision' | 'recall' | 'f1') => perClass.reduce((s, m) => s + m[key], 0) / k;
  const positive = perClass[1] as ClassMetrics;
  const roc = binary ? rocCurve(outputs, labels) : null;
  return {
    task: binary ? 'binary' : 'multiclass',
    n,
    accuracy: n === 0 ? 0 : correct / n,
    precision: binary ? positive.precision : mean('precision'),
    recall: binary ? positive.recall : mean('recall'),
    f1: binary ? positive.f1 : mean('f1'),
    rocAuc: roc ? aucOf(roc) : null,
    roc,
    confusion,
    perClass,
    threshold: binary ? threshold : null,
  };
}

/**
 * ROC curve of scores for the positive label 1: one point per distinct score, from (0, 0) to (1, 1).
 * Ties move FPR and TPR together, so the trapezoid area equals the Mann-Whitney AUC.
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocPoint[] {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[b] as number) - (scores[a] as number),
  );
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) positives++;
  const negatives = n - positives;
  const points: RocPoint[] = [{ threshold: Number.POSITIVE_INFINITY, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r] as number;
    if (labels[i] === 1) tp++;
    else fp++;
    const next = order[r + 1];
    if (next === undefined || scores[next] !== scores[i]) {
      points.push({
        threshold: scores[i] as number,
        fpr: negatives === 0 ? 0 : fp / negatives,
        tpr: positives === 0 ? 0 : tp / positives,
      });
    }
  }
  return points;
}

/** Area under a ROC curve (trapezoids). */
export function aucOf(roc: readonly RocPoint[]): number {
  let area = 0;
  for (let i = 1; i < roc.length; i++) {
    const a = roc[i - 1] as RocPoint;
    const b = roc[i] as RocPoint;
    area += ((b.fpr - a.fpr) * (a.tpr + b.tpr)) / 2;
  }
  return area;
}

/**
 * Picks the binary decision threshold on validation outputs P(classes[1]).
 * 'accuracy' maximises validation accuracy (edgehead's default: the headline metric), 'f1' maximises
 * F1 of classes[1], 'fixed' returns 0.5 (the Keras recipe). Candidates are midpoints between distinct
 * sorted scores (more robust on the test split than a threshold sitting on a training score); ties go to
 * the candidate nearest 0.5.
 */
export function chooseThreshold(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  objective: 'accuracy' | 'f1' | 'fixed',
): number {
  if (objective === 'fixed' || labels.length === 0) return 0.5;
  const distinct = Array.from(new Set(Array.from(scores))).sort((a, b) => a - b);
  const candidates = [0.5];
  for (let i = 1; i < distinct.length; i++)
    candidates.push(((distinct[i - 1] as number) + (distinct[i] as number)) / 2);
  let best = 0.5;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const t of candidates) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < labels.length; i++) {
      const positive = (scores[i] as number) >= t;
      if (labels[i] === 1) {
        if (positive) tp++;
        else fn++;
      } else if (positive) fp++;
    }
    const tn = labels.length - tp - fp - fn;
    const score =
      objective === 'accuracy' ? (tp + tn) / labels.length : tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
    if (
      score > bestScore + 1e-12 ||
      (Math.abs(score - bestScore) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best - 0.5))
    ) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

function classMetrics(confusion: number[][], c: number, name: string): ClassMetrics {
  const tp = (confusion[c] as number[])[c] as number;
  const support = (confusion[c] as number[]).reduce((a, b) => a + b, 0);
  const predicted = confusion.reduce((sum, row) => sum + (row[c] as number), 0);
  const precision = predicted === 0 ? 0 : tp / predicted;
  const recall = support === 0 ? 0 : tp / support;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { label: name, precision, recall, f1, support };
}

function argMax(values: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++)
    if ((values[offset + c] as number) > (values[offset + best] as number)) best = c;
  return best;
}
