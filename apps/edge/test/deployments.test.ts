import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ADMIN, call, fixtures, publish } from './helpers.ts';

/** The active deployment of an alias as Postgres records it, read through the dashboard API. */
async function activeInPostgres(alias: string): Promise<string | null> {
  const res = await call('/api/models', { headers: ADMIN });
  expect(res.status).toBe(200);
  const overview = (await res.json()) as { aliases: { alias: string; active: string | null }[] };
  return overview.aliases.find((a) => a.alias === alias)?.active ?? null;
}

const post = (path: string, body?: unknown) =>
  call(path, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: body === undefined ? '{}' : JSON.stringify(body),
  });

describe('deployments in Postgres follow the edge registry', () => {
  it('mirrors activate and rollback into the deployments table (the dashboard and CLI path)', async () => {
    // global-setup.ts recorded `mirrored` v1 (active) and v2 in the database, as a publish from the gpu does
    expect(await activeInPostgres('mirrored')).toBe('v1');
    expect((await publish('mirrored', 'v1', fixtures.v1, '?activate=true')).status).toBe(201);
    expect((await publish('mirrored', 'v2', fixtures.v2)).status).toBe(201);

    // the alias's registry writer records each switch from its alarm, after the answer
    expect((await post('/admin/models/mirrored/activate', { version: 'v2' })).status).toBe(200);
    await expect.poll(() => activeInPostgres('mirrored')).toBe('v2');

    const rolledBack = await post('/admin/models/mirrored/rollback');
    expect(await rolledBack.json()).toMatchObject({ active: 'v1', previous: 'v2' });
    await expect.poll(() => activeInPostgres('mirrored')).toBe('v1');
  });

  it('still activates at the edge a version that has no deployment row', async () => {
    expect((await publish('unrecorded', 'v1', fixtures.v1)).status).toBe(201);
    const res = await post('/admin/models/unrecorded/activate', { version: 'v1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ alias: 'unrecorded', active: 'v1' });
    // the writer's alarm found no row to switch: nothing left to retry, nothing recorded
    await expect
      .poll(() =>
        runInDurableObject(env.REGISTRY_WRITER.getByName('unrecorded'), (_, state) =>
          state.storage.get('mirror'),
        ),
      )
      .toBeUndefined();
    expect(await activeInPostgres('unrecorded')).toBeNull();
  });

  it('leaves Postgres alone for a head published by another tool (no training run in its manifest)', async () => {
    expect((await publish('foreign', 'm1', fixtures.multi)).status).toBe(201);
    const writer = env.REGISTRY_WRITER.getByName('foreign');
    // no deployments row can exist for it: no alarm was set, nothing waits for the database
    expect(await runDurableObjectAlarm(writer)).toBe(false);
    expect(await runInDurableObject(writer, (_, state) => state.storage.get('mirror'))).toBeUndefined();
    expect(await env.REGISTRY.get('active:foreign')).toBe('m1');
  });
});
