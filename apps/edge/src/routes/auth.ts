import { ApiError, type SessionResponse } from '@edgehead/contracts';
import { apiApp, edgeRoutes } from '@edgehead/contracts/api';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { adminTokenOf, requireSameSite, type SessionCaller, sessionOf } from '../auth.ts';
import { signInRateLimit } from '../rate-limit.ts';
import { csrfToken, issueSession, revokeSession, SESSION_COOKIE, SESSION_TTL_S } from '../session.ts';
import { SIGN_IN_TOKEN, spendSignInLink } from '../sign-in-links.ts';
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

/** What a spent link answers: the dashboard, opened from this page. */
const SIGNED_IN_PAGE = `<!doctype html>
<meta charset="utf-8"><meta http-equiv="refresh" content="0; url=/"><title>edgehead: signed in</title>
<p>Signed in. <a href="/">Open the dashboard</a>.</p>
`;

/**
 * The page a sign-in link opens. Its button spends the link: a link preview or a scanner that fetches the
 * URL does not. The form posts from this origin, so the cookie its answer sets is sent when that answer opens
 * the dashboard (a SameSite=Strict cookie set on a navigation that began on another site, a link in a mail
 * or a chat, would not be).
 */
const linkPage = (token: string) => `<!doctype html>
<meta charset="utf-8"><title>edgehead: sign in</title>
<form method="post" action="/auth/link">
<input type="hidden" name="token" value="${token}">
<p>This one-time link signs you in to the edgehead dashboard.</p>
<button type="submit" autofocus>Sign in</button>
</form>
`;

/**
 * `/auth/*`: the dashboard's sign-in. `POST /auth/login` `{ token }` with the admin token,
 * `GET /auth/link?token=` a one-time link's page, whose form `POST /auth/link` spends it (links from
 * `POST /admin/sign-in-links`), `GET /auth/session`,
 * `POST /auth/logout`. Where Cloudflare Access is set up, its JWT is a session without any of these.
 */
export const authRoutes = apiApp<AppEnv>()
  .openapi({ ...edgeRoutes.signIn, middleware: [signInRateLimit()] }, async (c) => {
    requireOwnOrigin(c);
    if (!(await timingSafeEqualString(c.req.valid('json').token, adminTokenOf(c.env))))
      throw new ApiError(403, 'forbidden', 'the admin token is wrong', { field: 'token' });
    return c.json(await signIn(c, 'token'), 200);
  })
  .openapi(edgeRoutes.signInLinkPage, async (c) => {
    c.header('cache-control', 'no-store');
    // the URL holds the token: no other site gets it as a referrer. (Not no-referrer: under it the form's
    // POST would send `Origin: null`, which the own-origin check refuses.)
    c.header('referrer-policy', 'same-origin');
    c.header('x-frame-options', 'DENY');
    c.header('content-security-policy', "frame-ancestors 'none'; form-action 'self'");
    const token = c.req.valid('query').token ?? '';
    // only a well-formed token goes into the page (it is hex: nothing to escape)
    if (!SIGN_IN_TOKEN.test(token)) return c.redirect('/signin?error=link', 303);
    return c.html(linkPage(token));
  })
  .openapi({ ...edgeRoutes.signInLink, middleware: [signInRateLimit()] }, async (c) => {
    c.header('cache-control', 'no-store');
    requireOwnOrigin(c);
    if (!(await spendSignInLink(c.env.SIGN_IN_LINKS, c.req.valid('form').token ?? '')))
      return c.redirect('/signin?error=link', 303);
    await signIn(c, 'link');
    return c.html(SIGNED_IN_PAGE, 200);
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
    // an Access session ends at Access; a cookie session here, also for copies of the cookie
    if (session.via !== 'access')
      await revokeSession(c.env.REGISTRY, { id: session.sessionId, expiresAt: session.expiresAt });
    deleteCookie(c, SESSION_COOKIE, { prefix: 'host', path: '/', secure: true });
    return c.json({ signedOut: true as const, via: session.via }, 200);
  });
