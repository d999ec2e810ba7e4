import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { type CreateKeyResponse, errorBody } from '@edgehead/contracts';
import { sha256Hex } from '@edgehead/head';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN, binary, call, classify, createKey, fixtures, publish, publishForm } from './helpers.ts';

const ADMIN_TOKEN = 'test-admin-token';
const one = () => binary([fixtures.v1.inputs[0] as number[]]);

beforeAll(async () => {
  await publish('sec', 'v1', fixtures.v1);
  await publish('sec', 'v2', fixtures.v2);
});

/** The contract's error body, checked; returns it. */
async function errorOf(res: Response, status: number, code: string) {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = errorBody.parse(await res.json());
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  return body.error;
}

/** Every admin route with a body that would succeed given the right token. */
const adminRoutes: { method: string; path: string; body?: () => BodyInit; type?: string }[] = [
  { method: 'GET', path: '/admin/models' },
  { method: 'GET', path: '/admin/models/sec/versions' },
  {
    method: 'PUT',
    path: '/admin/models/sec/versions/v9?activate=true',
    body: () => publishForm(fixtures.v2),
  },
  {
    method: 'POST',
    path: '/admin/models/sec/activate',
    body: () => '{"version":"v2"}',
    type: 'application/json',
  },
  { method: 'POST', path: '/admin/models/sec/rollback' },
  { method: 'POST', path: '/admin/keys', body: () => '{"name":"x"}', type: 'application/json' },
  { method: 'DELETE', path: '/admin/keys/0123456789abcdef' },
  { method: 'POST', path: '/admin/sign-in-links' },
  { method: 'GET', path: '/admin/no-such-route' },
];

describe('admin token', () => {
  it('guards every admin route: 401 without a token or session, 403 with a wrong token, and nothing changes', async () => {
    const before = await (await call('/admin/models/sec/versions', { headers: ADMIN })).json();
    const wrong = [
      undefined,
      'Bearer',
      'Bearer ',
      `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`,
      ADMIN_TOKEN,
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
      `Bearer ${ADMIN_TOKEN}x`,
      `Bearer ${ADMIN_TOKEN.toUpperCase()}`,
      `Bearer ${'a'.repeat(10_000)}`,
    ];
    for (const route of adminRoutes) {
      for (const authorization of wrong) {
        const headers: Record<string, string> = {};
        if (authorization !== undefined) headers.authorization = authorization;
        if (route.type) headers['content-type'] = route.type;
        const res = await call(route.path, { method: route.method, headers, body: route.body?.() });
        const missing = authorization === undefined || !/^Bearer\s+\S/i.test(authorization);
        const error = await errorOf(res, missing ? 401 : 403, missing ? 'unauthorized' : 'forbidden');
        expect(error.message).not.toContain(ADMIN_TOKEN);
      }
    }
    expect(await (await call('/admin/models/sec/versions', { headers: ADMIN })).json()).toEqual(before);
    expect((await env.ARTIFACTS.list({ prefix: 'models/sec/v9/' })).objects).toHaveLength(0);
    const links = await runInDurableObject(
      env.SIGN_IN_LINKS.getByName('sign-in-links'),
      async (_, state) => (await state.storage.list()).size,
    );
    expect(links).toBe(0); // no sign-in link was made by a refused request
  });
});

