import { describe, expect, it } from 'vitest';
import { openApiDocument, ROUTES } from './openapi.ts';

/** Walks a JSON document by keys (the test fails on a missing step). */
// biome-ignore lint/suspicious/noExplicitAny: test helper over arbitrary JSON
const dig = (value: unknown, ...keys: string[]): any =>
  keys.reduce((node, key) => {
    expect(node, `missing ${key}`).toBeTypeOf('object');
    return (node as Record<string, unknown>)[key];
  }, value);

describe('openApiDocument', () => {
  it('lists every route of a service with {param} paths', () => {
    for (const service of ['gpu', 'edge'] as const) {
      const doc = openApiDocument(service) as {
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
      };
      expect(doc.openapi).toBe('3.1.0');
      const routes = ROUTES.filter((r) => r.service === service);
      const ops = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
      expect(ops).toBe(routes.length);
    }
    const edge = openApiDocument('edge') as { paths: Record<string, unknown> };
    expect(Object.keys(edge.paths)).toContain('/v1/models/{alias}/classify');
  });

  it('derives request bodies and answers from the zod contracts', () => {
    const doc = openApiDocument('gpu');
    const create = dig(doc, 'paths', '/v1/datasets', 'post');
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['name', 'classes']);
    expect(create.responses['201'].content['application/json'].schema.properties.classes.type).toBe('array');
    expect(create.security).toEqual([{ gpuToken: [] }]);
    // reads need the token too unless the service runs with EDGEHEAD_GPU_PROTECT_READS=false
    expect(dig(doc, 'paths', '/v1/datasets', 'get').security).toEqual([{ gpuToken: [] }]);
    expect(dig(doc, 'paths', '/health', 'get').security).toBeUndefined();
    const progress = dig(doc, 'paths', '/v1/datasets/{id}/extract', 'get', 'parameters').map(
      (p: { name: string; in: string }) => `${p.in}:${p.name}`,
    );
    expect(progress).toEqual([
      'path:id',
      'query:extraction',
      'query:featureSet',
      'query:backbone',
      'query:pooling',
      'query:preprocessing',
    ]);
  });

  it('describes errors with the shared error body and only the schemes in use', () => {
    const doc = openApiDocument('edge');
    const err = dig(
      doc,
      'paths',
      '/admin/keys',
      'post',
      'responses',
      '4XX',
      'content',
      'application/json',
      'schema',
    );
    expect(err.properties.error.properties.code.enum).toContain('validation_failed');
    expect(Object.keys(dig(doc, 'components', 'securitySchemes')).sort()).toEqual([
      'adminToken',
      'apiKey',
      'dashboardSession',
    ]);
    // the dashboard's data needs a session (or the admin token); a session may switch versions
    expect(dig(doc, 'paths', '/api/runs', 'get').security).toEqual([
      { dashboardSession: [] },
      { adminToken: [] },
    ]);
    expect(dig(doc, 'paths', '/admin/models/{alias}/rollback', 'post').security).toEqual([
      { adminToken: [] },
      { dashboardSession: [] },
    ]);
    expect(dig(doc, 'components', 'securitySchemes', 'dashboardSession')).toMatchObject({
      type: 'apiKey',
      in: 'cookie',
    });
  });

  it('gives every operation a unique id', () => {
    for (const service of ['gpu', 'edge'] as const) {
      const doc = openApiDocument(service) as {
        paths: Record<string, Record<string, { operationId: string }>>;
      };
      const ids = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});
