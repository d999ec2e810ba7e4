import { describe, expect, it } from 'vitest';
import { parseCommand } from './args.ts';
import { classifyTarget } from './commands/edge.ts';
import { compareRuns, train, trainBody } from './commands/gpu.ts';
import { parseCliEnv } from './env.ts';
import { batches } from './ingest.ts';
import { epochLine, formatDuration, latencySummary, percentile, progressLine, table } from './output.ts';

describe('output', () => {
  it('aligns table columns and shows missing values as -', () => {
    const text = table(
      [
        { id: 'a', acc: 0.91234567, note: null },
        { id: 'bbbb', acc: 1, note: 'x' },
      ],
      ['id', ['acc', 'accuracy'], 'note'],
    );
    expect(text.split('\n')).toEqual(['id    accuracy  note', 'a     0.9123    -', 'bbbb  1         x']);
  });

  it('formats durations at three scales', () => {
    expect(formatDuration(850.4)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
  });

  it('interpolates percentiles and summarises latencies', () => {
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
    const s = latencySummary(Array.from({ length: 101 }, (_, i) => i));
    expect([s.n, s.p50, s.p90, s.p99, s.max]).toEqual([101, 50, 90, 99, 100]);
  });

  it('draws a progress line with the rate', () => {
    expect(progressLine(5, 10, 2000, '1 rejected', 'files', 10)).toBe(
      '[#####.....]  5/10 files  2.5 files/s  1 rejected',
    );
  });

  it('prints one epoch per line with nulls as -', () => {
    const line = epochLine(
      { epoch: 3, loss: 0.5, accuracy: 0.75, valLoss: null, valAccuracy: null, durationMs: 1500 },
      30,
    );
    expect(line).toBe('epoch  3/30  loss 0.5000  acc 0.7500  val_loss -  val_acc -  1.5 s');
  });
});

describe('command helpers', () => {
  it('batches files by count and by bytes', () => {
    const files = [5, 5, 5, 20, 1, 1].map((bytes) => ({ bytes }));
    expect(batches(files, 2, 100).map((b) => b.length)).toEqual([2, 2, 2]);
    expect(batches(files, 10, 12).map((b) => b.map((f) => f.bytes))).toEqual([[5, 5], [5], [20], [1, 1]]);
  });

  it('sends images to classify-image and other files as binary features', () => {
    expect(classifyTarget('x/cat.JPG', 'float32')).toMatchObject({
      route: 'classify-image',
      contentType: 'image/jpeg',
    });
    expect(classifyTarget('v.bin', 'float16')).toEqual({
      route: 'classify',
      contentType: 'application/octet-stream',
      query: { dtype: 'float16' },
    });
  });

  it('maps train flags to the run request, leaving out what was not given', async () => {
    const parse = async (argv: string[]) => (await parseCommand(train, argv, parseCliEnv({}))).options;
    const options = await parse([
      '--dataset',
      'd',
      '--backbone',
      'b',
      '--preset',
      'keras-vgg16-feature-extraction',
      '--learning-rate',
      '2e-5',
      '--no-wait',
    ]);
    expect(trainBody(options)).toEqual({
      dataset: 'd',
      backbone: 'b',
      preset: 'keras-vgg16-feature-extraction',
      learningRate: 2e-5,
    });
    expect(() => trainBody({ ...options, backbone: undefined })).toThrow(/--backbone/);
  });

  it('compares two runs on differing config and outcome', () => {
    const run = (id: string, lr: number, acc: number) => ({
      run: {
        id,
        kind: 'head' as const,
        datasetId: 'd',
        featureSetId: '00000000-0000-4000-8000-000000000001',
        fromRunId: null,
        outputFeatureSetId: null,
        featureSet: 'f',
        preset: null,
        config: { learningRate: lr, epochs: 3 },
        status: 'succeeded' as const,
        error: null,
        backend: null,
        epochsTotal: 3,
        createdAt: '',
        startedAt: null,
        finishedAt: null,
        attempts: 1,
        timings: {},
      },
      dataset: { name: 'pets', classes: ['cat', 'dog'], task: 'binary' as const },
      epochs: [{ epoch: 1, loss: 1, accuracy: 0.5, valLoss: 1, valAccuracy: acc, durationMs: 1 }],
      evaluations: [],
      model: null,
    });
    const rows = compareRuns(run('a', 0.1, 0.8), run('b', 0.2, 0.9));
    expect(rows.find((r) => r.field === 'config.learningRate')).toEqual({
      field: 'config.learningRate',
      a: '0.1',
      b: '0.2',
    });
    expect(rows.find((r) => r.field === 'config.epochs')).toBeUndefined();
    expect(rows.find((r) => r.field === 'best val_accuracy')).toEqual({
      field: 'best val_accuracy',
      a: '0.8',
      b: '0.9',
    });
  });
});
