import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from '@edgehead/contracts';
import type { MiddlewareHandler } from 'hono';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Options of `requireToken`. */
export interface RequireTokenOptions {
  /** The expected bearer token; undefined refuses every request (503) rather than letting it through. */
  token: string | undefined;
  /** Let GET and HEAD through without a token. */
  openReads?: boolean;
}

/**
 * `Authorization: Bearer <token>` check, compared in constant time (hashes of equal length):
 * 401 when missing or malformed, 403 when wrong.
 */
export function requireToken(options: RequireTokenOptions): MiddlewareHandler {
  const expected = options.token === undefined ? undefined : digest(options.token);
  const openReads = options.openReads ?? false;
  return async (c, next) => {
    if (openReads && (c.req.method === 'GET' || c.req.method === 'HEAD')) return next();
    if (expected === undefined) {
      throw new ApiError(503, 'unavailable', 'EDGEHEAD_GPU_TOKEN is not configured; write routes are off');
    }
    const header = c.req.header('authorization');
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m?.[1]) {
      throw new ApiError(401, 'unauthorized', 'missing bearer token: send Authorization: Bearer <token>');
    }
    if (!timingSafeEqual(digest(m[1]), expected)) {
      throw new ApiError(403, 'forbidden', 'the bearer token is not valid for this service');
    }
    return next();
  };
}
