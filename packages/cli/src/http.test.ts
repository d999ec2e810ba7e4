import { createServer, type Server } from 'node:http';
import type { EpochMetrics, RunsQueryInput } from '@edgehead/contracts';
import type { SuccessBody } from '@edgehead/contracts/api';
import type { InferRequestType } from 'hono/client';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { CliError } from './errors.ts';
import { edgeClient, gpuClient, ok } from './http.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A local service that refuses the first `refusals` requests with 429 + Retry-After: 0. */
async function rateLimited(
  refusals: number,
): Promise<{ url: string; seen: () => number; connections: () => number }> {
  let seen = 0;
  let connections = 0;
  server = createServer((req, res) => {
    seen++;
    req.resume();
    if (seen <= refusals) {
      // the body follows the headers a moment later, as through a proxy
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
      res.write('{"error":{"code":"rate_limited",');
      setTimeout(() => res.end('"message":"slow down"}}'), 20);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, seen }));
    }
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen: () => seen, connections: () => connections };
}

describe('the clients', () => {
  it('wait out a 429 as Retry-After says and send the request again, on the same connection', async () => {
    const service = await rateLimited(2);
    const client = edgeClient(service.url, 'token');
    const answer = await ok(
      client.v1.models[':alias'].classify.$post(
        { param: { alias: 'demo' }, query: {} },
        { headers: { 'content-type': 'application/octet-stream' }, init: { body: new Uint8Array(8) } },
      ),
    );
    expect(answer).toEqual({ ok: true, seen: 3 });
    // the refusals were read to their end, not cut off (which drops the connection under the server's write)
    expect(service.connections()).toBe(1);
  });

  it('give up after a few refusals with the service error', async () => {
    const service = await rateLimited(100);
    const error = await ok(edgeClient(service.url, 'token').health.$get()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toContain('429');
    expect(service.seen()).toBe(6);
  });
});

// Checked by `tsc` (npm run typecheck): the clients' calls are typed by the route definitions, so a route
// whose input or answer changes breaks the CLI's build before it breaks a user.
describe("the clients' types", () => {
  const gpu = gpuClient('http://gpu.test', null);
  it('take exactly the query of a route', () => {
    type Query = NonNullable<InferRequestType<typeof gpu.v1.runs.$get>['query']>;
    expectTypeOf<Query>().toEqualTypeOf<RunsQueryInput>();
    expectTypeOf<keyof Query>().toEqualTypeOf<
      'dataset' | 'featureSet' | 'status' | 'sort' | 'order' | 'page' | 'pageSize'
    >();
  });

  it('answer with the JSON of the route', () => {
    type Detail = SuccessBody<Awaited<ReturnType<(typeof gpu.v1.runs)[':id']['$get']>>>;
    expectTypeOf<Detail['epochs'][number]>().toEqualTypeOf<EpochMetrics>();
    expectTypeOf<Detail['run']['createdAt']>().toEqualTypeOf<string>();
  });
});
