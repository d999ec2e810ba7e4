import { ApiError } from '@edgehead/contracts';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './types.ts';

/** Seconds of one rate-limit window: the Workers binding accepts only these. */
const PERIODS = [10, 60] as const;

/** Parses `RATE_LIMIT_PERIOD_S` (must equal the KEY_LIMITER binding's `simple.period`); 60 when unset or bad. */
export function ratePeriod(value: string | undefined): number {
  const n = Number(value);
  return (PERIODS as readonly number[]).includes(n) ? n : 60;
}

/**
 * Counts one request against the Workers Rate Limiting binding `KEY_LIMITER` (configured in wrangler.jsonc:
 * `simple.limit` requests per `simple.period` seconds; emulated in memory by miniflare) under `key`. Over the
 * limit: 429 `rate_limited` naming `who`, with `Retry-After` = the window length (the binding does not say
 * where its window ends, and a full window is always enough). A failing limiter lets the request through:
 * availability first.
 */
export async function countRequest(c: Context<AppEnv>, key: string, who: string): Promise<void> {
  let allowed = true;
  try {
    allowed = (await c.env.KEY_LIMITER.limit({ key })).success;
  } catch (err) {
    console.warn('rate limiter unavailable, request let through:', (err as Error).message);
  }
  if (!allowed) {
    const period = ratePeriod(c.env.RATE_LIMIT_PERIOD_S);
    throw new ApiError(
      429,
      'rate_limited',
      `${who} is over its request limit; retry after ${period} s`,
      { retryAfterSeconds: period },
      { headers: { 'retry-after': String(period) } },
    );
  }
}

/** Per API key: runs after `apiKeyAuth`, so it counts by key id, never by the secret itself. */
export const keyRateLimit = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await countRequest(c, `key:${c.get('apiKeyId')}`, `API key ${c.get('apiKeyId')}`);
  await next();
};

const attempts = (c: Context<AppEnv>) => `signin:${c.req.header('cf-connecting-ip') ?? 'unknown'}`;
const lockout = (c: Context<AppEnv>) => `lockout:${c.req.header('cf-connecting-ip') ?? 'unknown'}`;
const GUESSING = 'admin token use from this address';

/** Sign-in attempts per client address (`CF-Connecting-IP`); an address locked out (below) is refused too. */
export const signInRateLimit = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await refuseLockedOut(c);
  await countRequest(c, attempts(c), GUESSING);
  await next();
};

/** 429 while the address is locked out for wrong admin tokens; checked before a bearer token is compared. */
export async function refuseLockedOut(c: Context<AppEnv>): Promise<void> {
  if ((await c.env.REGISTRY.get(lockout(c))) === null) return;
  const period = ratePeriod(c.env.RATE_LIMIT_PERIOD_S);
  throw new ApiError(
    429,
    'rate_limited',
    `${GUESSING} is locked out after too many wrong admin tokens; retry after ${period} s`,
    { retryAfterSeconds: period },
    { headers: { 'retry-after': String(period) } },
  );
}

/**
 * Counts a wrong bearer admin token with the address' sign-in attempts. Past the limit the address is locked
 * out for a window (a KV record), so that from then on even the right token is refused: a guess that hits
 * after the limit learns nothing. Right tokens are never counted, so scripts that use the token are not
 * limited.
 */
export async function countWrongAdminToken(c: Context<AppEnv>): Promise<void> {
  try {
    await countRequest(c, attempts(c), GUESSING);
  } catch (err) {
    const period = ratePeriod(c.env.RATE_LIMIT_PERIOD_S);
    await c.env.REGISTRY.put(lockout(c), '1', { expirationTtl: Math.max(60, period) });
    throw err;
  }
}
