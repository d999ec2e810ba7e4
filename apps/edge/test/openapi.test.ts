import {
  documentedOperations,
  documentProblems,
  openApiDocument,
  operationRequests,
} from '@edgehead/contracts/api';
import { describe, expect, it } from 'vitest';
import app from '../src/index.ts';
import { call } from './helpers.ts';

async function served() {
  const res = await call('/openapi.json');
  expect(res.status).toBe(200);
  return (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
}

describe('GET /openapi.json', () => {
  it('documents every route the worker registers, as `edgehead openapi edge` prints it', async () => {
    const doc = await served();
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(documentProblems(doc, app.routes)).toEqual([]);
    expect(documentedOperations(doc)).toContain('POST /v1/models/{alias}/classify');
    expect(doc).toEqual(openApiDocument('edge'));
  });

  it('names the credential every route takes, and the worker asks for it', async () => {
    const sample = (param: string) =>
      ({ alias: 'pets', version: 'v1', id: '0123456789abcdef' })[param] ?? param;
    const requests = operationRequests(await served(), sample);
    expect(
      requests
        .filter((r) => !r.secured)
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual(['GET /auth/link', 'GET /health', 'GET /openapi.json', 'POST /auth/link', 'POST /auth/login']);
    for (const { method, path } of requests) {
      const res = await call(path, { method, redirect: 'manual' });
      await res.body?.cancel();
      const secured = requests.find((r) => r.method === method && r.path === path)?.secured;
      expect([method, path, res.status === 401]).toEqual([method, path, secured]);
    }
  });
});
