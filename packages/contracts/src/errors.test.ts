import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorBody, errorJson, issuesToDetails } from './errors.ts';

describe('error bodies', () => {
  it('builds the one error shape and leaves details out when there are none', () => {
    expect(errorJson('not_found', "dataset 'x' not found")).toEqual({
      error: { code: 'not_found', message: "dataset 'x' not found" },
    });
    const withDetails = errorJson('validation_failed', 'bad', [{ field: 'epochs', message: 'too small' }]);
    expect(errorBody.parse(withDetails)).toEqual(withDetails);
  });

  it('names the offending field of a zod failure by its path', () => {
    const schema = z.object({ config: z.object({ epochs: z.number().int().positive() }) });
    const result = schema.safeParse({ config: { epochs: 0 } });
    expect(result.success).toBe(false);
    expect(issuesToDetails(result.error?.issues ?? [])).toEqual([
      { field: 'config.epochs', message: expect.stringContaining('>0') },
    ]);
  });

  it('rejects an unknown error code', () => {
    expect(errorBody.safeParse({ error: { code: 'oops', message: 'x' } }).success).toBe(false);
  });
});
