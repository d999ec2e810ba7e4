import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from './errors.ts';
import { ApiClient } from './http.ts';

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

describe('ApiClient', () => {
  it('waits out a 429 as Retry-After says and sends the request again, on the same connection', async () => {
    const service = await rateLimited(2);
    const client = new ApiClient('edge', service.url, 'token');
    expect(await client.call('POST', '/v1/models/demo/classify', { body: new Uint8Array(8) })).toEqual({
      ok: true,
      seen: 3,
    });
    // the refusals were read to their end, not cut off (which drops the connection under the server's write)
    expect(service.connections()).toBe(1);
  });

  it('gives up after a few refusals with the service error', async () => {
    const service = await rateLimited(100);
    const client = new ApiClient('edge', service.url, 'token');
    const error = await client.call('GET', '/health').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toContain('429');
    expect(service.seen()).toBe(6);
  });
});
