// The gpu service is answered by the `outboundService` in vitest.config.ts (miniflare's outbound fetch
// interception); the real gpu path is covered by the end-to-end tests.

import { env } from 'cloudflare:workers';
import type { ClassifyResponse } from '@edgehead/contracts';
import { featureCacheKey } from '@edgehead/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, fixtures, publish } from './helpers.ts';

let key: string;
beforeAll(async () => {
  key = await createKey();
  await publish('img', 'v1', fixtures.v1);
  await publish('old', 'v1', fixtures.legacy);
});

const image = (seed: number) => Uint8Array.from({ length: 64 }, (_, i) => (i * 31 + seed) % 251);
const send = (body: Uint8Array, type = 'image/jpeg', alias = 'img') =>
  call(`/v1/models/${alias}/classify-image`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': type },
    body,
  });
const gpu = async () =>
  (await (await fetch('http://gpu.test/calls')).json()) as { calls: number; lastQuery: string };
const gpuCalls = async () => (await gpu()).calls;
const manifestOf = (f: typeof fixtures.v1) => JSON.parse(atob(f.files['manifest.json']));

describe('classify-image', () => {
  it('gets features from the gpu service, caches them in R2, then answers from the cache', async () => {
    const before = await gpuCalls();
    const first = (await (await send(image(1))).json()) as ClassifyResponse;
    expect(first).toMatchObject({ alias: 'img', version: 'v1', source: 'gpu' });
    const manifest = manifestOf(fixtures.v1);
    // an edgehead-head/2 head asks for exactly its feature set, and caches under the feature set's id
    expect(await gpu()).toEqual({ calls: before + 1, lastQuery: `?featureSet=${manifest.featureSet.id}` });
    const cacheKey = featureCacheKey(manifest, first.imageSha256 as string);
    expect(cacheKey).toBe(`features/${manifest.featureSet.id}/${first.imageSha256}.f32`);
    expect(await env.ARTIFACTS.head(cacheKey)).not.toBeNull();

    const second = (await (await send(image(1))).json()) as ClassifyResponse;
    expect(second.source).toBe('cache');
    expect(second.predictions).toEqual(first.predictions);
    expect(await gpuCalls()).toBe(before + 1);
  });

  it('keeps classifying a head published with an edgehead-head/1 manifest, under its old cache key', async () => {
    const before = await gpuCalls();
    const first = (await (await send(image(3), 'image/jpeg', 'old')).json()) as ClassifyResponse;
    expect(first).toMatchObject({ alias: 'old', version: 'v1', source: 'gpu' });
    expect(await gpu()).toEqual({ calls: before + 1, lastQuery: '?backbone=testnet' });
    expect(
      await env.ARTIFACTS.head(
        `features/${encodeURIComponent('testnet:rescale:2x2x4')}/${first.imageSha256}.f32`,
      ),
    ).not.toBeNull();
    // the same head with a v2 manifest gives the same answer for the same image
    const same = (await (await send(image(3))).json()) as ClassifyResponse;
    expect(same.predictions).toEqual(first.predictions);
    const second = (await (await send(image(3), 'image/jpeg', 'old')).json()) as ClassifyResponse;
    expect(second.source).toBe('cache');
  });

  it('refuses non-image content types and passes on the gpu service refusing an image', async () => {
    expect((await send(image(2), 'text/plain')).status).toBe(415);
    expect((await send(new Uint8Array(0))).status).toBe(400);
    const refused = await send(Uint8Array.from([0xff, 0xff, 1, 2]));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
      'not an image',
    );
  });
});
