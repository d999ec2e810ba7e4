// Many clients asking for the same extraction at once (the default batch of 32 images).
import type { ExtractResponse } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { auth, useTestApp } from '../test-support.ts';
import { batchStates, datasetWithImages, vectorsPerImage, whenSettled } from './testing.ts';
import { registerExtractionWorker } from './worker.ts';

const ctx = useTestApp({ EDGEHEAD_EXTRACT_BATCH: '32' });

describe('concurrent extract requests', () => {
  it('50 identical requests make one extraction of 125 batches, and every one of 4000 images gets one vector', async () => {
    const t = ctx();
    const { id, ids } = await datasetWithImages(t, 'fifty', 4000, 1);
    const answers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await t.app.request(`/v1/datasets/${id}/extract`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{}',
        });
        expect(res.status).toBe(202);
        return (await res.json()) as ExtractResponse;
      }),
    );
    const extractionIds = new Set(answers.map((a) => a.progress.id));
    expect(extractionIds.size).toBe(1);
    const [extractionId] = extractionIds as Set<string> & [string];
    // exactly one request queued the work; the 49 others found it queued
    expect(answers.map((a) => a.queuedJobs).sort((a, b) => b - a)).toEqual([125, ...Array(49).fill(0)]);
    expect(answers.reduce((n, a) => n + a.queuedImages, 0)).toBe(4000);
    expect(await batchStates(t, extractionId)).toEqual({ created: 125 });

    const workers = await registerExtractionWorker(t.deps, { concurrency: 2 });
    try {
      const done = await whenSettled(t, id, extractionId);
      expect(done).toMatchObject({ total: 4000, done: 4000, failed: 0 });
    } finally {
      for (const w of workers) await t.deps.queue.boss.offWork({ id: w });
    }
    const counts = await vectorsPerImage(t, ids);
    expect(counts.size).toBe(4000);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await batchStates(t, extractionId)).toEqual({ completed: 125 });
  }, 600_000);
});
