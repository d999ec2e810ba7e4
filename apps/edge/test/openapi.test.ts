import { describe, expect, it } from 'vitest';
import { call } from './helpers.ts';

describe('GET /openapi.json', () => {
  it('serves the OpenAPI 3.1 document of the edge routes, generated from the contracts', async () => {
    const res = await call('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(Object.keys(doc.paths)).toContain('/v1/models/{alias}/classify');
    expect(doc.paths['/v1/models/{alias}/classify']).toHaveProperty('post');
  });
});
