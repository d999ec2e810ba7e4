// The dashboard's sign-in: the page and every /api route need a session (the edge's cookie, or Cloudflare
// Access' JWT, verified against the team keys that vitest.config.ts serves), sessions are bounded to the
// registry's list/activate/rollback, and their changes need the CSRF token and the page's own origin.
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { errorBody, type SessionResponse, type SignInLinkResponse } from '@edgehead/contracts';
import { edgeRoutes } from '@edgehead/contracts/api';
import { exportJWK, generateKeyPair, importJWK, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import worker from '../src/index.ts';
import { issueSession } from '../src/session.ts';
import {
  ADMIN,
  call,
  fixtures,
  publish,
  publishForm,
  sessionCookieOf,
  signIn,
  type TestSession,
} from './helpers.ts';

const access = inject('access');
const ORIGIN = 'http://edge.test';
const RUN = '00000000-0000-4000-8000-000000000001';

/** Queries a dashboard API route needs to answer 200 or 404 rather than 400. */
const EXAMPLE_QUERIES: Record<string, string> = {
  '/api/compare': `?ids=${RUN},00000000-0000-4000-8000-000000000002`,
};
/** Every dashboard API route of the contracts (a new one is covered without editing this list). */
const API_GETS = Object.values(edgeRoutes).filter((r) => r.method === 'get' && r.path.startsWith('/api/'));
const API_ROUTES = API_GETS.map((r) => r.path.replace('{id}', RUN) + (EXAMPLE_QUERIES[r.path] ?? ''));
/** What each route answers on success: JSON, or (the augmented samples) a picture. */
const SUCCESS_TYPE = Object.fromEntries(
  API_GETS.map((r, i) => [
    API_ROUTES[i],
    Object.keys((r.responses as Record<number, { content?: object }>)[200]?.content ?? {})[0] ?? '',
  ]),
);
const PAGES = ['/', '/index.html', '/?from=mail'];

async function errorOf(res: Response, status: number, code: string) {
  const body = errorBody.parse(await res.json());
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  return body.error;
}

/** An Access JWT as Cloudflare would send it, signed with the test team's key unless `key` says otherwise. */
async function accessJwt(
  claims: JWTPayload = {},
  options: { key?: CryptoKey; expiresIn?: string | number } = {},
) {
  const key = options.key ?? ((await importJWK(access.privateJwk, 'RS256')) as CryptoKey);
  return new SignJWT({
    email: 'ada@example.com',
    type: 'app',
    iss: access.team,
    aud: [access.audience],
    sub: 'user-ada',
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(key);
}

/** How often the worker has fetched the test team's keys (vitest.config.ts counts them). */
const jwksFetches = async () =>
  ((await (await fetch(`${access.team}/test/jwks-fetches`)).json()) as { fetches: number }).fetches;

const withCookie = (session: TestSession, init: RequestInit = {}) => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), cookie: session.cookie },
});

beforeAll(async () => {
  await publish('dash', 'v1', fixtures.v1);
  await publish('dash', 'v2', fixtures.v2);
});

