import type { SessionVia } from '@edgehead/contracts';
import { toHex } from '@edgehead/head';
import { errors, jwtVerify, SignJWT } from 'jose';
import { timingSafeEqualString } from './timing-safe.ts';

/**
 * The dashboard's own sign-in (beside Cloudflare Access, or without it): a JWT (HS256) in a cookie. Its key is
 * derived from the ADMIN_TOKEN secret with HKDF, so rotating the admin token signs every session out, and
 * no other secret has to be set. A session ends when it expires, when the token rotates, or when it signs
 * out (its id is then kept in KV as revoked until it would have expired).
 */

/** The cookie's name; Hono's `prefix: 'host'` makes it `__Host-edgehead_session` (Secure, Path=/, no Domain). */
export const SESSION_COOKIE = 'edgehead_session';
/** How long a sign-in lasts. */
export const SESSION_TTL_S = 12 * 60 * 60;

/** A valid session cookie's content. */
export interface CookieSession {
  /** Random per sign-in: the CSRF token is bound to it. */
  id: string;
  via: Extract<SessionVia, 'token' | 'link'>;
  expiresAt: Date;
}

const encoder = new TextEncoder();
const ISSUER = 'edgehead-edge';

/** 32 bytes for `purpose`, derived from the admin token (HKDF-SHA256). */
async function derivedKey(adminToken: string, purpose: 'session' | 'csrf'): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(adminToken), 'HKDF', false, [
    'deriveBits',
  ]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: encoder.encode('edgehead dashboard'),
      info: encoder.encode(purpose),
    },
    base,
    256,
  );
  return new Uint8Array(bits);
}

/** Signs a new session; returns the cookie value and what it holds. */
export async function issueSession(
  adminToken: string,
  via: CookieSession['via'],
): Promise<{ value: string; session: CookieSession }> {
  const id = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const now = Math.floor(Date.now() / 1000);
  const value = await new SignJWT({ via })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setSubject('admin')
    .setJti(id)
    .setIssuedAt(now)
    .setExpirationTime(now + SESSION_TTL_S)
    .sign(await derivedKey(adminToken, 'session'));
  return { value, session: { id, via, expiresAt: new Date((now + SESSION_TTL_S) * 1000) } };
}

/** The session in a cookie value: `expired`, or `invalid` for anything tampered with or not ours. */
export async function readSession(
  adminToken: string,
  value: string,
): Promise<CookieSession | 'expired' | 'invalid'> {
  try {
    const { payload } = await jwtVerify(value, await derivedKey(adminToken, 'session'), {
      issuer: ISSUER,
      subject: 'admin',
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'jti'],
    });
    const via = payload.via === 'link' ? 'link' : 'token';
    return { id: payload.jti as string, via, expiresAt: new Date((payload.exp as number) * 1000) };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return 'expired';
    if (err instanceof errors.JOSEError) return 'invalid';
    throw err;
  }
}

/** The CSRF token of a session (an HMAC of its id): the page reads it from `GET /auth/session`. */
export async function csrfToken(adminToken: string, sessionId: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    await derivedKey(adminToken, 'csrf'),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return toHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(sessionId))));
}

/** Whether `presented` is the session's CSRF token (constant time). */
export async function checkCsrfToken(
  adminToken: string,
  sessionId: string,
  presented: string | undefined,
): Promise<boolean> {
  if (!presented) return false;
  return timingSafeEqualString(presented, await csrfToken(adminToken, sessionId));
}

const revokedKey = (sessionId: string) => `revoked:${sessionId}`;

/** Ends a cookie session for good: a copy of the cookie is refused from now on (KV: within a location at once, elsewhere within about a minute). */
export async function revokeSession(
  kv: KVNamespace,
  session: { id: string; expiresAt: Date },
): Promise<void> {
  const left = Math.ceil((session.expiresAt.getTime() - Date.now()) / 1000);
  if (left <= 0) return;
  // KV's smallest TTL is 60 s; a record kept past the session's end refuses nothing more
  await kv.put(revokedKey(session.id), '1', { expirationTtl: Math.max(60, left) });
}

/** Whether the session signed out. */
export async function isRevoked(kv: KVNamespace, sessionId: string): Promise<boolean> {
  return (await kv.get(revokedKey(sessionId))) !== null;
}
