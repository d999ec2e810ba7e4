import { gzipSync } from 'node:zlib';
import { errorBody, uploadResponse } from '@edgehead/contracts';
import {
  documentedOperations,
  documentProblems,
  openApiDocument,
  operationRequests,
} from '@edgehead/contracts/api';
import { listImages } from '@edgehead/db';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { parseEnv } from '../env.ts';
import { publicWeightsSource } from '../http/health.ts';
import { auth, form, image, TOKEN, useTestApp } from '../test-support.ts';

const ctx = useTestApp({
  EDGEHEAD_GPU_MAX_FILES: '20',
  EDGEHEAD_GPU_MAX_BODY_BYTES: '400000',
  EDGEHEAD_GPU_MAX_IMAGE_BYTES: '100000',
  EDGEHEAD_GPU_MAX_PIXELS: '2000',
});

async function createDataset(name: string, classes = ['cats', 'dogs']) {
  const res = await ctx().app.request('/v1/datasets', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name, classes }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string; task: string };
}

async function upload(id: string, body: FormData) {
  const res = await ctx().app.request(`/v1/datasets/${id}/images`, { method: 'POST', headers: auth, body });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function tarGz(
  entries: { name: string; data?: Uint8Array; type?: 'symlink' | 'link'; target?: string }[],
) {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type) pack.entry({ name: e.name, type: e.type, linkname: e.target ?? 'x' });
    else pack.entry({ name: e.name }, Buffer.from(e.data ?? new Uint8Array()));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return new Uint8Array(gzipSync(Buffer.concat(chunks)));
}

describe('auth', () => {
  it('answers 401 without a token and 403 with a wrong one, in the error shape', async () => {
    const { app } = ctx();
    const init = { method: 'POST', body: '{"name":"x","classes":["a","b"]}' };
    const missing = await app.request('/v1/datasets', {
      ...init,
      headers: { 'content-type': 'application/json' },
    });
    expect(missing.status).toBe(401);
    expect(errorBody.parse(await missing.json()).error.code).toBe('unauthorized');
    const wrong = await app.request('/v1/datasets', {
      ...init,
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-token' },
    });
    expect(wrong.status).toBe(403);
    expect((await app.request('/v1/features', { method: 'POST', body: 'x' })).status).toBe(401);
    // this test app opens reads (EDGEHEAD_GPU_PROTECT_READS=false)
    expect((await app.request('/v1/datasets')).status).toBe(200);
  });

  it('requires the token on reads too by default', async () => {
    const { deps } = ctx();
    const app = createApp({ ...deps, env: parseEnv({ EDGEHEAD_GPU_TOKEN: TOKEN }) });
    for (const path of ['/v1/datasets', '/v1/runs', '/v1/models']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(401);
      expect(errorBody.parse(await res.json()).error.code).toBe('unauthorized');
      expect((await app.request(path, { headers: auth })).status, path).toBe(200);
    }
    expect((await app.request('/health')).status).not.toBe(401);
  });
});

describe('datasets', () => {
  it('creates, lists, gets and deletes a dataset, with typed errors', async () => {
    const { app } = ctx();
    const ds = await createDataset('pets');
    expect(ds.task).toBe('binary');
    const dup = await app.request('/v1/datasets', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'pets', classes: ['a', 'b'] }),
    });
    expect(dup.status).toBe(409);
    const bad = await app.request('/v1/datasets', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'one', classes: ['only'] }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('classes');
    const notJson = await app.request('/v1/datasets', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    const list = (await (await app.request('/v1/datasets')).json()) as { datasets: { name: string }[] };
    expect(list.datasets.map((d) => d.name)).toContain('pets');
    const got = (await (await app.request('/v1/datasets/pets')).json()) as {
      id: string;
      extractions: unknown[];
    };
    expect(got.id).toBe(ds.id);
    expect(got.extractions).toEqual([]);
    expect((await app.request(`/v1/datasets/${ds.id}`, { method: 'DELETE', headers: auth })).status).toBe(
      200,
    );
    const gone = await app.request(`/v1/datasets/${ds.id}`);
    expect(gone.status).toBe(404);
    expect(errorBody.parse(await gone.json()).error.code).toBe('not_found');
  });
});

