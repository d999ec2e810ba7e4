// Fuzz-style test of every edge route (the dashboard's /api only for its sign-in; its queries are tested by
// their owner): a fixed seed, a few thousand generated requests with bad JSON, wrong types, huge numbers,
// NaN/Infinity, wrong vector lengths, empty/oversized/truncated bodies, wrong content types, odd aliases and
// versions, bad credentials, forged session cookies and Access JWTs.
// Every answer must be a 4xx in the contract's error shape (or a success where the input was valid), never a
// 5xx, and the registry (active pointers, versions, artifacts) must be unchanged afterwards.

import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { CLASSIFY_LIMITS, classifyResponse, errorBody } from '@edgehead/contracts';
import { encodeFloat16 } from '@edgehead/head';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import worker from '../src/index.ts';
import { ADMIN, createKey, fixtures, publish, publishForm } from './helpers.ts';

const SEED = 0x5eed2026;
const CASES = 3000;
const PARALLEL = 8;
const ADMIN_TOKEN = 'test-admin-token';

/** mulberry32: a small seeded PRNG, so every run sends the same requests. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof prng>;

/** One generated request and what the answer must be. */
interface Case {
  what: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: BodyInit;
  /** `ok`: a 2xx; `client`: a 4xx; the answer is checked against the contract either way. */
  expect: 'ok' | 'client';
  /** classify successes: how many predictions. */
  rows?: number;
}

const D = { fz: 16, fzm: 6 } as const;
const LONG = (n: number) => 'x'.repeat(n);
const BAD_ALIASES = [
  'FZ',
  'fz.v1',
  '-fz',
  '_fz',
  'fz%20x',
  '%2e%2e',
  'fz%2F..%2Fadmin',
  encodeURIComponent('fé'),
  encodeURIComponent('🐱'),
  encodeURIComponent('\u202efz'),
  encodeURIComponent('fz\u0000'),
  `fz${LONG(63)}`,
  LONG(5000),
];
const BAD_VERSIONS = [
  '.v1',
  'v1%20x',
  encodeURIComponent('v☃'),
  encodeURIComponent('版本'),
  LONG(65),
  LONG(3000),
  '%00',
];
const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=zz',
  'image/gif',
  'application/jsonx',
  '',
];

let keys: string[] = [];
let keyUses = 0;
const PER_KEY = inject('rateLimit') - 10; // stay under the per-key rate limit: a 429 here would be a fuzz bug
const validKey = () => {
  const key = keys[Math.floor(keyUses++ / PER_KEY)];
  if (!key) throw new Error('fuzz ran out of API keys: raise the key pool');
  return key;
};

function badAuth(r: Rng): Record<string, string> {
  return r.pick<Record<string, string>>([
    {},
    { 'x-api-key': '' },
    { 'x-api-key': 'ehk_0000000000000000_nope' },
    { 'x-api-key': LONG(r.int(1, 9000)) },
    { authorization: 'Bearer' },
    { authorization: 'Basic Zm9vOmJhcg==' },
    { authorization: `Bearer ${ADMIN_TOKEN.slice(1)}` },
    { authorization: `bearer \t ${'~'.repeat(r.int(1, 40))}` },
    { authorization: `Token ${LONG(20)}` },
  ]);
}

function vector(r: Rng, d: number): number[] {
  return Array.from({ length: d }, () => (r.next() * 2 - 1) * r.pick([1, 1e-3, 10, 1e3]));
}

