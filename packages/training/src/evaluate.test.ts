import { describe, expect, it } from 'vitest';
import { aucOf, chooseThreshold, rocCurve, scorePredictions } from './evaluate.ts';

describe('scorePredictions', () => {
  // Scores P(dog); labels 1 = dog. At 0.5: TP 3 (0.9, 0.8, 0.6), FN 1 (0.3), FP 1 (0.7), TN 3 (0.1, 0.2, 0.4).
  const scores = [0.9, 0.8, 0.6, 0.3, 0.7, 0.1, 0.2, 0.4];
  const labels = [1, 1, 1, 1, 0, 0, 0, 0];

  it('matches a hand-computed binary confusion matrix and metrics of the positive class', () => {
    const ev = scorePredictions(scores, labels, ['cat', 'dog']);
    expect(ev.confusion).toEqual([
      [3, 1],
      [1, 3],
    ]);
    expect(ev.accuracy).toBe(6 / 8);
    expect(ev.precision).toBe(3 / 4);
    expect(ev.recall).toBe(3 / 4);
    expect(ev.f1).toBeCloseTo(0.75, 12);
    expect(ev.perClass[0]).toEqual({ label: 'cat', precision: 0.75, recall: 0.75, f1: 0.75, support: 4 });
  });

  it('computes ROC AUC as the fraction of correctly ordered positive/negative pairs', () => {
    // Pairs (pos, neg) ordered correctly: 0.9, 0.8 beat all 4 negatives; 0.6 beats 3; 0.3 beats 2 -> 13 / 16.
    const ev = scorePredictions(scores, labels, ['cat', 'dog']);
    expect(ev.rocAuc).toBeCloseTo(13 / 16, 12);
    expect(ev.roc?.[0]).toEqual({ threshold: Number.POSITIVE_INFINITY, fpr: 0, tpr: 0 });
    expect(ev.roc?.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
  });

  it('counts tied scores as half-correct pairs', () => {
    expect(aucOf(rocCurve([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0]))).toBeCloseTo(0.875, 12);
  });

  it('applies the threshold to binary predictions', () => {
    const ev = scorePredictions(scores, labels, ['cat', 'dog'], 0.75);
    expect(ev.confusion).toEqual([
      [4, 0],
      [2, 2],
    ]);
    expect(ev.threshold).toBe(0.75);
  });

  it('matches a hand-computed multiclass confusion matrix with macro averages', () => {
    const outputs = [
      [0.8, 0.1, 0.1], // a -> a
      [0.2, 0.7, 0.1], // a -> b
      [0.1, 0.8, 0.1], // b -> b
      [0.1, 0.2, 0.7], // c -> c
      [0.6, 0.2, 0.2], // c -> a
    ].flat();
    const ev = scorePredictions(outputs, [0, 0, 1, 2, 2], ['a', 'b', 'c']);
    expect(ev.confusion).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]);
    // precision a 1/2, b 1/2, c 1; recall a 1/2, b 1, c 1/2
    expect(ev.precision).toBeCloseTo((0.5 + 0.5 + 1) / 3, 12);
    expect(ev.recall).toBeCloseTo((0.5 + 1 + 0.5) / 3, 12);
    expect(ev.f1).toBeCloseTo((0.5 + 2 / 3 + 2 / 3) / 3, 12);
    expect(ev.rocAuc).toBeNull();
    expect(ev.accuracy).toBe(3 / 5);
  });
});

describe('chooseThreshold', () => {
  it('returns 0.5 for the fixed objective', () => {
    expect(chooseThreshold([0.9, 0.1], [0, 1], 'fixed')).toBe(0.5);
  });

  it('finds the threshold with the best validation accuracy', () => {
    // All positives score above 0.2, all negatives below: 0.5 misses two positives, 0.2 is perfect.
    const scores = [0.25, 0.3, 0.7, 0.1, 0.15, 0.05];
    const labels = [1, 1, 1, 0, 0, 0];
    const t = chooseThreshold(scores, labels, 'accuracy');
    expect(t).toBeCloseTo(0.2, 12);
    expect(scorePredictions(scores, labels, ['n', 'p'], t).accuracy).toBe(1);
  });

  it('maximises F1 of the positive class when asked', () => {
    const scores = [0.9, 0.4, 0.35, 0.3, 0.2, 0.1];
    const labels = [1, 1, 0, 1, 0, 0];
    const t = chooseThreshold(scores, labels, 'f1');
    expect(scorePredictions(scores, labels, ['n', 'p'], t).f1).toBeCloseTo(6 / 7, 12);
  });
});
