import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { exportJWK, generateKeyPair } from 'jose';
import { defineConfig } from 'vitest/config';
import { PLAIN_EXTRACTION } from './test/fake-gpu.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Requests per API key per window in the tests (low, so that a test can cross it; each test file has its own keys). */
const TEST_RATE_LIMIT = 60;

/** Answers the gpu service's `POST /v1/features` for classify-image tests (the real path is test/e2e's). */
export const FAKE_GPU_URL = 'http://gpu.test';

/** The Cloudflare Access team and application of the tests; its signing keys are served below. */
const ACCESS_TEAM = 'https://edgehead-test.cloudflareaccess.com';
const ACCESS_AUD = 'edgehead-test-aud';
// the team's key pair: the public half is its JWKS (outbound fetch below), the private half signs the tests' JWTs
const accessKeys = await generateKeyPair('RS256', { extractable: true });
const accessJwks = {
  keys: [{ ...(await exportJWK(accessKeys.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }],
};
const accessPrivateJwk = { ...(await exportJWK(accessKeys.privateKey)), kid: 'test-key', alg: 'RS256' };

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: here('./wrangler.jsonc') },
      miniflare: {
        // the test database of global-setup.ts (admin activations are mirrored into its deployments)
        hyperdrives: { HYPERDRIVE: inject('databaseUrl') },
        bindings: {
          ADMIN_TOKEN: 'test-admin-token',
          GPU_SERVICE_TOKEN: 'test-gpu-token',
          GPU_SERVICE_URL: FAKE_GPU_URL,
          RATE_LIMIT_PERIOD_S: '60',
          ACCESS_TEAM_DOMAIN: ACCESS_TEAM,
          ACCESS_AUD,
        },
        ratelimits: { KEY_LIMITER: { simple: { limit: TEST_RATE_LIMIT, period: 60 } } },
        // outbound fetch interception: the worker's call to the gpu service lands here, in Node, and the
        // tests' switches of the database proxy (global-setup.ts) go to its control server
        outboundService: (request: Request) => outbound(request, inject('dbProxy')),
      },
    })),
  ],
  // the repository root, so that @edgehead/head's dense.wasm is inside the root: the workers pool cannot
  // load a .wasm module through Vite's /@fs/ paths
  root: here('../..'),
  test: {
    include: [here('./test/**/*.test.ts')],
    // one database proxy serves every file: a file that makes it misbehave must not overlap another's queries
    fileParallelism: false,
    globalSetup: [here('./test/global-setup.ts')],
    provide: {
      rateLimit: TEST_RATE_LIMIT,
      access: { team: ACCESS_TEAM, audience: ACCESS_AUD, privateJwk: accessPrivateJwk },
    },
  },
});

let calls = 0;
let lastQuery = '';

/** Where the tests switch the database proxy: `POST http://db-proxy.test/mode/<pass|refuse|hang|drop>`. */
export const DB_PROXY_URL = 'http://db-proxy.test';

let jwksFetches = 0;

async function outbound(request: Request, dbProxy: string): Promise<Response> {
  const url = new URL(request.url);
  if (url.origin === ACCESS_TEAM && url.pathname === '/cdn-cgi/access/certs') {
    jwksFetches++;
    return Response.json(accessJwks);
  }
  if (url.href === `${ACCESS_TEAM}/test/jwks-fetches`) return Response.json({ fetches: jwksFetches });
  if (url.origin !== DB_PROXY_URL) return fakeGpu(request);
  const res = await fetch(`${dbProxy}${url.pathname}`, { method: request.method });
  return new Response(await res.text(), { status: res.status, headers: res.headers });
}

/**
 * A stand-in gpu service: features derived from the image bytes, shape 1x2x2x4, float32 with a shape header.
 * `/calls` says how many feature requests it answered and the query of the last one; a multipart body is a
 * batch of images.
 */
async function fakeGpu(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.origin !== FAKE_GPU_URL) return new Response('outbound fetch blocked in tests', { status: 502 });
  if (url.pathname === '/calls') return Response.json({ calls, lastQuery });
  const samples = /^\/v1\/extractions\/([0-9a-f-]+)\/samples$/.exec(url.pathname);
  if (samples && request.method === 'GET') {
    if (request.headers.get('authorization') !== 'Bearer test-gpu-token')
      return new Response('forbidden', { status: 403 });
    lastQuery = url.search;
    // the real renderer is the gpu service's (apps/gpu/src/extraction/augment.test.ts): here, its answer's shape
    if (samples[1] === PLAIN_EXTRACTION)
      return Response.json(
        { error: { code: 'validation_failed', message: 'a plain feature set', details: { field: 'id' } } },
        { status: 400 },
      );
    return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), {
      headers: {
        'content-type': 'image/png',
        'x-edgehead-images': 'a,b',
        'cache-control': 'private, max-age=3600',
      },
    });
  }
  if (url.pathname !== '/v1/features' || request.method !== 'POST')
    return new Response('not found', { status: 404 });
  if (request.headers.get('authorization') !== 'Bearer test-gpu-token')
    return new Response('forbidden', { status: 403 });
  calls++;
  lastQuery = url.search;
  // one image as the body, or a multipart batch of them (one vector each, in order)
  const images = (request.headers.get('content-type') ?? '').startsWith('multipart/form-data')
    ? await Promise.all(
        [...(await request.formData()).values()].map(
          async (part) => new Uint8Array(await (part as Blob).arrayBuffer()),
        ),
      )
    : [new Uint8Array(await request.arrayBuffer())];
  if (images.some((image) => image[0] === 0xff && image[1] === 0xff))
    return Response.json(
      {
        error: {
          code: 'unsupported_media_type',
          message: 'image 0: not an image',
          details: { index: 0, reason: 'not_an_image' },
        },
      },
      { status: 415 },
    );
  const features = new Float32Array(16 * images.length);
  for (const [k, image] of images.entries())
    for (let i = 0; i < 16; i++)
      features[k * 16 + i] = ((image[i % image.length] ?? 0) / 255) * (i % 3 === 0 ? -1 : 1);
  return new Response(features.buffer, {
    headers: {
      'content-type': 'application/octet-stream',
      'x-feature-shape': `${images.length},2,2,4`,
      'x-feature-dtype': 'float32',
      'x-feature-backbone': url.searchParams.get('backbone') ?? '',
    },
  });
}
