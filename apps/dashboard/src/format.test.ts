import { headPresets } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { differs, duration, flatten, headSummary, pct, presetLabel } from './format.ts';
import { href, parseRoute, safeNext } from './router.ts';

describe('format', () => {
  it('summarises the Keras recipe and the default preset in a few words', () => {
    expect(headSummary(headPresets['keras-vgg16-feature-extraction'])).toBe(
      'dense 256 · drop 0.5 · rmsprop 2e-5 · bs 20',
    );
    expect(headSummary(headPresets['edgehead-default'])).toBe(
      'dense 256 · drop 0.5 · adam 1e-4 · bs 32 · early stop',
    );
    expect(headSummary({})).toBe('–');
  });

  it('names a fine-tuning run and the layers it trains', () => {
    const config = { unfreeze: ['last-block'], optimizer: 'rmsprop', learningRate: 1e-5, batchSize: 20 };
    expect(headSummary(config)).toBe('unfreeze last-block · rmsprop 1e-5 · bs 20');
    expect(presetLabel({ kind: 'finetune', preset: null })).toBe('fine-tuning');
    expect(presetLabel({ kind: 'head', preset: null })).toBe('custom');
    expect(presetLabel({ kind: 'head', preset: 'edgehead-default' })).toBe('edgehead-default');
  });

  it('flattens nested config into dotted keys and marks rows whose values differ', () => {
    expect(flatten({ a: 1, b: { c: null, d: [1, 2] }, e: {} })).toEqual({
      a: '1',
      'b.c': '–',
      'b.d': '[1,2]',
      e: '{}',
    });
    expect(differs(['1', '1'])).toBe(false);
    expect(differs(['1', '2', '1'])).toBe(true);
  });

  it('formats durations and percentages for people', () => {
    expect([duration(850), duration(42_000), duration(185_000), duration(7_620_000), duration(null)]).toEqual(
      ['850 ms', '42 s', '3 min 05 s', '2 h 07 min', '–'],
    );
    expect([pct(0.9123), pct(null), pct(Number.NaN)]).toEqual(['91.2%', '–', '–']);
  });
});

describe('router', () => {
  it('parses every page of the hash and rejects the rest', () => {
    expect(parseRoute('').page).toBe('runs');
    expect(parseRoute('#/runs?status=running').params.get('status')).toBe('running');
    expect(parseRoute('#/runs/abc')).toMatchObject({ page: 'run', id: 'abc' });
    expect(parseRoute('#/compare?ids=a,b').params.get('ids')).toBe('a,b');
    expect(parseRoute('#/models').page).toBe('models');
    expect(parseRoute('#/extractions').page).toBe('extractions');
    expect(parseRoute('#/runs/a/b').page).toBe('unknown');
  });

  it('builds links without empty parameters', () => {
    expect(href('/runs', { status: 'running', dataset: '', page: undefined, pageSize: 25 })).toBe(
      '#/runs?status=running&pageSize=25',
    );
    expect(href('/models')).toBe('#/models');
  });

  it('goes back after sign-in only to a path of this site', () => {
    expect(safeNext('/#/runs/abc?x=1')).toBe('/#/runs/abc?x=1');
    expect(safeNext('/?from=mail')).toBe('/?from=mail');
    for (const bad of [
      null,
      '',
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/\t/evil.example',
      'javascript:alert(1)',
      '/signin?next=/',
    ])
      expect(safeNext(bad), String(bad)).toBe('/');
  });
});
