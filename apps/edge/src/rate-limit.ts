import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';
import type { AppEnv } from './types.ts';

/** Seconds of one rate-limit window: the Workers binding accepts only these. */
const PERIODS = [10, 60] as const;

/** Parses `RATE_LIMIT_PERIOD_S` (must equal the KEY_LIMITER binding's `simple.period`); 60 when unset or bad. */
export function ratePeriod(value: string | undefined): number {
  const n = Number(value);
  return (PERIODS as readonly number[]).includes(n) ? n : 60;
}

/**
 * Per-API-key rate limit through the Workers Rate Limiting binding `KEY_LIMITER` (configured in
 * wrangler.jsonc: `simple.limit` requests per `simple.period` seconds; emulated in memory by miniflare).
 * Runs after `apiKeyAuth`, so it counts by key id, never by the secret itself. Over the limit: 429
 * `rate_limited` with `Retry-After` = the window length (the binding does not say where its window ends,
 * and a full window is always enough). A failing limiter lets the request through: availability first.
 */
export function keyRateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = c.get('apiKeyId');
    let allowed = true;
    try {
      allowed = (await c.env.KEY_LIMITER.limit({ key: `key:${id}` })).success;
    } catch (err) {
      console.warn('rate limiter unavailable, request let through:', (err as Error).message);
    }
    if (!allowed) {
      const period = ratePeriod(c.env.RATE_LIMIT_PERIOD_S);
      throw new ApiError(
        429,
        'rate_limited',
        `API key ${id} is over its request limit; retry after ${period} s`,
        { retryAfterSeconds: period },
        { headers: { 'retry-after': String(period) } },
      );
    }
    await next();
  };
}