/** A JSON body that must be refused, as text. */
function badJson(r: Rng, d: number): string {
  const v = () => vector(r, d);
  return r.pick([
    () => '',
    () => '   ',
    () => '{',
    () => '{"features":',
    () => `{"features":[${v().join(',')}`,
    () => 'null',
    () => '[]',
    () => '"features"',
    () => '{"features":null}',
    () => '{"features":{}}',
    () => '{"features":[]}',
    () => '{"features":[[]]}',
    () => '{"features":[1,[2]]}',
    () => JSON.stringify({ features: v().map(String) }),
    () => JSON.stringify({ features: [...v(), true] }),
    () => JSON.stringify({ features: v().slice(1) }),
    () => JSON.stringify({ features: [...v(), 0.5] }),
    () => JSON.stringify({ features: [v(), v().slice(0, r.int(0, d - 1))] }),
    () => JSON.stringify({ features: [[v()]] }),
    () => JSON.stringify({ vectors: v() }),
    () =>
      `{"features":[${v().slice(1).join(',')},${r.pick(['NaN', 'Infinity', '-Infinity', 'null', '1e999', '-1e400'])}]}`,
    () =>
      `{"features":[${v().slice(1).join(',')},${r.pick(['1e39', '-3.5e38', '1e300', '1.7976931348623157e308'])}]}`,
    () => JSON.stringify({ features: Array.from({ length: CLASSIFY_LIMITS.maxBatch + 1 }, () => v()) }),
    () => String.fromCharCode(...Array.from({ length: r.int(1, 300) }, () => r.int(0, 255))),
    () => `{"features":${'['.repeat(r.int(2, 3000))}`,
  ])();
}

/** Binary features that must be refused. */
function badBinary(
  r: Rng,
  d: number,
): { body: Uint8Array; query?: string; headers?: Record<string, string> } {
  return r.pick([
    () => ({ body: new Uint8Array(0) }),
    () => ({ body: new Uint8Array(r.int(1, d * 4 - 1)) }),
    () => ({ body: new Uint8Array(d * 4 * r.int(1, 4) + r.int(1, 3)) }),
    () => ({ body: new Uint8Array(d * 2), query: '?dtype=float32x' }),
    () => ({
      body: new Uint8Array(d * 4),
      headers: { 'x-feature-dtype': r.pick(['int8', 'f32', 'float 16', 'FLOAT16']) },
    }),
    () => {
      const f = Float32Array.from(vector(r, d * r.int(1, 3)));
      f[r.int(0, f.length - 1)] = r.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      return { body: new Uint8Array(f.buffer) };
    },
    () => {
      const h = encodeFloat16(vector(r, d));
      h[1] = 0x7c; // exponent all ones: Infinity or NaN in float16
      return { body: h, query: '?dtype=float16' };
    },
    () => ({ body: new Uint8Array((CLASSIFY_LIMITS.maxBatch + 1) * d * 4) }),
  ])();
}

function classifyCase(r: Rng): Case {
  const alias = r.pick(['fz', 'fzm'] as const);
  const d = D[alias];
  const mode = r.int(0, 9);
  const okAuth = mode !== 9;
  const auth = okAuth
    ? r.chance(0.5)
      ? { 'x-api-key': validKey() }
      : { authorization: `${r.pick(['Bearer', 'bearer', 'BEARER'])} ${validKey()}` }
    : badAuth(r);
  const path = `/v1/models/${alias}/classify`;
  if (mode <= 2) {
    // valid: JSON or binary (float32/float16), one vector or a batch
    const rows = r.chance(0.5) ? 1 : r.int(1, 8);
    const batch = Array.from({ length: rows }, () => vector(r, d));
    const kind = r.int(0, 2);
    if (kind === 0) {
      const features = rows === 1 && r.chance(0.5) ? batch[0] : batch;
      return {
        what: `valid JSON x${rows}`,
        method: 'POST',
        path,
        headers: {
          ...auth,
          'content-type': r.pick(['application/json', 'application/json; charset=utf-8', 'Application/JSON']),
        },
        body: JSON.stringify({ features }),
        expect: 'ok',
        rows,
      };
    }
    const f16 = kind === 2;
    const body = f16 ? encodeFloat16(batch.flat()) : new Uint8Array(Float32Array.from(batch.flat()).buffer);
    const byHeader = f16 && r.chance(0.5);
    return {
      what: `valid binary ${f16 ? 'f16' : 'f32'} x${rows}`,
      method: 'POST',
      path: f16 && !byHeader ? `${path}?dtype=float16` : path,
      headers: {
        ...auth,
        'content-type': 'application/octet-stream',
        ...(byHeader ? { 'x-feature-dtype': 'float16' } : {}),
      },
      body,
      expect: 'ok',
      rows,
    };
  }
  if (mode <= 5) {
    return {
      what: 'bad JSON',
      method: 'POST',
      path,
      headers: { ...auth, 'content-type': 'application/json' },
      body: badJson(r, d),
      expect: 'client',
    };
  }
  if (mode <= 7) {
    const bad = badBinary(r, d);
    return {
      what: 'bad binary',
      method: 'POST',
      path: `${path}${bad.query ?? ''}`,
      headers: { ...auth, 'content-type': 'application/octet-stream', ...bad.headers },
      body: bad.body,
      expect: 'client',
    };
  }
  if (mode === 8) {
    const badPath = r.chance(0.5);
    return {
      what: badPath ? 'bad alias' : 'wrong content type',
      method: 'POST',
      path: badPath
        ? `/v1/models/${r.pick([...BAD_ALIASES, 'fz-ghost', 'fz-nope'])}/classify`
        : `${path}${r.pick(['', '?dtype=float16', '?dtype=x&dtype=y'])}`,
      headers: {
        ...auth,
        'content-type': badPath ? 'application/octet-stream' : r.pick(CONTENT_TYPES),
      },
      body: new Uint8Array(Float32Array.from(vector(r, d)).buffer),
      expect: 'client',
    };
  }
  return {
    what: 'bad credentials',
    method: 'POST',
    path,
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ features: vector(r, d) }),
    expect: 'client',
  };
}

