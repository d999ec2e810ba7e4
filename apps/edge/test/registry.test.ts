import { env } from 'cloudflare:workers';
import type { ClassifyResponse, VersionList } from '@edgehead/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  binary,
  call,
  classify,
  createKey,
  fixtures,
  probs,
  publish,
  publishForm,
} from './helpers.ts';

let key: string;
beforeAll(async () => {
  key = await createKey();
});

function expectMatches(body: ClassifyResponse, expected: number[][], version: string) {
  expect(body.version).toBe(version);
  expect(body.predictions).toHaveLength(expected.length);
  for (const [i, p] of body.predictions.entries()) {
    const dogs = expected[i]?.[0] as number;
    expect(Math.abs((p.probabilities.dogs as number) - dogs)).toBeLessThanOrEqual(1e-5);
    expect(p.label).toBe(dogs >= (version === 'v1' ? 0.5 : 0.25) ? 'dogs' : 'cats');
  }
}

describe('model registry', () => {
  it('publishes, classifies, switches versions and rolls back, with tfjs outputs each time', async () => {
    const first = await publish('pets', 'v1', fixtures.v1);
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ alias: 'pets', version: 'v1', active: true });
    expectMatches(
      await probs(await classify('pets', key, binary(fixtures.v1.inputs))),
      fixtures.v1.expected,
      'v1',
    );

    // a second version without ?activate=true is stored but not active
    expect((await publish('pets', 'v2', fixtures.v2)).status).toBe(201);
    expect((await probs(await classify('pets', key, binary(fixtures.v1.inputs)))).version).toBe('v1');

    const activated = await call('/admin/models/pets/activate', {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: '{"version":"v2"}',
    });
    expect(await activated.json()).toEqual({ alias: 'pets', active: 'v2', previous: 'v1' });
    expectMatches(
      await probs(await classify('pets', key, binary(fixtures.v2.inputs))),
      fixtures.v2.expected,
      'v2',
    );

    const rolled = await call('/admin/models/pets/rollback', { method: 'POST', headers: ADMIN });
    expect(await rolled.json()).toEqual({ alias: 'pets', active: 'v1', previous: 'v2' });
    expectMatches(
      await probs(await classify('pets', key, binary(fixtures.v1.inputs))),
      fixtures.v1.expected,
      'v1',
    );

    const list = (await (
      await call('/admin/models/pets/versions', { headers: ADMIN })
    ).json()) as VersionList;
    expect(list.active).toBe('v1');
    expect(list.versions.map((v) => v.version)).toEqual(['v1', 'v2']);
    expect(list.history.map((h) => [h.version, h.reason])).toEqual([
      ['v1', 'publish'],
      ['v2', 'activate'],
      ['v1', 'rollback'],
    ]);
    const models = await (await call('/admin/models', { headers: ADMIN })).json();
    expect(models).toEqual({
      models: expect.arrayContaining([{ alias: 'pets', active: 'v1', versions: 2 }]),
    });
  });

  it('activates on publish with ?activate=true', async () => {
    await publish('quick', 'a', fixtures.v1);
    const res = await publish('quick', 'b', fixtures.v2, '?activate=true');
    expect(await res.json()).toMatchObject({ active: true });
    expect((await probs(await classify('quick', key, binary(fixtures.v2.inputs)))).version).toBe('b');
  });

  it('rejects a checksum mismatch and leaves nothing visible', async () => {
    const weights = Uint8Array.from(atob(fixtures.v1.files['weights.bin']), (c) => c.charCodeAt(0));
    weights[3] = (weights[3] as number) ^ 0x40;
    const res = await call('/admin/models/broken/versions/v1', {
      method: 'PUT',
      headers: ADMIN,
      body: publishForm(fixtures.v1, { 'weights.bin': weights }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { code: string; message: string; details: { reason: string; file: string } };
    };
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details).toMatchObject({ reason: 'checksum_mismatch', file: 'weights.bin' });
    expect((await call('/admin/models/broken/versions', { headers: ADMIN })).status).toBe(404);
    expect((await env.ARTIFACTS.list({ prefix: 'models/broken/' })).objects).toHaveLength(0);
    expect((await classify('broken', key, binary(fixtures.v1.inputs))).status).toBe(404);
  });

  it('refuses to overwrite a published version', async () => {
    await publish('immutable', 'v1', fixtures.v1);
    const res = await publish('immutable', 'v1', fixtures.v2);
    expect(res.status).toBe(409);
  });

  it('answers 4xx for missing parts, bad version names, unknown versions and nothing to roll back to', async () => {
    const form = publishForm(fixtures.v1);
    form.delete('weights.bin');
    const missing = await call('/admin/models/parts/versions/v1', {
      method: 'PUT',
      headers: ADMIN,
      body: form,
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { details: unknown } }).error.details).toEqual({
      missing: ['weights.bin'],
    });

    const badName = await publish('pets', 'bad%20name!', fixtures.v1);
    expect(badName.status).toBe(400);
    expect(await badName.json()).toMatchObject({
      error: { code: 'validation_failed', details: { field: 'version' } },
    });

    const unknown = await call('/admin/models/pets/activate', {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: '{"version":"v9"}',
    });
    expect(unknown.status).toBe(404);

    await publish('lonely', 'only', fixtures.v1);
    expect((await call('/admin/models/lonely/rollback', { method: 'POST', headers: ADMIN })).status).toBe(
      409,
    );
    expect((await call('/admin/models/nobody/rollback', { method: 'POST', headers: ADMIN })).status).toBe(
      404,
    );
  });
});

describe('head loading', () => {
  it('runs the wasm SIMD kernel inside workerd, loaded once per (alias, version)', async () => {
    const { getHead } = await import('../src/heads.ts');
    await publish('kernel', 'v1', fixtures.v1);
    const a = await getHead(env.ARTIFACTS, 'kernel', 'v1');
    expect(a.model.kernel).toBe('wasm');
    expect(await getHead(env.ARTIFACTS, 'kernel', 'v1')).toBe(a);
  });
});
