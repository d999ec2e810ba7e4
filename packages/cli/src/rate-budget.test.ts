import { describe, expect, it } from 'vitest';
import { RateBudget } from './rate-budget.ts';

describe('RateBudget', () => {
  it('lets `limit` requests start at once and the next one only when the oldest leaves the window', async () => {
    const budget = new RateBudget(3, 200);
    const started: number[] = [];
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 7 }, async () => {
        await budget.take();
        started.push(Date.now() - t0);
      }),
    );
    expect(started).toHaveLength(7);
    // no window of 200 ms holds more than 3 starts
    for (let i = 3; i < started.length; i++)
      expect((started[i] as number) - (started[i - 3] as number)).toBeGreaterThanOrEqual(199);
  });
});
