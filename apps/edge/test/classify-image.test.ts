// The gpu service is answered by the `outboundService` in vitest.config.ts (miniflare's outbound fetch
// interception); the real gpu path is covered by the end-to-end tests.

import { env } from 'cloudflare:workers';
import type { ClassifyResponse } from '@edgehead/contracts';
import { CLASSIFY_LIMITS, errorBody, featureCacheKey } from '@edgehead/contracts';
import { sha256Hex as sha256 } from '@edgehead/head';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuRefusal } from '../src/image-features.ts';
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
    const { error } = errorBody.parse(await refused.json());
    expect(error.message).toContain('not an image');
    expect(error.details).toMatchObject({ field: 'file[0]', reason: 'not_an_image' });
  });

  it('blames the image only for what the gpu service says is wrong with an image', () => {
    const gpuError = (status: number, code: string, details: Record<string, unknown>) =>
      gpuRefusal(status, JSON.stringify({ error: { code, message: `gpu: ${code}`, details } }), (i) => i + 3);
    const tooLarge = gpuError(413, 'payload_too_large', { index: 1, reason: 'image_too_large' });
    expect([tooLarge.status, tooLarge.code, tooLarge.details]).toEqual([
      413,
      'payload_too_large',
      { field: 'file[4]', reason: 'image_too_large' },
    ]);
    // the head's feature set or backbone is unknown there, or its weights changed: the deployment's problem
    for (const [status, code, field] of [
      [400, 'bad_request', 'backbone'],
      [404, 'not_found', 'featureSet'],
      [409, 'conflict', 'featureSet'],
    ] as const) {
      const err = gpuError(status, code, { field });
      expect([err.status, err.code, err.details]).toEqual([503, 'unavailable', { status, gpuCode: code }]);
      expect(err.message).toContain(`gpu: ${code}`);
    }
    const proxyPage = gpuRefusal(502, '<html>bad gateway</html>');
    expect([proxyPage.status, proxyPage.details]).toEqual([503, { status: 502 }]);
  });

  it('classifies a multipart batch in one request: cached images from R2, the others in one gpu call', async () => {
    const single = (await (await send(image(21))).json()) as ClassifyResponse; // now cached
    const before = await gpuCalls();
    const form = new FormData();
    for (const [name, seed] of [
      ['a.jpg', 22],
      ['b.jpg', 21],
      ['c.png', 23],
    ] as const)
      form.append(
        'file',
        new Blob([image(seed)], { type: name.endsWith('.png') ? 'image/png' : 'image/jpeg' }),
        name,
      );
    const res = await call('/v1/models/img/classify-image', {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: form,
    });
    expect(res.status).toBe(200);
    const batch = (await res.json()) as ClassifyResponse;
    expect(batch.predictions).toHaveLength(3);
    expect(batch.images?.map((i) => [i.name, i.source])).toEqual([
      ['a.jpg', 'gpu'],
      ['b.jpg', 'cache'],
      ['c.png', 'gpu'],
    ]);
    expect(batch.images?.[1]?.imageSha256).toBe(single.imageSha256);
    expect(batch.predictions[1]).toEqual(single.predictions[0]);
    expect(await gpuCalls()).toBe(before + 1);
    // every image answers as it would alone (the two computed ones are cached now)
    for (const [k, seed] of [22, 21, 23].entries()) {
      const alone = (await (await send(image(seed))).json()) as ClassifyResponse;
      expect(alone.source).toBe('cache');
      expect(alone.predictions[0]).toEqual(batch.predictions[k]);
    }
  });

  it('refuses a batch without image parts, with a part that is not an image, or with too many parts', async () => {
    const post = (form: FormData) =>
      call('/v1/models/img/classify-image', { method: 'POST', headers: { 'x-api-key': key }, body: form });
    const before = await gpuCalls();
    const empty = new FormData();
    empty.append('note', 'no files');
    const none = await post(empty);
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: { details: { field: string } } }).error.details.field).toBe(
      'file',
    );
    const mixed = new FormData();
    mixed.append('file', new Blob([image(30)], { type: 'image/jpeg' }), 'ok.jpg');
    mixed.append('file', new Blob(['hello'], { type: 'text/plain' }), 'notes.txt');
    const wrong = await post(mixed);
    expect(wrong.status).toBe(415);
    expect(((await wrong.json()) as { error: { details: { field: string } } }).error.details.field).toBe(
      'file[1]',
    );
    const many = new FormData();
    for (let i = 0; i <= CLASSIFY_LIMITS.maxImages; i++)
      many.append('file', new Blob([image(100 + i)], { type: 'image/jpeg' }), `${i}.jpg`);
    expect((await post(many)).status).toBe(413);
    // nothing reached the gpu service, nothing was cached for the refused batches
    expect(await gpuCalls()).toBe(before);
    const manifest = manifestOf(fixtures.v1);
    expect(await env.ARTIFACTS.head(featureCacheKey(manifest, await sha256(image(30))))).toBeNull();
  });
});
