import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';
import { findApiKey } from './keys.ts';
import type { AppEnv } from './types.ts';

const encoder = new TextEncoder();

async function digest(value: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', encoder.encode(value));
}

/** Constant-time string equality: compares sha256 digests so lengths never leak. */
export async function timingSafeEqualString(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([digest(a), digest(b)]);
  return crypto.subtle.timingSafeEqual(da, db);
}

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1]?.trim() || null;
}

/** Admin routes: `Authorization: Bearer <ADMIN_TOKEN>`; 401 without it, 403 when it differs. */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    if (!token)
      throw new ApiError(401, 'unauthorized', 'admin route: missing Authorization: Bearer <admin token>');
    const expected = c.env.ADMIN_TOKEN;
    if (!expected)
      throw new ApiError(503, 'unavailable', 'admin routes are disabled: the ADMIN_TOKEN secret is not set');
    if (!(await timingSafeEqualString(token, expected)))
      throw new ApiError(403, 'forbidden', 'admin route: the admin token is wrong');
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
