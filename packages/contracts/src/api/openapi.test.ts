import { describe, expect, it } from 'vitest';
import { edgeRoutes } from './edge.ts';
import { gpuRoutes } from './gpu.ts';
import { documentedOperations, documentProblems, openApiDocument } from './openapi.ts';

/** Walks a JSON document by keys (the test fails on a missing step). */
// biome-ignore lint/suspicious/noExplicitAny: test helper over arbitrary JSON
const dig = (value: unknown, ...keys: string[]): any =>
  keys.reduce((node, key) => {
    expect(node, `missing ${key}`).toBeTypeOf('object');
    return (node as Record<string, unknown>)[key];
  }, value);

describe('openApiDocument', () => {
  it('documents every route definition of a service once, named by its key', () => {
    for (const [service, definitions] of [
      ['gpu', gpuRoutes],
      ['edge', edgeRoutes],
    ] as const) {
      const doc = openApiDocument(service);
      expect(doc.openapi).toBe('3.1.0');
      const defined = Object.values(definitions).map((r) => `${r.method.toUpperCase()} ${r.path}`);
      expect(documentedOperations(doc)).toEqual([...defined].sort());
      const ids = Object.values(doc.paths ?? {}).flatMap((item) =>
        Object.values(item as Record<string, { operationId: string }>).map((op) => op.operationId),
      );
      expect(ids.sort()).toEqual(Object.keys(definitions).sort());
      // every route as registered by an app that implements exactly these definitions
      const registered = Object.values(definitions).map((r) => ({
        method: r.method.toUpperCase(),
        path: r.path.replace(/\{([^}]+)\}/g, ':$1'),
      }));
      expect(documentProblems(doc, registered)).toEqual([]);
      expect(documentProblems(doc, registered.slice(1))).toEqual([
        `${defined[0]}: documented, not registered`,
      ]);
    }
  });

  it('derives bodies, parameters and answers from the zod contracts', () => {
    const doc = openApiDocument('gpu');
    const create = dig(doc, 'paths', '/v1/datasets', 'post');
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['name', 'classes']);
    expect(create.responses['201'].content['application/json'].schema.properties.classes.type).toBe('array');
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
    // the run request documents every head config field it takes, not only the dataset and feature set,
    // and the fine-tuning request beside it
    const run = dig(doc, 'paths', '/v1/runs', 'post', 'requestBody', 'content', 'application/json', 'schema');
    const [headRun, fineTuneRun] = run.oneOf;
    expect(Object.keys(headRun.properties)).toEqual(
      expect.arrayContaining(['kind', 'dataset', 'preset', 'epochs', 'seed']),
    );
    expect(Object.keys(fineTuneRun.properties)).toEqual(
      expect.arrayContaining(['kind', 'fromRun', 'unfreeze', 'learningRate', 'epochs']),
    );
    expect(fineTuneRun.required).toEqual(expect.arrayContaining(['kind', 'fromRun', 'unfreeze']));
    // raw bodies are described from the route definition too
    const images = dig(doc, 'paths', '/v1/datasets/{id}/images', 'post', 'requestBody', 'content');
    expect(Object.keys(images)).toEqual(['multipart/form-data']);
    const features = dig(doc, 'paths', '/v1/features', 'post');
    expect(Object.keys(features.requestBody.content)).toEqual(
      expect.arrayContaining(['image/jpeg', 'image/png', 'image/webp', 'multipart/form-data']),
    );
    expect(features.responses['200'].content['application/octet-stream'].schema.format).toBe('binary');
  });

  it('names the credential of every route and only the schemes in use', () => {
    const gpu = openApiDocument('gpu');
    expect(dig(gpu, 'paths', '/v1/datasets', 'post').security).toEqual([{ gpuToken: [] }]);
    // reads need the token too unless the service runs with EDGEHEAD_GPU_PROTECT_READS=false
    expect(dig(gpu, 'paths', '/v1/extractions', 'get').security).toEqual([{ gpuToken: [] }]);
    expect(dig(gpu, 'paths', '/health', 'get').security).toBeUndefined();
    expect(Object.keys(dig(gpu, 'components', 'securitySchemes'))).toEqual(['gpuToken']);
    const edge = openApiDocument('edge');
    expect(Object.keys(dig(edge, 'components', 'securitySchemes')).sort()).toEqual([
      'adminToken',
      'apiKey',
      'dashboardSession',
    ]);
    expect(dig(edge, 'paths', '/api/runs', 'get').security).toEqual([
      { dashboardSession: [] },
      { adminToken: [] },
    ]);
    expect(dig(edge, 'paths', '/admin/models/{alias}/rollback', 'post').security).toEqual([
      { adminToken: [] },
      { dashboardSession: [] },
    ]);
    const err = dig(edge, 'paths', '/admin/keys', 'post', 'responses', '4XX', 'content', 'application/json');
    expect(err.schema.properties.error.properties.code.enum).toContain('validation_failed');
    expect(Object.keys(err.schema.properties.error.properties.details.properties)).toEqual([
      'field',
      'issues',
      'reason',
    ]);
  });
});