describe('multipart upload', () => {
  it('answers per file for a batch of good and bad files and stores only the good ones', async () => {
    const ds = await createDataset('mixed');
    const good = await image(1);
    const png = await image(2, { format: 'png' });
    const whole = await image(3);
    const truncated = whole.slice(0, Math.floor(whole.length * 0.7));
    const body = form(
      [
        { name: 'a.jpg', data: good },
        { name: 'b.png', data: png },
        { name: 'notes.txt', data: new TextEncoder().encode('hello, not an image') },
        { name: 'broken.jpg', data: truncated },
      ],
      { split: 'train', label: 'cats' },
    );
    const { status, body: json } = await upload(ds.id, body);
    expect(status).toBe(200);
    const r = uploadResponse.parse(json);
    expect(r.files.map((f) => f.status)).toEqual(['accepted', 'accepted', 'rejected', 'rejected']);
    expect(r.files[2]).toMatchObject({ reason: 'not_an_image' });
    expect(r.files[3]).toMatchObject({ reason: 'corrupt' });
    expect(r).toMatchObject({ accepted: 2, duplicates: 0, rejected: 2 });
    const stored = await listImages(ctx().deps.db, ds.id);
    expect(stored.map((i) => i.originalName).sort()).toEqual(['a.jpg', 'b.png']);
    expect(stored.every((i) => i.split === 'train' && i.label === 'cats' && i.width === 24)).toBe(true);
  });

  it('takes split and label from split/label/file names and refuses unknown ones and unsafe paths', async () => {
    const ds = await createDataset('paths');
    const body = form([
      { name: 'train/cats/1.jpg', data: await image(10) },
      { name: 'validation/dogs/2.jpg', data: await image(11) },
      { name: 'val/dogs/3.jpg', data: await image(12) },
      { name: 'train/horses/4.jpg', data: await image(13) },
      { name: 'holdout/cats/5.jpg', data: await image(14) },
      { name: '../train/cats/6.jpg', data: await image(15) },
      { name: '7.jpg', data: await image(16) },
    ]);
    const r = uploadResponse.parse((await upload(ds.id, body)).body);
    expect(r.files.map((f) => (f.status === 'rejected' ? f.reason : `${f.split}/${f.label}`))).toEqual([
      'train/cats',
      'validation/dogs',
      'validation/dogs',
      'unknown_label',
      'unknown_split',
      'unsafe_path',
      'unknown_split',
    ]);
  });

  it('says duplicate for a re-upload and keeps one image', async () => {
    const ds = await createDataset('dedup');
    const bytes = await image(20);
    const first = uploadResponse.parse(
      (await upload(ds.id, form([{ name: 'train/cats/x.jpg', data: bytes }]))).body,
    );
    const again = uploadResponse.parse(
      (
        await upload(
          ds.id,
          form([
            { name: 'train/cats/y.jpg', data: bytes },
            { name: 'train/cats/z.jpg', data: bytes },
          ]),
        )
      ).body,
    );
    expect(again.files.map((f) => f.status)).toEqual(['duplicate', 'duplicate']);
    expect(again.files[0]).toMatchObject({ imageId: (first.files[0] as { imageId: string }).imageId });
    expect(await listImages(ctx().deps.db, ds.id)).toHaveLength(1);
  });

  it('refuses too many files and too large bodies with 413 and stores nothing', async () => {
    const ds = await createDataset('limits');
    const small = await image(30, { size: 8 });
    const many = Array.from({ length: 21 }, (_, i) => ({ name: `train/cats/${i}.jpg`, data: small }));
    const tooMany = await upload(ds.id, form(many));
    expect(tooMany.status).toBe(413);
    expect(errorBody.parse(tooMany.body).error.message).toContain('21 files');
    const big = new Uint8Array(500_000);
    const tooBig = await upload(ds.id, form([{ name: 'train/cats/big.jpg', data: big }]));
    expect(tooBig.status).toBe(413);
    expect(errorBody.parse(tooBig.body).error.code).toBe('payload_too_large');
    expect(await listImages(ctx().deps.db, ds.id)).toHaveLength(0);
  });

  it('refuses one file over the byte or pixel limit as too_large and keeps the others', async () => {
    const ds = await createDataset('per-file-limits');
    const heavy = await image(31, { size: 200, format: 'png' });
    expect(heavy.length).toBeGreaterThan(100_000);
    const body = form(
      [
        { name: 'heavy.png', data: heavy },
        { name: 'wide.jpg', data: await image(32, { size: 48 }) },
        { name: 'ok.jpg', data: await image(33) },
      ],
      { split: 'test', label: 'dogs' },
    );
    const r = uploadResponse.parse((await upload(ds.id, body)).body);
    expect(r.files.map((f) => (f.status === 'rejected' ? f.reason : f.status))).toEqual([
      'too_large',
      'too_large',
      'accepted',
    ]);
    expect(r.files[1]).toMatchObject({ message: expect.stringContaining('2304') });
  });
});

