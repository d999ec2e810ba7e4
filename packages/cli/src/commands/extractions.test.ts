import type { ExtractionProgress } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { table } from '../output.ts';
import { EXTRACTION_COLUMNS, extractionRow } from './extractions.ts';

const progress = (over: Partial<ExtractionProgress>): ExtractionProgress => ({
  id: '00000000-0000-4000-8000-000000000001',
  datasetId: '00000000-0000-4000-8000-000000000002',
  datasetName: 'pets',
  featureSet: {
    id: '00000000-0000-4000-8000-000000000003',
    key: 'k',
    backbone: 'mobilenet_v1_0.75',
    weights: { sha256: '3f2a9c1b'.padEnd(64, '0'), source: '/w' },
    pooling: 'avg',
    preprocessing: 'tf',
    inputSize: [224, 224],
    featureLayer: 'conv_pw_13_relu',
    featureShape: [768],
    provenance: null,
    createdAt: '',
  },
  state: 'running',
  total: 4000,
  done: 1000,
  failed: 0,
  jobs: { queued: 90, active: 1, failed: 0 },
  imagesPerSecond: 12.5,
  etaSeconds: 240,
  error: null,
  createdAt: '',
  finishedAt: null,
  ...over,
});

describe('extraction rows', () => {
  it('show the feature set, state, done/total, rate, ETA and the error of a failed extraction', () => {
    const text = table(
      [
        extractionRow(progress({})),
        extractionRow(
          progress({
            state: 'failed',
            etaSeconds: null,
            imagesPerSecond: null,
            failed: 2,
            error: 'weights_corrupt: x',
          }),
        ),
      ],
      EXTRACTION_COLUMNS,
    );
    const [head, running, failed] = text.split('\n');
    expect(head?.split(/\s{2,}/)).toEqual([
      'id',
      'dataset',
      'featureSet',
      'state',
      'done',
      'images/s',
      'eta',
      'error',
    ]);
    expect(running).toContain('mobilenet_v1_0.75+avg@tf#3f2a9c1b');
    expect(running?.split(/\s{2,}/).slice(3)).toEqual(['running', '1000/4000', '12.5', '4 min 00 s', '-']);
    expect(failed?.split(/\s{2,}/).slice(3)).toEqual([
      'failed',
      '1000/4000 (2 failed)',
      '-',
      '-',
      'weights_corrupt: x',
    ]);
  });
});