function imageCase(r: Rng): Case {
  const okAuth = r.chance(0.8);
  const kind = r.int(0, 4);
  const type = kind === 0 ? r.pick(CONTENT_TYPES) : r.pick(['image/jpeg', 'image/png', 'image/webp']);
  const body =
    kind === 1
      ? new Uint8Array(0)
      : kind === 2
        ? Uint8Array.from([0xff, 0xff, ...Array.from({ length: r.int(0, 50) }, () => r.int(0, 255))])
        : Uint8Array.from({ length: r.int(1, 400) }, () => r.int(0, 255));
  const valid = okAuth && kind >= 3 && !(body[0] === 0xff && body[1] === 0xff);
  return {
    what: `classify-image kind ${kind}`,
    method: 'POST',
    path: `/v1/models/${r.pick(valid ? ['fz'] : ['fz', 'fz-ghost', ...BAD_ALIASES])}/classify-image`,
    headers: { ...(okAuth ? { 'x-api-key': validKey() } : badAuth(r)), 'content-type': type },
    body,
    expect: valid ? 'ok' : 'client',
    rows: 1,
  };
}

/** Multipart bytes of a form (so that it can be truncated) and its content type. */
async function multipart(form: FormData): Promise<{ bytes: Uint8Array; type: string }> {
  const res = new Response(form);
  return { bytes: new Uint8Array(await res.arrayBuffer()), type: res.headers.get('content-type') ?? '' };
}