describe('archive upload', () => {
  it('stores a tar.gz laid out split/label/file and refuses .., absolute paths and links per entry', async () => {
    const ds = await createDataset('tarred');
    const archive = await tarGz([
      { name: 'set/train/cats/1.jpg', data: await image(40) },
      { name: 'set/test/dogs/2.jpg', data: await image(41) },
      { name: '../escape/train/cats/3.jpg', data: await image(42) },
      { name: '/etc/train/cats/4.jpg', data: await image(43) },
      { name: 'set/train/cats/link.jpg', type: 'symlink', target: '/etc/passwd' },
      { name: 'set/train/cats/hard.jpg', type: 'link', target: 'set/train/cats/1.jpg' },
    ]);
    const res = await ctx().app.request(`/v1/datasets/${ds.id}/archive`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/gzip' },
      body: archive,
    });
    expect(res.status).toBe(200);
    const r = uploadResponse.parse(await res.json());
    expect(r.files.map((f) => (f.status === 'rejected' ? f.reason : f.status))).toEqual([
      'accepted',
      'accepted',
      'unsafe_path',
      'unsafe_path',
      'unsafe_path',
      'unsafe_path',
    ]);
    // The same archive as a multipart part is expanded too; everything already stored is a duplicate.
    const again = uploadResponse.parse(
      (await upload(ds.id, form([{ name: 'set.tgz', data: archive }]))).body,
    );
    expect(again).toMatchObject({ accepted: 0, duplicates: 2, rejected: 4 });
  });

  it('answers 415 for a body that is no archive', async () => {
    const ds = await createDataset('noarchive');
    const res = await ctx().app.request(`/v1/datasets/${ds.id}/archive`, {
      method: 'POST',
      headers: auth,
      body: 'plain text',
    });
    expect(res.status).toBe(415);
  });
});

describe('server folder', () => {
  it('is refused without an import root', async () => {
    const ds = await createDataset('folder-off');
    const res = await ctx().app.request(`/v1/datasets/${ds.id}/folder`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'x' }),
    });
    expect(res.status).toBe(403);
  });
});

describe('health', () => {
  it('reports the tfjs backend, the database and the queue', async () => {
    const res = await ctx().app.request('/health');
    const body = (await res.json()) as { status: string; backend: { name: string }; db: { ok: boolean } };
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']).toContain(body.backend.name);
    expect(body.db.ok).toBe(true);
  });

  it('names where weights came from without what a probe must not see', () => {
    expect(publicWeightsSource('https://u:p@bucket.example/models/w.h5?X-Amz-Signature=abc#x')).toBe(
      'https://bucket.example/models/w.h5',
    );
    expect(publicWeightsSource('/home/ada/models/mobilenet_v1_0.75_224')).toBe('mobilenet_v1_0.75_224');
  });
});

describe('openapi', () => {
  it('serves the OpenAPI 3.1 document of every route the app registers, the one `edgehead openapi gpu` prints', async () => {
    const { app } = ctx();
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(documentProblems(doc, app.routes)).toEqual([]);
    expect(documentedOperations(doc)).toContain('POST /v1/datasets/{id}/images');
    expect(doc).toEqual(openApiDocument('gpu'));
  });

  it('names the credential every route takes, and the service asks for it', async () => {
    const { deps } = ctx();
    const app = createApp({ ...deps, env: parseEnv({ EDGEHEAD_GPU_TOKEN: TOKEN }) });
    const doc = await (await app.request('/openapi.json')).json();
    const sample = (param: string) => (param === 'alias' ? 'pets' : '00000000-0000-4000-8000-000000000000');
    const requests = operationRequests(doc, sample);
    expect(
      requests
        .filter((r) => !r.secured)
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/health', '/openapi.json']);
    for (const { method, path, secured } of requests.filter((r) => r.secured)) {
      const res = await app.request(path, { method });
      expect([method, path, secured, res.status]).toEqual([method, path, true, 401]);
    }
  });
});
