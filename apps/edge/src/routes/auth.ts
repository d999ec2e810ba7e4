import { ApiError, type SessionResponse } from '@edgehead/contracts';
import { apiApp, edgeRoutes } from '@edgehead/contracts/api';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { adminTokenOf, requireSameSite, type SessionCaller, sessionOf } from '../auth.ts';
import { signInRateLimit } from '../rate-limit.ts';
import { csrfToken, issueSession, SESSION_COOKIE, SESSION_TTL_S } from '../session.ts';
import { consumeSignInLink } from '../sign-in-links.ts';
import { timingSafeEqualString } from '../timing-safe.ts';
import type { AppEnv } from '../types.ts';

/** What `GET /auth/session` tells the page about a session. */
async function describe(env: Env, session: SessionCaller): Promise<SessionResponse> {
  return {
    user: session.user,
    via: session.via,
    csrfToken: await csrfToken(adminTokenOf(env), session.sessionId),
    expiresAt: session.expiresAt.toISOString(),
  };
}

/**
 * Opens a cookie session: HttpOnly, Secure, SameSite=Strict, `__Host-` (Path=/, no Domain), expiring with its
 * JWT. Browsers keep Secure cookies on https and on http://localhost / http://127.0.0.1 (loopback is a
 * secure context), which is what `wrangler dev` serves.
 */
async function signIn(c: Context<AppEnv>, via: 'token' | 'link'): Promise<SessionResponse> {
  const { value, session } = await issueSession(adminTokenOf(c.env), via);
  setCookie(c, SESSION_COOKIE, value, {
    prefix: 'host',
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    path: '/',
    maxAge: SESSION_TTL_S,
  });
  return describe(c.env, {
    kind: 'session',
    user: 'admin',
    via,
    sessionId: session.id,
    expiresAt: session.expiresAt,
  });
}

/** A cross-origin sign-in (login CSRF: someone else's session in your browser) is refused. */
function requireOwnOrigin(c: Context<AppEnv>) {
  const origin = c.req.header('origin');
  if (origin && origin !== new URL(c.req.url).origin)
    throw new ApiError(403, 'forbidden', `cross-site sign-in refused (origin ${origin})`, {
      field: 'origin',
    });
}

// A page, not a redirect: a SameSite=Strict cookie set on a navigation that began on another site (a link
// in a mail or a chat) is not sent on that navigation's redirects, but is on a navigation this page starts.
const SIGNED_IN_PAGE = `<!doctype html>
<meta charset="utf-8"><meta http-equiv="refresh" content="0; url=/"><title>edgehead: signed in</title>
<p>Signed in. <a href="/">Open the dashboard</a>.</p>
`;

/**
 * `/auth/*`: the dashboard's sign-in. `POST /auth/login` `{ token }` with the admin token,
 * `GET /auth/link?token=` with a one-time link (`POST /admin/sign-in-links`), `GET /auth/session`,
 * `POST /auth/logout`. Where Cloudflare Access is set up, its JWT is a session without any of these.
 */
export const authRoutes = apiApp<AppEnv>()
  .openapi({ ...edgeRoutes.signIn, middleware: [signInRateLimit()] }, async (c) => {
    requireOwnOrigin(c);
    if (!(await timingSafeEqualString(c.req.valid('json').token, adminTokenOf(c.env))))
      throw new ApiError(403, 'forbidden', 'the admin token is wrong', { field: 'token' });
    return c.json(await signIn(c, 'token'), 200);
  })
  .openapi({ ...edgeRoutes.signInLink, middleware: [signInRateLimit()] }, async (c) => {
    c.header('cache-control', 'no-store');
    c.header('referrer-policy', 'no-referrer');
    if (!(await consumeSignInLink(c.env.REGISTRY, c.req.valid('query').token ?? '')))
      return c.redirect('/signin?error=link', 303);
    await signIn(c, 'link');
    return c.html(SIGNED_IN_PAGE);
  })
  .openapi(edgeRoutes.session, async (c) => {
    c.header('cache-control', 'no-store');
    const session = await sessionOf(c);
    if (typeof session === 'string') throw new ApiError(401, 'unauthorized', session);
    return c.json(await describe(c.env, session), 200);
  })
  .openapi(edgeRoutes.signOut, async (c) => {
    const session = await sessionOf(c);
    if (typeof session === 'string') throw new ApiError(401, 'unauthorized', session);
    await requireSameSite(c, session);
    deleteCookie(c, SESSION_COOKIE, { prefix: 'host', path: '/', secure: true });
    return c.json({ signedOut: true as const, via: session.via }, 200);
  });