async function adminCase(r: Rng): Promise<Case> {
  const okToken = r.chance(0.7);
  const auth: Record<string, string> = okToken ? ADMIN : badAuth(r);
  const alias = r.pick(['fz', 'fzm', 'fz-new', ...BAD_ALIASES]);
  const kind = r.int(0, 6);
  if (kind === 0) {
    // publish: with the admin token only bodies that must be refused; without it even a valid artifact
    const version = r.pick(['v1', 'v7', 'x.1', ...BAD_VERSIONS]);
    const path = `/admin/models/${alias}/versions/${version}${r.pick(['', '?activate=true', '?activate=yes'])}`;
    if (!okToken)
      return {
        what: 'publish, bad token',
        method: 'PUT',
        path,
        headers: auth,
        body: publishForm(fixtures.v2),
        expect: 'client',
      };
    // model.json and weights.bin are covered by the manifest's sha256 (a flipped manifest bit may stay valid)
    const flip = r.pick(['model.json', 'weights.bin'] as const);
    const bytes = Uint8Array.from(atob(fixtures.v2.files[flip]), (c) => c.charCodeAt(0));
    const at = r.int(0, bytes.length - 1);
    bytes[at] = (bytes[at] as number) ^ (1 << r.int(0, 7));
    const form = publishForm(fixtures.v2, { [flip]: bytes });
    if (r.chance(0.3)) form.delete(r.pick(['manifest.json', 'model.json', 'weights.bin']));
    const { bytes: raw, type } = await multipart(form);
    const shape = r.int(0, 3);
    return {
      what: `publish, refused body ${shape}`,
      method: 'PUT',
      path,
      headers: { ...auth, 'content-type': shape === 3 ? r.pick(CONTENT_TYPES) : type },
      body:
        shape === 0
          ? raw
          : shape === 1
            ? raw.slice(0, r.int(0, raw.length - 1))
            : shape === 2
              ? new Uint8Array(0)
              : raw,
      expect: 'client',
    };
  }
  if (kind === 1) {
    const body = okToken
      ? r.pick([
          '',
          '{',
          '{}',
          '{"version":7}',
          '{"version":null}',
          '{"version":"v9"}',
          `{"version":"${LONG(70)}"}`,
          '{"version":"v☃"}',
          '[]',
        ])
      : '{"version":"v2"}';
    return {
      what: 'activate',
      method: 'POST',
      path: `/admin/models/${alias}/activate`,
      headers: { ...auth, 'content-type': r.pick(['application/json', 'text/plain', '']) },
      body,
      expect: 'client',
    };
  }
  if (kind === 2) {
    // fz has v1 active, v2 stored, no earlier activation: a rollback has nothing to go back to
    return {
      what: 'rollback',
      method: 'POST',
      path: `/admin/models/${alias}/rollback`,
      headers: auth,
      expect: 'client',
    };
  }
  if (kind === 3) {
    const body = okToken
      ? r.pick([
          '',
          '{',
          '[]',
          '{"name":""}',
          '{"name":7}',
          `{"name":"${LONG(101)}"}`,
          '{"name":null}',
          'null',
        ])
      : '{"name":"intruder"}';
    return {
      what: 'create key',
      method: 'POST',
      path: '/admin/keys',
      headers: { ...auth, 'content-type': 'application/json' },
      body,
      expect: 'client',
    };
  }
  if (kind === 4) {
    const id = r.pick([
      Array.from({ length: 16 }, () => r.pick([...'0123456789abcdef'])).join(''),
      'ABCDEF0123456789',
      LONG(16),
      '..',
      encodeURIComponent('ключ'),
      LONG(4000),
    ]);
    return {
      what: 'delete key',
      method: 'DELETE',
      path: `/admin/keys/${id}`,
      headers: auth,
      expect: 'client',
    };
  }
  if (kind === 5) {
    const known = alias === 'fz' || alias === 'fzm';
    return {
      what: 'list versions',
      method: 'GET',
      path: `/admin/models/${alias}/versions`,
      headers: auth,
      expect: okToken && known ? 'ok' : 'client',
    };
  }
  return {
    what: 'list models',
    method: 'GET',
    path: '/admin/models',
    headers: auth,
    expect: okToken ? 'ok' : 'client',
  };
}

