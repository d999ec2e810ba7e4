// The registry while Postgres misbehaves: the database proxy of global-setup.ts refuses connections, accepts
// and never answers, or drops them mid-query. Publish, activate and rollback must answer as usual (the
// default 5 s test timeout is below what waiting on the database would cost: its 3 s connect timeout or 5 s
// deadline per request), KV must serve the switch, and the deployments mirror must catch up once it is back.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DbMode } from './db-proxy.ts';
import { ADMIN, binary, call, classify, createKey, fixtures, probs, publish } from './helpers.ts';

async function setDatabase(mode: DbMode) {
  const res = await fetch(`http://db-proxy.test/mode/${mode}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as { mode: DbMode; connections: Partial<Record<DbMode, number>> };
}

/** The switch the alias's writer has not recorded in Postgres yet. */
const pendingMirror = (alias: string) =>
  runInDurableObject(env.REGISTRY_WRITER.getByName(alias), (_, state) =>
    state.storage.get<{ version: string; by: string; attempts: number }>('mirror'),
  );

/** The active deployment of an alias as Postgres records it, read through the dashboard API. */
async function activeInPostgres(alias: string): Promise<string | null> {
  const res = await call('/api/models', { headers: ADMIN });
  expect(res.status).toBe(200);
  const overview = (await res.json()) as { aliases: { alias: string; active: string | null }[] };
  return overview.aliases.find((a) => a.alias === alias)?.active ?? null;
}

const post = (path: string, body = '{}') =>
  call(path, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body });

let key: string;
beforeAll(async () => {
  key = await createKey();
});

describe.each([
  ['refuse', 'refuses connections'],
  ['hang', 'accepts connections and never answers'],
  ['drop', 'drops the connection in the middle of a query'],
] as const)('while the database %s (%s)', (mode, _what) => {
  const alias = `offline-${mode}`;

  it('publish, activate and rollback answer, and classify serves the switch', async () => {
    // global-setup.ts recorded v1 as the active deployment of this alias
    expect(await activeInPostgres(alias)).toBe('v1');
    await setDatabase(mode);
    expect((await publish(alias, 'v1', fixtures.v1)).status).toBe(201);
    const second = await publish(alias, 'v2', fixtures.v2, '?activate=true');
    expect(await second.json()).toMatchObject({ alias, version: 'v2', active: true });
    expect(await (await post(`/admin/models/${alias}/activate`, '{"version":"v1"}')).json()).toEqual({
      alias,
      active: 'v1',
      previous: 'v2',
    });
    expect(await (await post(`/admin/models/${alias}/rollback`)).json()).toEqual({
      alias,
      active: 'v2',
      previous: 'v1',
    });
    expect((await probs(await classify(alias, key, binary(fixtures.v2.inputs)))).version).toBe('v2');
    expect(await env.REGISTRY.get(`active:${alias}`)).toBe('v2');
  });

  it('keeps the switch for Postgres and records it once the database is back', async () => {
    // the writer's alarm tried the database, failed, and keeps the newest switch for a retry
    await expect
      .poll(async () => (await pendingMirror(alias))?.attempts ?? 0, { timeout: 25_000, interval: 200 })
      .toBeGreaterThan(0);
    expect(await pendingMirror(alias)).toMatchObject({ version: 'v2', by: 'rollback' });
    const retryAt = await runInDurableObject(env.REGISTRY_WRITER.getByName(alias), (_, state) =>
      state.storage.getAlarm(),
    );
    expect(retryAt).toBeGreaterThan(Date.now() - 1000); // a retry is scheduled
    const { connections } = await setDatabase('pass');
    if (mode !== 'refuse') expect(connections[mode] ?? 0).toBeGreaterThan(0);

    // the scheduled retry (2-4 s after a failed attempt) records it
    await expect.poll(() => pendingMirror(alias), { timeout: 20_000, interval: 250 }).toBeUndefined();
    expect(await activeInPostgres(alias)).toBe('v2');
  }, 60_000);
});
