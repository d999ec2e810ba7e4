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
 * A rate limit through the Workers Rate Limiting binding `KEY_LIMITER` (configured in wrangler.jsonc:
 * `simple.limit` requests per `simple.period` seconds; emulated in memory by miniflare), counted by
 * `keyOf(c)`. Over the limit: 429 `rate_limited` naming `who(c)`, with `Retry-After` = the window length (the
 * binding does not say where its window ends, and a full window is always enough). A failing limiter lets
 * the request through: availability first.
 */
function rateLimit(
  keyOf: (c: Context<AppEnv>) => string,
  who: (c: Context<AppEnv>) => string,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let allowed = true;
    try {
      allowed = (await c.env.KEY_LIMITER.limit({ key: keyOf(c) })).success;
    } catch (err) {
      console.warn('rate limiter unavailable, request let through:', (err as Error).message);
    }
    if (!allowed) {
      const period = ratePeriod(c.env.RATE_LIMIT_PERIOD_S);
      throw new ApiError(
        429,
        'rate_limited',
        `${who(c)} is over its request limit; retry after ${period} s`,
        { retryAfterSeconds: period },
        { headers: { 'retry-after': String(period) } },
      );
    }
    await next();
  };
}

/** Per API key: runs after `apiKeyAuth`, so it counts by key id, never by the secret itself. */
export const keyRateLimit = () =>
  rateLimit(
    (c) => `key:${c.get('apiKeyId')}`,
    (c) => `API key ${c.get('apiKeyId')}`,
  );

/** Sign-in attempts per client address (`CF-Connecting-IP`), against guessing the admin token. */
export const signInRateLimit = () =>
  rateLimit(
    (c) => `signin:${c.req.header('cf-connecting-ip') ?? 'unknown'}`,
    () => 'signing in from this address',
  );
