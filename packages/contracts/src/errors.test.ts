import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError, errorBody, errorCodeOf, errorJson, issuesToDetails, validationFailed } from './errors.ts';

describe('error bodies', () => {
  it('builds the one error shape and leaves details out when there are none', () => {
    expect(errorJson('not_found', "dataset 'x' not found")).toEqual({
      error: { code: 'not_found', message: "dataset 'x' not found" },
    });
    const withDetails = errorJson('validation_failed', 'bad', {
      field: 'epochs',
      issues: [{ field: 'epochs', message: 'too small' }],
    });
    expect(errorBody.parse(withDetails)).toEqual(withDetails);
  });

  it('names the offending field of a zod failure by its path, and an unknown key by itself', () => {
    const schema = z.strictObject({ config: z.object({ epochs: z.number().int().positive() }) });
    const result = schema.safeParse({ config: { epochs: 0 } });
    expect(issuesToDetails(result.error?.issues ?? [])).toEqual({
      field: 'config.epochs',
      issues: [{ field: 'config.epochs', message: expect.stringContaining('>0') }],
    });
    const unknown = schema.safeParse({ config: { epochs: 1 }, epochz: 2 });
    expect(issuesToDetails(unknown.error?.issues ?? []).field).toBe('epochz');
  });

  it('refuses an unknown error code and details that are not an object', () => {
    expect(errorBody.safeParse({ error: { code: 'oops', message: 'x' } }).success).toBe(false);
    expect(errorBody.safeParse({ error: { code: 'internal', message: 'x', details: [] } }).success).toBe(
      false,
    );
  });
});

describe('ApiError', () => {
  it('renders as the error body, with the code of its status', () => {
    const err = new ApiError(404, errorCodeOf(404), 'no run 42', { field: 'id' });
    expect(err.toJSON()).toEqual({
      error: { code: 'not_found', message: 'no run 42', details: { field: 'id' } },
    });
    expect([errorCodeOf(429), errorCodeOf(418), errorCodeOf(504)]).toEqual([
      'rate_limited',
      'bad_request',
      'internal',
    ]);
  });

  it('says which field of which part of a request failed validation', () => {
    const result = z.object({ pageSize: z.number().max(500) }).safeParse({ pageSize: 1000 });
    const err = validationFailed('query', result.error?.issues ?? []);
    expect([err.status, err.code, err.details?.field]).toEqual([400, 'validation_failed', 'pageSize']);
    expect(err.message).toMatch(/^invalid query: pageSize: /);
  });
});