/** A session cookie or Access JWT that must be refused, as request headers. */
function badSession(r: Rng): Record<string, string> {
  const b64 = (v: unknown) =>
    btoa(JSON.stringify(v)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const unsigned = `${b64({ alg: 'none' })}.${b64({ sub: 'admin', exp: 4e9, jti: 'x' })}.`;
  const forged = `${b64({ alg: 'HS256' })}.${b64({ sub: 'admin', exp: 4e9, jti: 'x' })}.${LONG(43)}`;
  const jwt = r.pick([
    '',
    'x',
    'a.b.c',
    unsigned,
    forged,
    LONG(r.int(1, 5000)),
    '..',
    '\u00e9.\u00e9.\u00e9',
  ]);
  return r.pick<Record<string, string>>([
    {},
    { cookie: `__Host-edgehead_session=${jwt}` },
    { cookie: `edgehead_session=${jwt}` },
    { cookie: `__Host-edgehead_session=${jwt}; __Host-edgehead_session=${unsigned}` },
    { 'cf-access-jwt-assertion': jwt || 'x' },
    { 'cf-access-jwt-assertion': forged, cookie: `__Host-edgehead_session=${forged}` },
  ]);
}

function authCase(r: Rng): Case {
  const kind = r.int(0, 3);
  // a client address per request, as Cloudflare sets it: the sign-in limit counts by address
  const client = { 'cf-connecting-ip': `198.51.100.${r.int(0, 255)}` };
  if (kind === 0) {
    const body = r.pick([
      '',
      '{',
      '{}',
      '[]',
      'null',
      '{"token":""}',
      '{"token":7}',
      '{"token":null}',
      `{"token":"${ADMIN_TOKEN.slice(1)}"}`,
      `{"token":"${ADMIN_TOKEN}x"}`,
      `{"token":"${LONG(r.int(4097, 9000))}"}`,
      `{"token":"${ADMIN_TOKEN}","extra":1}`,
      `token=${ADMIN_TOKEN}`,
    ]);
    return {
      what: 'sign in',
      method: 'POST',
      path: '/auth/login',
      headers: {
        ...client,
        'content-type': r.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', '']),
      },
      body,
      expect: 'client',
    };
  }
  const headers = { ...client, ...badSession(r), ...(r.chance(0.5) ? { 'x-csrf-token': LONG(64) } : {}) };
  if (kind === 1)
    return {
      what: 'session',
      method: r.pick(['GET', 'POST']),
      path: r.pick(['/auth/session', '/auth/logout']),
      headers,
      expect: 'client',
    };
  if (kind === 2)
    return {
      what: 'dashboard api',
      method: 'GET',
      path: r.pick(['/api/runs', '/api/models', '/api/facets', `/api/runs/${LONG(36)}`, '/api/nothing']),
      headers,
      expect: 'client',
    };
  return {
    what: 'switch by session',
    method: 'POST',
    path: `/admin/models/fz/${r.pick(['activate', 'rollback'])}`,
    headers: { ...headers, 'content-type': 'application/json', origin: 'http://edge.test' },
    body: '{"version":"v2"}',
    expect: 'client',
  };
}

function strayCase(r: Rng): Case {
  const method = r.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
  const path = r.pick([
    '/health',
    '/health/x',
    '/v1',
    '/v1/models',
    '/v1/models/fz',
    '/v1/models/fz/classify/extra',
    '/admin',
    '/admin/models/fz/versions/v1/extra',
    '/nothing',
    `/${encodeURIComponent('ünïcödé')}`,
    `/${LONG(r.int(1, 6000))}`,
  ]);
  const ok = method === 'GET' && path === '/health';
  return {
    what: `stray ${method}`,
    method,
    path,
    headers: r.chance(0.5) ? ADMIN : { 'x-api-key': 'ehk_nope' },
    body: method === 'GET' || method === 'OPTIONS' ? undefined : r.pick(['', '{}', 'junk']),
    expect: ok ? 'ok' : 'client',
  };
}

/**
 * Sends a request to the worker's fetch handler inside workerd with the test bindings. Not `SELF.fetch`:
 * under vitest-pool-workers every SELF.fetch gets slower as their count grows in one runtime
 * (cloudflare/workers-sdk#15446), which makes thousands of requests take minutes.
 */
async function send(path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://edge.test${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Registry state of the fuzzed aliases: every KV record and every artifact object with its etag. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const prefix of ['registry:fz', 'active:fz']) {
    for (const { name } of (await env.REGISTRY.list({ prefix })).keys)
      out[name] = (await env.REGISTRY.get(name)) ?? '';
  }
  for (const o of (await env.ARTIFACTS.list({ prefix: 'models/fz' })).objects) out[o.key] = o.etag;
  return out;
}