describe('API keys', () => {
  it('are stored only as their sha256 and never echoed in errors', async () => {
    const created = (await (
      await call('/admin/keys', {
        method: 'POST',
        headers: { ...ADMIN, 'content-type': 'application/json' },
        body: '{"name":"stored"}',
      })
    ).json()) as CreateKeyResponse;
    const hash = await sha256Hex(new TextEncoder().encode(created.key));
    expect(await env.REGISTRY.get(`apikey:${hash}`, 'json')).toEqual({
      id: created.id,
      name: 'stored',
      createdAt: created.createdAt,
    });
    const { keys } = await env.REGISTRY.list();
    for (const { name } of keys) {
      expect(name).not.toContain(created.key);
      expect((await env.REGISTRY.get(name)) ?? '').not.toContain(created.key);
    }
    // one character off (not the same character: a key ending in '0' would otherwise be itself)
    const near = `${created.key.slice(0, -1)}${created.key.endsWith('0') ? '1' : '0'}`;
    const error = await errorOf(await classify('sec', near, one()), 403, 'forbidden');
    expect(JSON.stringify(error)).not.toContain(near);
  });

  it('stop working at once in the isolate that revoked them, even while cached', async () => {
    const created = (await (
      await call('/admin/keys', {
        method: 'POST',
        headers: { ...ADMIN, 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as CreateKeyResponse;
    expect((await classify('sec', created.key, one())).status).toBe(200);
    expect((await classify('sec', created.key, one())).status).toBe(200); // now from the isolate's cache
    expect((await call(`/admin/keys/${created.id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(200);
    await errorOf(await classify('sec', created.key, one()), 403, 'forbidden');
    await errorOf(
      await call('/v1/models/sec/classify', {
        method: 'POST',
        headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/octet-stream' },
        body: one(),
      }),
      403,
      'forbidden',
    );
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past the per-key limit, and only for that key', async () => {
    const limit = inject('rateLimit');
    // the emulated limiter counts in fixed 60 s windows: start well inside one
    const intoWindow = Date.now() % 60_000;
    if (intoWindow > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoWindow));
    const busy = await createKey();
    const other = await createKey();
    for (let i = 0; i < limit; i++) {
      const res = await classify('sec', busy, one());
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const limited = await classify('sec', busy, one());
    expect(limited.headers.get('retry-after')).toBe('60');
    const error = await errorOf(limited, 429, 'rate_limited');
    expect(error.details).toEqual({ retryAfterSeconds: 60 });
    expect(error.message).not.toContain(busy);
    expect((await classify('sec', other, one())).status).toBe(200);
    // a request refused before the key is known does not count against anyone
    await errorOf(await classify('sec', 'ehk_unknown', one()), 403, 'forbidden');
    expect((await call('/admin/models', { headers: ADMIN })).status).toBe(200);
  }, 30_000); // it may first wait up to 10 s for a fresh window
});

describe('admin token guessing', () => {
  it('counts wrong bearer tokens per address, then locks the address out, the right token too', async () => {
    const limit = inject('rateLimit');
    const intoWindow = Date.now() % 60_000;
    if (intoWindow > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoWindow));
    const from = (ip: string, token: string) => ({
      headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': ip },
    });
    const guesser = '203.0.113.7';
    for (let i = 0; i < limit; i++) {
      await errorOf(await call('/admin/models', from(guesser, `guess-${i}`)), 403, 'forbidden');
    }
    const limited = await call('/admin/models', from(guesser, 'guess-last'));
    expect(limited.headers.get('retry-after')).toBe('60');
    await errorOf(limited, 429, 'rate_limited');
    // locked out: a right guess now learns nothing, and signing in is refused as well
    await errorOf(await call('/admin/models', from(guesser, ADMIN_TOKEN)), 429, 'rate_limited');
    const signIn = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': guesser },
      body: JSON.stringify({ token: ADMIN_TOKEN }),
    });
    await errorOf(signIn, 429, 'rate_limited');
    // other addresses, and the right token used many times, are not limited
    for (let i = 0; i < limit + 5; i++) {
      const res = await call('/admin/models', from('203.0.113.8', ADMIN_TOKEN));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }, 30_000);
});

describe('CORS', () => {
  // the dashboard is served by this worker (same origin): no route grants another origin anything
  it('grants no cross-origin access on /v1, /admin or /health, preflight or not', async () => {
    const origin = 'https://evil.example';
    for (const path of ['/v1/models/sec/classify', '/admin/models', '/admin/keys', '/health']) {
      const preflight = await call(path, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(preflight.status).toBeGreaterThanOrEqual(400);
      expect(preflight.status).toBeLessThan(500);
      await preflight.arrayBuffer();
      const simple = await call(path, { headers: { origin, ...ADMIN } });
      await simple.arrayBuffer();
      for (const res of [preflight, simple]) {
        expect(res.headers.get('access-control-allow-origin')).toBeNull();
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      }
    }
  });
});

describe('internal errors', () => {
  it('answer 500 with the contract body and no stack, message or secret', async () => {
    await env.REGISTRY.put('registry:corrupt', '{"versions": [', {});
    const key = await createKey();
    const res = await call('/admin/models/corrupt/versions', { headers: ADMIN });
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal', message: 'internal error' } });
    const viaClassify = await classify('corrupt', key, one());
    expect(viaClassify.status).toBe(500);
    const body = await viaClassify.text();
    expect(body).toBe(text);
    for (const leak of [ADMIN_TOKEN, key, 'SyntaxError', ' at ', '.ts', 'test-gpu-token']) {
      expect(text).not.toContain(leak);
    }
    await env.REGISTRY.delete('registry:corrupt');
  });
});
