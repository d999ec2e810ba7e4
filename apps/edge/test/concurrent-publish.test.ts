// Publishers racing on one alias: every write goes through the alias's RegistryWriter (a Durable Object), so
// none of them reads the record while another is between its read and its write.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import type { VersionList } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { ADMIN, binary, call, classify, createKey, filesOf, fixtures, probs, publish } from './helpers.ts';

async function versionsOf(alias: string): Promise<VersionList> {
  const res = await call(`/admin/models/${alias}/versions`, { headers: ADMIN });
  expect(res.status).toBe(200);
  return (await res.json()) as VersionList;
}

describe('concurrent publishers', () => {
  it('lose no version when twelve publish and activate on one alias at the same instant', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    const answers = await Promise.all(
      names.map((v, i) => publish('crowd', v, i % 2 ? fixtures.v2 : fixtures.v1, '?activate=true')),
    );
    expect(answers.map((r) => r.status)).toEqual(names.map(() => 201));

    const list = await versionsOf('crowd');
    expect(list.versions.map((v) => v.version).sort()).toEqual(names);
    // every activation is in the history, and the active version is the last one of them
    expect(list.history.map((h) => h.version).sort()).toEqual(names);
    expect(list.active).toBe(list.history.at(-1)?.version);
    expect(await env.REGISTRY.get('active:crowd')).toBe(list.active);
    const record = await env.REGISTRY.get<{ versions: unknown[] }>('registry:crowd', 'json');
    expect(record?.versions).toHaveLength(12);
  });

  it('let exactly one of four publishes of the same version win, and keep its artifact', async () => {
    const contenders = [fixtures.v1, fixtures.v2, fixtures.v1, fixtures.v2];
    const answers = await Promise.all(contenders.map((f) => publish('race', 'v1', f)));
    const statuses = answers.map((r) => r.status);
    expect([...statuses].sort()).toEqual([201, 409, 409, 409]);
    for (const res of answers.filter((r) => r.status === 409))
      expect(await res.json()).toMatchObject({ error: { code: 'conflict' } });

    const winner = contenders[statuses.indexOf(201)] as (typeof contenders)[number];
    const stored = await env.ARTIFACTS.get('models/race/v1/weights.bin');
    expect(new Uint8Array(await (stored as R2ObjectBody).arrayBuffer())).toEqual(
      filesOf(winner)['weights.bin'],
    );
    const [version] = (await versionsOf('race')).versions;
    expect(version?.manifest.threshold).toBe(winner === fixtures.v1 ? 0.5 : 0.25);
  });
});

describe('a KV write the platform refuses', () => {
  it('is redone from the writer alarm: the publish answers and KV catches up', async () => {
    const writer = env.REGISTRY_WRITER.getByName('kv-refused');
    // KV takes one write per second per key; the next two writes of this writer are refused that way
    let refusals = 2;
    await runInDurableObject(writer, (instance) => {
      const holder = instance as unknown as { env: Env };
      const kv = holder.env.REGISTRY;
      const refusing = new Proxy(kv, {
        get(target, prop) {
          if (prop === 'put' && refusals > 0)
            return async () => {
              refusals--;
              throw new Error('KV PUT failed: 429 Too Many Requests');
            };
          const value = Reflect.get(target, prop);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      holder.env = { ...holder.env, REGISTRY: refusing };
    });
    // a head without a training run: no deployments mirror, the alarm is the KV retry alone
    expect((await publish('kv-refused', 'm1', fixtures.multi)).status).toBe(201);
    expect(await env.REGISTRY.get('registry:kv-refused')).toBeNull();

    // the alarm redoes the copy: refused once more, then written
    await expect
      .poll(async () => {
        await runDurableObjectAlarm(writer);
        return env.REGISTRY.get('active:kv-refused');
      })
      .toBe('m1');
    expect(refusals).toBe(0);
    expect((await versionsOf('kv-refused')).versions.map((v) => v.version)).toEqual(['m1']);
    const key = await createKey();
    const row = Array.from({ length: 6 }, (_, i) => i / 6);
    expect((await probs(await classify('kv-refused', key, binary([row])))).version).toBe('m1');
  });
});