async function check(c: Case, res: Response): Promise<string | null> {
  const text = await res.text();
  const where = `${c.what}: ${c.method} ${c.path.slice(0, 120)} ${JSON.stringify(c.headers).slice(0, 200)} -> ${res.status} ${text.slice(0, 200)}`;
  if (res.status >= 500) return `5xx: ${where}`;
  if (c.expect === 'ok' && (res.status < 200 || res.status > 299)) return `expected a success: ${where}`;
  if (c.expect === 'client' && (res.status < 400 || res.status > 499)) return `expected a 4xx: ${where}`;
  if (!(res.headers.get('content-type') ?? '').startsWith('application/json')) return `not JSON: ${where}`;
  for (const secret of [ADMIN_TOKEN, 'test-gpu-token', ...keys]) {
    if (text.includes(secret)) return `secret in body: ${where}`;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `body not JSON: ${where}`;
  }
  if (res.status >= 400) {
    if (!errorBody.safeParse(json).success) return `error body not in the contract shape: ${where}`;
    if (/\bat .*:\d+:\d+/.test(text)) return `stack in body: ${where}`;
    return null;
  }
  if (c.rows !== undefined) {
    const parsed = classifyResponse.safeParse(json);
    if (!parsed.success) return `classify answer not in the contract shape: ${where}`;
    if (parsed.data.predictions.length !== c.rows) return `wrong prediction count: ${where}`;
    for (const p of parsed.data.predictions)
      for (const v of Object.values(p.probabilities))
        if (!(v >= 0 && v <= 1)) return `probability ${v} outside [0, 1]: ${where}`;
  }
  return null;
}

beforeAll(async () => {
  await publish('fz', 'v1', fixtures.v1);
  await publish('fz', 'v2', fixtures.v2);
  await publish('fzm', 'm1', fixtures.multi);
  keys = await Promise.all(Array.from({ length: Math.ceil(CASES / PER_KEY) + 2 }, () => createKey()));
});

describe('fuzz', () => {
  it(`answers ${CASES} generated requests (seed ${SEED}) with contract 4xx or valid successes, registry unchanged`, async () => {
    const before = await snapshot();
    expect(Object.keys(before).length).toBeGreaterThan(6);
    const r = prng(SEED);
    const failures: string[] = [];
    const counts: Record<string, number> = {};
    for (let i = 0; i < CASES; i += PARALLEL) {
      const batch: Case[] = [];
      for (let j = 0; j < PARALLEL && i + j < CASES; j++) {
        const route = r.int(0, 20);
        batch.push(
          route <= 10
            ? classifyCase(r)
            : route <= 11
              ? imageCase(r)
              : route <= 17
                ? await adminCase(r)
                : route <= 18
                  ? authCase(r)
                  : strayCase(r),
        );
      }
      await Promise.all(
        batch.map(async (c) => {
          const res = await send(c.path, { method: c.method, headers: c.headers, body: c.body });
          counts[`${res.status}`] = (counts[`${res.status}`] ?? 0) + 1;
          const failure = await check(c, res);
          if (failure) failures.push(failure);
        }),
      );
    }
    expect(failures.slice(0, 10)).toEqual([]);
    // every class of answer was exercised
    for (const status of ['200', '400', '401', '403', '404', '409', '413', '415'])
      expect(counts[status] ?? 0, `answers ${status}`).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(before);
    console.log(`fuzz: ${CASES} requests, answers by status`, counts);
  }, 120_000);

  it('refuses bodies over the 16 MiB limit on every body route', async () => {
    const big = new Uint8Array(CLASSIFY_LIMITS.maxBodyBytes + 1);
    const key = keys[keys.length - 1] as string;
    for (const [path, type] of [
      ['/v1/models/fz/classify', 'application/octet-stream'],
      ['/v1/models/fz/classify', 'application/json'],
      ['/v1/models/fz/classify-image', 'image/png'],
    ] as const) {
      const res = await send(path, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': type },
        body: big,
      });
      expect(res.status).toBe(413);
      expect(errorBody.parse(await res.json()).error.code).toBe('payload_too_large');
    }
  });
});
