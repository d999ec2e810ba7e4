import { ApiError, CSRF_HEADER, type SessionVia } from '@edgehead/contracts';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { ACCESS_JWT_HEADER, accessConfig, verifyAccessJwt } from './access.ts';
import { findApiKey } from './keys.ts';
import { countWrongAdminToken, refuseLockedOut } from './rate-limit.ts';
import { checkCsrfToken, isRevoked, readSession, SESSION_COOKIE } from './session.ts';
import { timingSafeEqualString } from './timing-safe.ts';
import type { AppEnv } from './types.ts';

/** A signed-in dashboard user: through Cloudflare Access, or the edge's own session cookie. */
export interface SessionCaller {
  kind: 'session';
  user: string;
  via: SessionVia;
  /** What the CSRF token is bound to: the cookie's random id, or the Access subject. */
  sessionId: string;
  expiresAt: Date;
}

/** Who made a request: the admin token itself, or a dashboard session. */
export type Caller = { kind: 'admin' } | SessionCaller;

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1]?.trim() || null;
}

/** The ADMIN_TOKEN secret; 503 when it is not set (admin routes and dashboard sessions are keyed by it). */
export function adminTokenOf(env: Env): string {
  if (!env.ADMIN_TOKEN)
    throw new ApiError(
      503,
      'unavailable',
      'admin routes and the dashboard are disabled: the ADMIN_TOKEN secret is not set',
    );
  return env.ADMIN_TOKEN;
}

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`: null without a bearer token, 403 when it is wrong. Wrong tokens count
 * with the address' sign-in attempts (429 past the limit, then a lockout), so no route that takes the token
 * is a way around the sign-in rate limit.
 */
async function bearerCaller(c: Context<AppEnv>): Promise<Caller | null> {
  const token = bearer(c.req.header('authorization'));
  if (!token) return null;
  await refuseLockedOut(c);
  if (!(await timingSafeEqualString(token, adminTokenOf(c.env)))) {
    await countWrongAdminToken(c);
    throw new ApiError(403, 'forbidden', 'the admin token is wrong');
  }
  return { kind: 'admin' };
}

/**
 * The dashboard session of a request: a Cloudflare Access JWT (where Access is configured) or the session
 * cookie. Without a valid one, the reason in words (for the 401 or the sign-in page); 503 when Access is
 * misconfigured or its keys cannot be read.
 */
export async function sessionOf(c: Context<AppEnv>): Promise<SessionCaller | string> {
  const adminToken = adminTokenOf(c.env);
  const access = accessConfig(c.env);
  const assertion = c.req.header(ACCESS_JWT_HEADER);
  if (access && assertion) {
    try {
      const user = await verifyAccessJwt(assertion, access);
      return {
        kind: 'session',
        user: user.name,
        via: 'access',
        sessionId: `access:${user.subject}`,
        expiresAt: user.expiresAt,
      };
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return err.message;
      throw err;
    }
  }
  const cookie = getCookie(c, SESSION_COOKIE, 'host');
  if (!cookie) return `not signed in: sign in at /signin${access ? ' or through Cloudflare Access' : ''}`;
  const session = await readSession(adminToken, cookie);
  if (session === 'expired') return 'the dashboard session has expired: sign in again';
  if (session === 'invalid') return 'the dashboard session cookie is not valid: sign in again';
  if (await isRevoked(c.env.REGISTRY, session.id))
    return 'the dashboard session was signed out: sign in again';
  return {
    kind: 'session',
    user: 'admin',
    via: session.via,
    sessionId: session.id,
    expiresAt: session.expiresAt,
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A change made through a dashboard session must come from the dashboard's own page: no other `Origin`,
 * not `Sec-Fetch-Site: cross-site`, and the session's CSRF token in `x-csrf-token` (403 otherwise).
 */
export async function requireSameSite(c: Context<AppEnv>, session: SessionCaller): Promise<void> {
  const origin = c.req.header('origin');
  if ((origin && origin !== new URL(c.req.url).origin) || c.req.header('sec-fetch-site') === 'cross-site')
    throw new ApiError(403, 'forbidden', `cross-site request refused (origin ${origin ?? 'not sent'})`, {
      field: 'origin',
    });
  if (!(await checkCsrfToken(adminTokenOf(c.env), session.sessionId, c.req.header(CSRF_HEADER))))
    throw new ApiError(
      403,
      'forbidden',
      `missing or wrong ${CSRF_HEADER} header: send the csrfToken of GET /auth/session`,
      { field: CSRF_HEADER },
    );
}

/**
 * Who may call: the admin token (`Authorization: Bearer`, 403 when wrong) or a dashboard session, whose
 * changes must also pass `requireSameSite`; 401 with neither. Sets `caller`.
 */
export function callerAuth(options: { what: string }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const admin = await bearerCaller(c);
    if (admin) {
      c.set('caller', admin);
      return next();
    }
    const session = await sessionOf(c);
    if (typeof session === 'string')
      throw new ApiError(
        401,
        'unauthorized',
        `${options.what}: send Authorization: Bearer <admin token>, or sign in to the dashboard (${session})`,
      );
    if (!SAFE_METHODS.has(c.req.method)) await requireSameSite(c, session);
    c.set('caller', session);
    await next();
  };
}

/** Routes a dashboard session may not use (publish, API keys, sign-in links): 403 for a session. */
export function adminOnly(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get('caller').kind !== 'admin')
      throw new ApiError(
        403,
        'forbidden',
        'this route needs the admin token (Authorization: Bearer); a dashboard session may list, activate and roll back',
      );
    await next();
  };
}

/** Classify routes: an API key in `Authorization: Bearer` or `x-api-key`; 401 without one, 403 when unknown. */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = bearer(c.req.header('authorization')) ?? c.req.header('x-api-key')?.trim();
    if (!key)
      throw new ApiError(
        401,
        'unauthorized',
        'missing API key: send Authorization: Bearer <key> or x-api-key',
      );
    const record = await findApiKey(c.env.REGISTRY, key);
    if (!record) throw new ApiError(403, 'forbidden', 'the API key is not valid (unknown or deleted)');
    c.set('apiKeyId', record.id);
    await next();
  };
}