describe('without a session', () => {
  it('every /api route answers 401 and every page redirects to the sign-in page', async () => {
    for (const path of [...API_ROUTES, '/api/no-such-route']) {
      const error = await errorOf(await call(path), 401, 'unauthorized');
      expect(error.message).toContain('sign in');
    }
    for (const path of PAGES) {
      const res = await call(path, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(`/signin?next=${encodeURIComponent(path)}`);
      expect(await res.text()).not.toContain('<script');
    }
    // the sign-in page itself is public; a path that is no asset is the usual JSON 404
    const signin = await call('/signin');
    expect(signin.status).toBe(200);
    expect(signin.headers.get('content-type')).toMatch(/^text\/html/);
    expect(signin.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    await errorOf(await call('/runs/whatever'), 404, 'not_found');
  });

  it('refuses an expired cookie, a tampered one and one of another admin token', async () => {
    const { cookie } = await signIn();
    const [name, jwt] = cookie.split('=') as [string, string];
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    const longer = btoa(JSON.stringify({ ...claims, exp: claims.exp + 86_400 }))
      .replace(/=+$/, '')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    // a character in the middle: the last one of a base64url signature carries padding bits, so changing
    // it can leave the decoded bytes as they were
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 13 * 60 * 60 * 1000); // a sign-in 13 h ago: 1 h past its 12 h
    const old = await issueSession('test-admin-token', 'token');
    vi.useRealTimers();
    const other = await issueSession('another-deployments-admin-token', 'token');
    const cases: [string, string, string][] = [
      ['expired', old.value, 'expired'],
      ['payload changed', `${header}.${longer}.${signature}`, 'not valid'],
      ['signature changed', `${header}.${payload}.${flipped}`, 'not valid'],
      ['other token', other.value, 'not valid'],
      ['not a JWT', 'admin', 'not valid'],
    ];
    for (const [what, value, message] of cases) {
      const headers = { cookie: `${name}=${value}` };
      const error = await errorOf(await call('/api/runs', { headers }), 401, 'unauthorized');
      expect(error.message, what).toContain(message);
      const page = await call('/', { headers, redirect: 'manual' });
      expect(page.status, what).toBe(302);
      await errorOf(
        await call('/admin/models/dash/rollback', {
          method: 'POST',
          headers: { ...headers, origin: ORIGIN },
        }),
        401,
        'unauthorized',
      );
    }
    expect(await env.REGISTRY.get('active:dash')).toBe('v1');
  });
});

describe('signing in with the admin token', () => {
  it('sets an HttpOnly, Secure, SameSite=Strict __Host- cookie that expires with the session', async () => {
    const res = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN },
      body: '{"token":"test-admin-token"}',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as SessionResponse;
    expect(body).toMatchObject({
      user: 'admin',
      via: 'token',
      csrfToken: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const hours = (Date.parse(body.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    const [cookie] = res.headers.getAll('set-cookie');
    const attributes = (cookie as string).split(';').map((a) => a.trim());
    expect(attributes[0]).toMatch(/^__Host-edgehead_session=ey/);
    expect(attributes.slice(1).sort()).toEqual(
      ['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict', 'Secure'].sort(),
    );
    expect(cookie).not.toContain('test-admin-token');
  });

  it('refuses a wrong token, a missing one and a sign-in posted from another site', async () => {
    const post = (body: string, origin = ORIGIN) =>
      call('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json', origin }, body });
    const wrong = await post('{"token":"test-admin-tokem"}');
    const error = await errorOf(wrong, 403, 'forbidden');
    expect(error.details).toEqual({ field: 'token' });
    expect(sessionCookieOf(wrong)).toBeNull();
    expect((await errorOf(await post('{}'), 400, 'validation_failed')).message).toContain('token');
    await errorOf(await post('{"token":"test-admin-token"}', 'https://evil.example'), 403, 'forbidden');
  });

  it('opens the page and every /api route, and tells the page who is signed in', async () => {
    const session = await signIn();
    for (const path of API_ROUTES) {
      const res = await call(path, withCookie(session));
      // an unknown run is the API's own 404, not an auth failure
      expect([200, 404], path).toContain(res.status);
      const type = res.status === 200 ? SUCCESS_TYPE[path] : 'application/json';
      expect(res.headers.get('content-type'), path).toContain(type);
    }
    const models = (await (await call('/api/models', withCookie(session))).json()) as { aliases: unknown[] };
    expect(models.aliases.length).toBeGreaterThan(0);
    const page = await call('/', withCookie(session));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const me = (await (await call('/auth/session', withCookie(session))).json()) as SessionResponse;
    expect(me).toMatchObject({ user: 'admin', via: 'token', csrfToken: session.csrfToken });
  });
});

describe('a session at the registry', () => {
  it('lists, activates and rolls back with its CSRF token from the page origin', async () => {
    const session = await signIn();
    const list = await call('/admin/models/dash/versions', withCookie(session));
    expect(list.status).toBe(200);
    const activate = await call(
      '/admin/models/dash/activate',
      withCookie(session, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-csrf-token': session.csrfToken },
        body: '{"version":"v2"}',
      }),
    );
    expect(await activate.json()).toEqual({ alias: 'dash', active: 'v2', previous: 'v1' });
    const back = await call(
      '/admin/models/dash/rollback',
      withCookie(session, { method: 'POST', headers: { 'x-csrf-token': session.csrfToken } }),
    );
    expect(await back.json()).toMatchObject({ active: 'v1' });
  });

  it("refuses a change without the CSRF token, with another session's, or from another site", async () => {
    const session = await signIn();
    const other = await signIn();
    const rollback = (headers: Record<string, string>) =>
      call('/admin/models/dash/rollback', withCookie(session, { method: 'POST', headers }));
    const refusals: [string, Record<string, string>, string][] = [
      ['no token', { origin: ORIGIN }, 'x-csrf-token'],
      ['wrong token', { origin: ORIGIN, 'x-csrf-token': 'f'.repeat(64) }, 'x-csrf-token'],
      ["another session's token", { origin: ORIGIN, 'x-csrf-token': other.csrfToken }, 'x-csrf-token'],
      ['another origin', { origin: 'https://evil.example', 'x-csrf-token': session.csrfToken }, 'cross-site'],
      [
        'cross-site fetch',
        { 'sec-fetch-site': 'cross-site', 'x-csrf-token': session.csrfToken },
        'cross-site',
      ],
    ];
    for (const [what, headers, message] of refusals) {
      const error = await errorOf(await rollback(headers), 403, 'forbidden');
      expect(error.message, what).toContain(message);
    }
    expect(await env.REGISTRY.get('active:dash')).toBe('v1');
  });

  it('may not publish, create or delete API keys, or make sign-in links', async () => {
    const session = await signIn();
    const headers = { origin: ORIGIN, 'x-csrf-token': session.csrfToken };
    const refused = [
      call(
        '/admin/models/dash/versions/v3',
        withCookie(session, { method: 'PUT', headers, body: publishForm(fixtures.v1) }),
      ),
      call(
        '/admin/keys',
        withCookie(session, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
      call('/admin/keys/0123456789abcdef', withCookie(session, { method: 'DELETE', headers })),
      call('/admin/sign-in-links', withCookie(session, { method: 'POST', headers })),
    ];
    for (const res of await Promise.all(refused)) {
      const error = await errorOf(res, 403, 'forbidden');
      expect(error.message).toContain('needs the admin token');
    }
    expect((await env.ARTIFACTS.list({ prefix: 'models/dash/v3/' })).objects).toHaveLength(0);
  });

  it('signs out: the cookie is cleared, and a copy of it no longer works', async () => {
    const session = await signIn();
    const other = await signIn();
    const res = await call(
      '/auth/logout',
      withCookie(session, { method: 'POST', headers: { 'x-csrf-token': session.csrfToken } }),
    );
    expect(await res.json()).toEqual({ signedOut: true, via: 'token' });
    expect(res.headers.getAll('set-cookie')[0]).toMatch(/^__Host-edgehead_session=; Max-Age=0/);
    const copied = await errorOf(await call('/api/models', withCookie(session)), 401, 'unauthorized');
    expect(copied.message).toContain('signed out');
    // only that session ended
    expect((await call('/api/models', withCookie(other))).status).toBe(200);
  });
});

describe('one-time sign-in links', () => {
  const storedLinks = () =>
    runInDurableObject(
      env.SIGN_IN_LINKS.getByName('sign-in-links'),
      async (_, state) => (await state.storage.list()).size,
    );
  const spend = (token: string, origin = ORIGIN) =>
    call('/auth/link', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });
  const newLink = async () => {
    const created = await call('/admin/sign-in-links', { method: 'POST', headers: ADMIN });
    expect(created.status).toBe(201);
    const link = (await created.json()) as SignInLinkResponse;
    return { link, url: new URL(link.url), token: new URL(link.url).searchParams.get('token') as string };
  };

  it('open a page that does not spend them; its form signs in once', async () => {
    const { link, url, token } = await newLink();
    expect(url.origin + url.pathname).toBe(`${ORIGIN}/auth/link`);
    expect((Date.parse(link.expiresAt) - Date.now()) / 60_000).toBeCloseTo(10, 0);
    expect(await storedLinks()).toBe(1);

    // a link preview (or the user twice) fetches the page: nothing is spent, no cookie
    for (let i = 0; i < 2; i++) {
      const page = await call(`${url.pathname}${url.search}`, { redirect: 'manual' });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<form method="post" action="/auth/link">');
      expect(html).toContain(`value="${token}"`);
      expect(sessionCookieOf(page)).toBeNull();
    }
    expect(await storedLinks()).toBe(1);

    await errorOf(await spend(token, 'https://evil.example'), 403, 'forbidden');
    const first = await spend(token);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('url=/');
    const cookie = sessionCookieOf(first) as string;
    expect(cookie).toBeTruthy();
    expect(await storedLinks()).toBe(0);
    const me = (await (await call('/auth/session', { headers: { cookie } })).json()) as SessionResponse;
    expect(me.via).toBe('link');
    expect((await call('/api/models', { headers: { cookie } })).status).toBe(200);

    const again = await spend(token);
    expect([again.status, again.headers.get('location')]).toEqual([303, '/signin?error=link']);
    expect(sessionCookieOf(again)).toBeNull();
    const forged = await spend('0'.repeat(64));
    expect(forged.headers.get('location')).toBe('/signin?error=link');
    const badPage = await call('/auth/link?token=%22%3E%3Cscript%3E', { redirect: 'manual' });
    expect([badPage.status, badPage.headers.get('location')]).toEqual([303, '/signin?error=link']);
  });

  it('are spent by exactly one of many requests racing with the same link', async () => {
    const { token } = await newLink();
    const answers = await Promise.all(Array.from({ length: 8 }, () => spend(token)));
    const signedIn = answers.filter((res) => sessionCookieOf(res) !== null);
    expect(signedIn).toHaveLength(1);
    expect(answers.map((res) => res.status).sort()).toEqual([200, ...Array(7).fill(303)]);
  });
});

describe('Cloudflare Access', () => {
  const withJwt = (jwt: string, init: RequestInit = {}) => ({
    ...init,
    headers: { ...(init.headers as Record<string, string>), 'cf-access-jwt-assertion': jwt },
  });

  it('signs in the user of a valid Access JWT, on the page, /api and the registry', async () => {
    const jwt = await accessJwt();
    expect((await call('/auth/session', withJwt(jwt))).status).toBe(200);
    // the worker fetched the team's keys, once for this isolate (jose caches them)
    const fetched = await jwksFetches();
    expect(fetched).toBeGreaterThan(0);
    for (const path of API_ROUTES)
      expect([200, 404], path).toContain((await call(path, withJwt(jwt))).status);
    expect((await call('/', withJwt(jwt))).status).toBe(200);
    const me = (await (await call('/auth/session', withJwt(jwt))).json()) as SessionResponse;
    expect(me).toMatchObject({ user: 'ada@example.com', via: 'access' });
    const activate = await call(
      '/admin/models/dash/activate',
      withJwt(jwt, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken },
        body: '{"version":"v2"}',
      }),
    );
    expect(await activate.json()).toMatchObject({ active: 'v2', previous: 'v1' });
    await errorOf(
      await call('/admin/models/dash/rollback', withJwt(jwt, { method: 'POST' })),
      403,
      'forbidden',
    );
    const back = await call(
      '/admin/models/dash/rollback',
      withJwt(jwt, { method: 'POST', headers: { 'x-csrf-token': me.csrfToken } }),
    );
    expect(await back.json()).toMatchObject({ active: 'v1' });
    expect(await jwksFetches()).toBe(fetched);
  });

  it('refuses a wrong audience, a wrong issuer, an expired token, a bad signature and other algorithms', async () => {
    const stranger = await generateKeyPair('RS256');
    const hmac = new TextEncoder().encode('a-secret-that-is-not-the-team-key-0123456789');
    const cases: [string, string, string][] = [
      ['wrong audience', await accessJwt({ aud: 'another-app' }), '"aud" claim'],
      ['wrong issuer', await accessJwt({ iss: 'https://evil.cloudflareaccess.com' }), '"iss" claim'],
      ['expired', await accessJwt({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), 'expired'],
      ['signed by another key', await accessJwt({}, { key: stranger.privateKey }), 'signature'],
      ['HS256', await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(hmac), 'RS256'],
      ['garbage', 'not.a.jwt', 'not a valid JWT'],
    ];
    for (const [what, jwt, reason] of cases) {
      for (const path of ['/api/runs', '/auth/session']) {
        const error = await errorOf(await call(path, withJwt(jwt)), 401, 'unauthorized');
        expect(error.message, what).toContain(reason);
      }
      expect((await call('/', withJwt(jwt, { redirect: 'manual' }))).status, what).toBe(302);
    }
    // the stranger's public key must not be what the team serves
    expect((await exportJWK(stranger.publicKey)).n).not.toBe(access.privateJwk.n);
  });

  it('is off without ACCESS_TEAM_DOMAIN and ACCESS_AUD (the header is no session), and refuses half of it', async () => {
    const jwt = await accessJwt();
    const send = async (vars: Partial<Env>) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${ORIGIN}/api/runs`, { headers: { 'cf-access-jwt-assertion': jwt } }),
        { ...env, ...vars },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    await errorOf(await send({ ACCESS_TEAM_DOMAIN: '', ACCESS_AUD: '' }), 401, 'unauthorized');
    const half = await errorOf(await send({ ACCESS_AUD: '' }), 503, 'unavailable');
    expect(half.message).toContain('ACCESS_AUD');
  });
});
